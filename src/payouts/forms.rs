//! The payout rules as an admin types them: the smallest balance worth paying and the day of the month batches run
//! on their own. `PayoutSchedule::read` checks both and reports every problem at once.

use serde::Deserialize;

use crate::domain::money::{Currency, Money};
use crate::platform::http::FieldErrors;

#[derive(Deserialize, Default, Clone)]
pub struct SettingsForm {
    #[serde(default)]
    pub minimum: String,
    #[serde(default)]
    pub day: String,
}

/// Checked payout rules: the minimum in the program currency's minor units, and the day (1-28), or none for
/// batches started by hand only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayoutSchedule {
    pub minimum_minor: i64,
    pub day: Option<i64>,
}

impl TryFrom<(&SettingsForm, Currency)> for PayoutSchedule {
    type Error = FieldErrors;

    /// The minimum is read in the program's currency.
    fn try_from((form, currency): (&SettingsForm, Currency)) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let minimum = match Money::parse(&form.minimum, currency) {
            Ok(m) if m.minor >= 0 => m.minor,
            Ok(_) => {
                errors.add("minimum", "The minimum cannot be negative.");
                0
            }
            Err(refusal) => {
                errors.add("minimum", refusal);
                0
            }
        };
        let day = (!form.day.trim().is_empty()).then(|| {
            errors.number_in(
                "day",
                &form.day,
                1..=28,
                "The payout day is 1 to 28 (every month has it), or empty for by hand only.",
            )
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            minimum_minor: minimum,
            day,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn an_empty_day_means_by_hand_only() {
        let form = SettingsForm {
            minimum: "50.00".into(),
            day: " ".into(),
        };
        assert_eq!(
            PayoutSchedule::try_from((&form, usd())).unwrap(),
            PayoutSchedule {
                minimum_minor: 5_000,
                day: None
            }
        );
    }

    #[test]
    fn both_fields_are_explained_at_once() {
        let form = SettingsForm {
            minimum: "-1".into(),
            day: "31".into(),
        };
        let errors = PayoutSchedule::try_from((&form, usd())).unwrap_err();
        assert!(errors.get("minimum").is_some());
        assert!(errors.get("day").is_some());
    }
}
