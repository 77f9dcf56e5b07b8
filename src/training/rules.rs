//! Certification tracks: quizzes and their scoring, retake cool-downs, who a course is for, and how long a
//! certification is valid.

use chrono::{Duration, Months, NaiveDateTime};

use crate::domain::partner::PartnerKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub prompt: String,
    pub options: Vec<String>,
    /// 0-based indexes of the right options; more than one makes it a multiple-choice question.
    pub correct: Vec<usize>,
}

impl Question {
    /// Reads an author's question: options one per line, the right ones as 1-based numbers ("2" or "1, 3").
    pub fn parse(
        prompt: &str,
        options: &str,
        correct: &str,
    ) -> Result<Question, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let prompt = prompt.trim().to_string();
        if prompt.is_empty() {
            errors.push(("prompt", "Write the question.".to_string()));
        }
        let options: Vec<String> = options
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if options.len() < 2 {
            errors.push(("options", "Give at least two options, one per line.".into()));
        }
        let mut right = Vec::new();
        for part in correct.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse::<usize>() {
                Ok(n) if n >= 1 && n <= options.len() => {
                    if !right.contains(&(n - 1)) {
                        right.push(n - 1)
                    }
                }
                _ => errors.push((
                    "correct",
                    format!(
                        "'{part}' is not the number of an option (1 to {}).",
                        options.len().max(1)
                    ),
                )),
            }
        }
        if right.is_empty() && errors.iter().all(|(f, _)| *f != "correct") {
            errors.push((
                "correct",
                "Say which options are right, e.g. 2 or 1, 3.".into(),
            ));
        }
        right.sort_unstable();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Question {
            prompt,
            options,
            correct: right,
        })
    }

    pub fn is_multiple_choice(&self) -> bool {
        self.correct.len() > 1
    }
}

/// Percent of questions answered exactly right (all right options chosen and no wrong one), rounded down.
pub fn score(questions: &[Question], answers: &[Vec<usize>]) -> i64 {
    if questions.is_empty() {
        return 0;
    }
    let right = questions
        .iter()
        .enumerate()
        .filter(|(i, q)| {
            let mut given = answers.get(*i).cloned().unwrap_or_default();
            given.sort_unstable();
            given.dedup();
            given == q.correct
        })
        .count() as i64;
    right * 100 / questions.len() as i64
}

/// When a user may try a quiz again after failing it at `failed_at`.
pub fn retake_allowed_at(failed_at: NaiveDateTime, cooldown_hours: i64) -> NaiveDateTime {
    failed_at + Duration::hours(cooldown_hours)
}

pub fn expires_at(passed_at: NaiveDateTime, validity_months: i64) -> NaiveDateTime {
    passed_at
        .checked_add_months(Months::new(validity_months.clamp(1, 1200) as u32))
        .unwrap_or(passed_at)
}

/// Whether a course is meant for an org of this kind at this tier rank (0: no tier).
pub fn course_open_to(
    partner_kinds: &str,
    min_tier_rank: i64,
    kind: PartnerKind,
    tier_rank: i64,
) -> bool {
    let kinds_ok = partner_kinds.trim().is_empty()
        || partner_kinds.split(',').any(|k| k.trim() == kind.as_str());
    kinds_ok && tier_rank >= min_tier_rank
}

/// Whether an org may see an asset: its kind and tier, and (when the asset asks for one) a valid certification in
/// the course among the org's reps.
pub fn asset_open_to(
    partner_kinds: &str,
    min_tier_rank: i64,
    required_course: Option<i64>,
    kind: PartnerKind,
    tier_rank: i64,
    certified_courses: &[i64],
) -> bool {
    course_open_to(partner_kinds, min_tier_rank, kind, tier_rank)
        && required_course.is_none_or(|course| certified_courses.contains(&course))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn q(correct: &[usize]) -> Question {
        Question {
            prompt: "?".into(),
            options: vec!["a".into(), "b".into(), "c".into()],
            correct: correct.to_vec(),
        }
    }

    #[test]
    fn questions_are_read_from_the_author_form() {
        let question = Question::parse("Which are ours?", "Alpha\n\nBeta\nGamma", "3, 1").unwrap();
        assert_eq!(question.options.len(), 3);
        assert_eq!(question.correct, vec![0, 2]);
        assert!(question.is_multiple_choice());
        let fields: Vec<_> = Question::parse("", "only one", "5")
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, vec!["prompt", "options", "correct"]);
    }

    #[test]
    fn a_question_counts_only_when_exactly_right() {
        let questions = vec![q(&[1]), q(&[0, 2]), q(&[2])];
        assert_eq!(score(&questions, &[vec![1], vec![2, 0], vec![2]]), 100);
        assert_eq!(
            score(&questions, &[vec![1], vec![0], vec![2]]),
            66,
            "half of a multiple choice is wrong"
        );
        assert_eq!(score(&questions, &[vec![1], vec![0, 1, 2], vec![]]), 33);
        assert_eq!(score(&[], &[]), 0);
    }

    #[test]
    fn cooldowns_validity_and_audience() {
        let at = NaiveDate::from_ymd_opt(2026, 1, 31)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        assert_eq!(retake_allowed_at(at, 24), at + Duration::hours(24));
        assert_eq!(
            expires_at(at, 12).date(),
            NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()
        );
        assert_eq!(
            expires_at(at, 1).date(),
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
        assert!(course_open_to("", 0, PartnerKind::Affiliate, 0));
        assert!(course_open_to(
            "reseller,referral",
            2,
            PartnerKind::Reseller,
            3
        ));
        assert!(!course_open_to("reseller", 0, PartnerKind::Affiliate, 3));
        assert!(!course_open_to("", 2, PartnerKind::Reseller, 1));
        assert!(asset_open_to(
            "",
            0,
            Some(4),
            PartnerKind::Reseller,
            1,
            &[4]
        ));
        assert!(!asset_open_to(
            "",
            0,
            Some(4),
            PartnerKind::Reseller,
            1,
            &[3]
        ));
        assert!(!asset_open_to(
            "reseller",
            3,
            None,
            PartnerKind::Reseller,
            2,
            &[]
        ));
    }
}
