//! What a partner types into the MDF forms, and its check: a request for funds (`RequestForm`) and the claim after
//! the activity (`ClaimForm`). Each check reports every problem at once, by field, or gives the input the use
//! cases take.

use chrono::NaiveDate;
use serde::Deserialize;

use super::rules::{ActivityType, FundPosition};
use super::{ClaimInput, Fund, MdfRequest, RequestInput};
use crate::domain::money::{Currency, Money};
use crate::platform::http::FieldErrors;

#[derive(Deserialize, Default, Clone)]
pub struct RequestForm {
    #[serde(default)]
    pub fund_id: String,
    #[serde(default)]
    pub activity_type: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub starts_on: String,
    #[serde(default)]
    pub ends_on: String,
    #[serde(default)]
    pub requested: String,
    #[serde(default)]
    pub expected_leads: String,
    #[serde(default)]
    pub expected_pipeline: String,
}

impl RequestForm {
    pub fn of(request: &MdfRequest) -> Self {
        Self {
            fund_id: request.fund_id.to_string(),
            activity_type: request.activity_type.to_string(),
            title: request.title.clone(),
            description: request.description.clone(),
            starts_on: request.starts_on.to_string(),
            ends_on: request.ends_on.to_string(),
            requested: request.requested().amount_text(),
            expected_leads: request.expected_leads.to_string(),
            expected_pipeline: request.expected_pipeline().amount_text(),
        }
    }

    /// The request as typed, or every problem with it. Amounts are read in the chosen fund's currency.
    pub fn parse(&self, funds: &[(Fund, FundPosition)]) -> Result<RequestInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let fund = self
            .fund_id
            .parse::<i64>()
            .ok()
            .and_then(|id| funds.iter().find(|(f, _)| f.id == id));
        if fund.is_none() {
            errors.add("fund_id", "Choose one of the open funds.");
        }
        let activity = self.activity_type.parse::<ActivityType>().ok();
        if activity.is_none() {
            errors.add("activity_type", "Choose the kind of activity.");
        }
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            errors.add("title", "Give the activity a title (up to 200 characters).");
        }
        if self.description.trim().is_empty() {
            errors.add(
                "description",
                "Describe the activity: audience, channel, what you will do.",
            );
        }
        let date = |raw: &str| NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok();
        let (starts_on, ends_on) = (date(&self.starts_on), date(&self.ends_on));
        if starts_on.is_none() {
            errors.add("starts_on", "Give the planned first day (YYYY-MM-DD).");
        }
        if ends_on.is_none() {
            errors.add("ends_on", "Give the planned last day (YYYY-MM-DD).");
        }
        let expected_leads = lead_count(&self.expected_leads);
        if expected_leads.is_none() {
            errors.add(
                "expected_leads",
                "Expected leads is a whole number, 0 or more.",
            );
        }
        let mut amounts = None;
        if let Some((fund, _)) = fund {
            let currency = fund.currency();
            let requested = Money::parse(&self.requested, currency);
            let pipeline = if self.expected_pipeline.trim().is_empty() {
                Ok(Money::new(0, currency))
            } else {
                Money::parse(&self.expected_pipeline, currency)
            };
            match (&requested, &pipeline) {
                (Err(e), _) => errors.add("requested", e.clone()),
                (Ok(r), _) if r.minor <= 0 => {
                    errors.add("requested", "Enter the amount you request, more than zero.")
                }
                _ => {}
            }
            match &pipeline {
                Err(e) => errors.add("expected_pipeline", e.clone()),
                Ok(p) if p.minor < 0 => {
                    errors.add("expected_pipeline", "Expected pipeline cannot be negative.")
                }
                _ => {}
            }
            if let (Ok(r), Ok(p)) = (requested, pipeline) {
                amounts = Some((r, p));
            }
        }
        match (fund, activity, starts_on, ends_on, expected_leads, amounts) {
            (
                Some((fund, _)),
                Some(activity),
                Some(starts_on),
                Some(ends_on),
                Some(leads),
                Some((requested, pipeline)),
            ) if errors.is_empty() => Ok(RequestInput {
                fund_id: fund.id,
                activity,
                title: title.to_string(),
                description: self.description.trim().to_string(),
                starts_on,
                ends_on,
                requested,
                expected_leads: leads,
                expected_pipeline: pipeline,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Default)]
pub struct ClaimForm {
    pub actual_cost: String,
    pub claimed: String,
    pub leads_generated: String,
    pub results: String,
    pub deal_ids: Vec<i64>,
}

impl ClaimForm {
    /// The claim as typed, in the request's currency; every problem goes to `errors`, which may already hold the
    /// proof files' refusals, so the page shows them all at once.
    pub fn check(&self, currency: Currency, errors: &mut FieldErrors) -> Option<ClaimInput> {
        let actual_cost = Money::parse(&self.actual_cost, currency)
            .map_err(|e| errors.add("actual_cost", e))
            .ok();
        let claimed = Money::parse(&self.claimed, currency)
            .map_err(|e| errors.add("claimed", e))
            .ok();
        let leads = lead_count(&self.leads_generated);
        if leads.is_none() {
            errors.add(
                "leads_generated",
                "Leads generated is a whole number, 0 or more.",
            );
        }
        match (actual_cost, claimed, leads) {
            (Some(actual_cost), Some(claimed), Some(leads_generated)) if errors.is_empty() => {
                Some(ClaimInput {
                    actual_cost,
                    claimed,
                    leads_generated,
                    results: self.results.clone(),
                    deal_ids: self.deal_ids.clone(),
                })
            }
            _ => None,
        }
    }
}

/// A count of leads as typed: blank is 0, otherwise a whole number, 0 or more.
fn lead_count(typed: &str) -> Option<i64> {
    match typed.trim() {
        "" => Some(0),
        text => text.parse::<i64>().ok().filter(|n| *n >= 0),
    }
}

/// The program's MDF rules as an admin types them: the share of a claim's proven cost that is reimbursed, and how
/// many days after the activity a claim is due.
#[derive(Deserialize, Default, Clone)]
pub struct SettingsForm {
    #[serde(default)]
    pub reimbursement_percent: String,
    #[serde(default)]
    pub claim_days: String,
}

/// Checked MDF rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MdfSettings {
    pub reimbursement_bps: i64,
    pub claim_days: i64,
}

impl TryFrom<&SettingsForm> for MdfSettings {
    type Error = FieldErrors;

    fn try_from(form: &SettingsForm) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let bps = crate::domain::money::BasisPoints::parse_percent(&form.reimbursement_percent)
            .map(crate::domain::money::BasisPoints::value)
            .ok()
            .filter(|b| *b > 0);
        if bps.is_none() {
            errors.add(
                "reimbursement_percent",
                "The reimbursement rate is a percentage above 0 and up to 100, e.g. 50.",
            );
        }
        let claim_days = errors.number_in(
            "claim_days",
            &form.claim_days,
            1..=365,
            "Claims are due 1 to 365 days after the activity.",
        );
        match bps {
            Some(reimbursement_bps) if errors.is_empty() => Ok(Self {
                reimbursement_bps,
                claim_days,
            }),
            _ => Err(errors),
        }
    }
}
