//! The course form as an admin fills it in, and the course it describes once every field is checked
//! (`CourseInput::try_from(&form)` gives all the form's errors at once).

use serde::Deserialize;

use crate::domain::partner::Audience;
use crate::platform::http::FieldErrors;
use crate::training::store::NewCourse;

#[derive(Debug, Clone, Deserialize, Default)]
pub struct CourseForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub pass_mark_percent: String,
    #[serde(default)]
    pub validity_months: String,
    #[serde(default)]
    pub retake_cooldown_hours: String,
    #[serde(default)]
    pub partner_kinds: String,
    #[serde(default)]
    pub min_tier_rank: String,
}

/// A checked course definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseInput {
    pub title: String,
    pub summary: String,
    pub pass_mark_percent: i64,
    pub validity_months: i64,
    pub retake_cooldown_hours: i64,
    pub partner_kinds: String,
    pub min_tier_rank: i64,
}

impl TryFrom<&CourseForm> for CourseInput {
    type Error = FieldErrors;

    fn try_from(form: &CourseForm) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = form.title.trim().to_string();
        if title.is_empty() {
            errors.add("title", "Give the course a title.");
        }
        let pass_mark_percent = errors.number_in(
            "pass_mark_percent",
            &form.pass_mark_percent,
            1..=100,
            "The pass mark is a percentage from 1 to 100.",
        );
        let validity_months = errors.number_in(
            "validity_months",
            &form.validity_months,
            1..=120,
            "Validity is 1 to 120 months.",
        );
        let retake_cooldown_hours = errors.number_in(
            "retake_cooldown_hours",
            &form.retake_cooldown_hours,
            0..=8760,
            "The cool-down is 0 to 8760 hours.",
        );
        let audience = Audience::parse(&form.min_tier_rank, &form.partner_kinds)
            .map_err(|refusals| errors.extend(refusals))
            .ok();
        let Some(Audience {
            min_tier_rank,
            partner_kinds,
        }) = audience.filter(|_| errors.is_empty())
        else {
            return Err(errors);
        };
        Ok(Self {
            title,
            summary: form.summary.trim().to_string(),
            pass_mark_percent,
            validity_months,
            retake_cooldown_hours,
            partner_kinds,
            min_tier_rank,
        })
    }
}

impl CourseInput {
    pub fn as_new_course(&self) -> NewCourse<'_> {
        NewCourse {
            title: &self.title,
            summary: &self.summary,
            pass_mark_percent: self.pass_mark_percent,
            validity_months: self.validity_months,
            retake_cooldown_hours: self.retake_cooldown_hours,
            partner_kinds: &self.partner_kinds,
            min_tier_rank: self.min_tier_rank,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> CourseForm {
        CourseForm {
            title: " Selling Concord ".into(),
            summary: "The basics.".into(),
            pass_mark_percent: "80".into(),
            validity_months: "12".into(),
            retake_cooldown_hours: "24".into(),
            partner_kinds: "reseller, referral".into(),
            min_tier_rank: "0".into(),
        }
    }

    #[test]
    fn a_complete_form_is_a_course() {
        let input = CourseInput::try_from(&form()).unwrap();
        assert_eq!(input.title, "Selling Concord");
        assert_eq!(input.partner_kinds, "reseller,referral");
        assert_eq!(input.pass_mark_percent, 80);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let bad = CourseForm {
            title: " ".into(),
            pass_mark_percent: "0".into(),
            validity_months: "x".into(),
            retake_cooldown_hours: "9000".into(),
            partner_kinds: "vendor".into(),
            min_tier_rank: "-1".into(),
            ..form()
        };
        let errors = CourseInput::try_from(&bad).unwrap_err();
        for field in [
            "title",
            "pass_mark_percent",
            "validity_months",
            "retake_cooldown_hours",
            "partner_kinds",
            "min_tier_rank",
        ] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }
}
