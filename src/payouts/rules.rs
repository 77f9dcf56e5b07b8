//! Payouts: which org is paid, by which rail, or why not; and how a connected Stripe account's state reads to
//! people. A payout settles approved ledger entries (commissions, deal margins, MDF reimbursements, clawbacks
//! netted) of one org in one currency.

use crate::domain::money::{Currency, Money};
use crate::domain::partner::PartnerStatus;

pub use crate::domain::payout::PayoutStatus;

crate::text_enum!(RunStatus {
    Running => "running" / "Running",
    Finished => "finished" / "Finished",
    Cancelled => "cancelled" / "Cancelled",
});

impl RunStatus {
    pub fn css_class(self) -> &'static str {
        match self {
            RunStatus::Running => "pending",
            RunStatus::Finished => "approved",
            RunStatus::Cancelled => "rejected",
        }
    }
}

impl PayoutStatus {
    pub fn css_class(self) -> &'static str {
        match self {
            PayoutStatus::Pending => "pending",
            PayoutStatus::Paid => "approved",
            PayoutStatus::Failed | PayoutStatus::Reversed | PayoutStatus::Cancelled => "rejected",
        }
    }
}

crate::text_enum!(Rail {
    Stripe => "stripe" / "Stripe",
    Manual => "manual" / "Manual (bank transfer or PayPal)",
});

/// A connected account as Concord last heard of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatus {
    pub payouts_enabled: bool,
    pub requirements: Vec<String>,
}

impl AccountStatus {
    /// One plain sentence for the partner and the admin.
    pub fn describe(&self) -> String {
        if self.payouts_enabled && self.requirements.is_empty() {
            return "Ready: payouts go to the bank account you gave Stripe.".into();
        }
        if self.requirements.is_empty() {
            return "Stripe is reviewing your details; payouts start once it has enabled them."
                .into();
        }
        let mut needed: Vec<String> = self
            .requirements
            .iter()
            .map(|r| requirement_text(r))
            .collect();
        needed.dedup();
        format!("Action needed at Stripe: {}.", needed.join(", "))
    }
}

/// A Stripe requirement code in words: "external_account" is "bank account".
pub fn requirement_text(code: &str) -> String {
    let words = match code {
        "external_account" => "bank account",
        c if c.ends_with("dob.day") || c.ends_with("dob.month") || c.ends_with("dob.year") => {
            "date of birth"
        }
        c if c.starts_with("tos_acceptance") => "accepting Stripe's terms",
        c if c.contains("id_number") => "ID number",
        c if c.contains("verification.document") => "identity document",
        c if c.starts_with("business_profile") => "business details",
        c if c.contains("address") => "address",
        c if c.ends_with("phone") => "phone number",
        c if c.ends_with("email") => "email address",
        c if c.ends_with("first_name") || c.ends_with("last_name") => "name",
        other => return other.replace(['.', '_'], " "),
    };
    words.to_string()
}

/// Whether an org's balance in a currency is paid in this batch, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    Pay(Rail),
    Skip(String),
}

/// The payout minimum in `currency`: the program's minimum as the same number of major units, so 50.00 USD is
/// 50 JPY and 50.000 BHD, rounded up to the currency's minor unit (50.50 USD is 51 JPY).
pub fn minimum_in(program_minimum: Money, currency: Currency) -> Money {
    let from = 10i128.pow(program_minimum.currency.decimals());
    let to = 10i128.pow(currency.decimals());
    let scaled = i128::from(program_minimum.minor.max(0)) * to;
    let minor = (scaled + from - 1) / from;
    Money::new(i64::try_from(minor).unwrap_or(i64::MAX), currency)
}

/// Decides one org's balance. An org that is not approved is not paid (ledger invariant 5). Without a Stripe key,
/// or without a connected account, the manual rail pays; an account that Stripe has not enabled yet is skipped
/// (paying it by hand would bypass what the partner chose). `minimum` is the minimum in the balance's currency
/// (`minimum_in`).
pub fn eligibility(
    balance: Money,
    minimum: Money,
    org_status: PartnerStatus,
    stripe_configured: bool,
    account: Option<&AccountStatus>,
) -> Eligibility {
    let not_approved = match org_status {
        PartnerStatus::Approved => None,
        PartnerStatus::Suspended => Some("The partner is suspended"),
        PartnerStatus::Applied => Some("The partner's application is not approved yet"),
        PartnerStatus::Rejected => Some("The partner was rejected"),
    };
    if let Some(why) = not_approved {
        return Eligibility::Skip(format!(
            "{why}: its balance is not paid while it is not approved."
        ));
    }
    if balance.minor < 0 {
        return Eligibility::Skip(format!(
            "Clawbacks exceed earnings by {}; they net against future earnings.",
            Money::new(-balance.minor, balance.currency)
        ));
    }
    if balance.minor == 0 || balance.minor < minimum.minor {
        return Eligibility::Skip(format!(
            "{balance} is below the minimum payout of {minimum}."
        ));
    }
    match (stripe_configured, account) {
        (true, Some(account)) if account.payouts_enabled => Eligibility::Pay(Rail::Stripe),
        (true, Some(account)) => {
            Eligibility::Skip(format!("Payout account not ready. {}", account.describe()))
        }
        _ => Eligibility::Pay(Rail::Manual),
    }
}

/// Whether the monthly batch starts today: the program set a day, today is that day, and no batch started today.
pub fn scheduled_batch_due(
    payout_day: Option<i64>,
    today: chrono::NaiveDate,
    started_today: bool,
) -> bool {
    use chrono::Datelike;
    payout_day.is_some_and(|day| day == i64::from(today.day())) && !started_today
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::parse("USD").unwrap())
    }

    fn eligibility(
        balance: Money,
        minimum_minor: i64,
        stripe_configured: bool,
        account: Option<&AccountStatus>,
    ) -> Eligibility {
        super::eligibility(
            balance,
            minimum_in(usd(minimum_minor), balance.currency),
            PartnerStatus::Approved,
            stripe_configured,
            account,
        )
    }

    #[test]
    fn the_minimum_is_the_same_number_of_major_units_in_every_currency() {
        let in_ = |minimum: Money, code: &str| minimum_in(minimum, Currency::parse(code).unwrap());
        assert_eq!(in_(usd(5_000), "JPY").to_string(), "50 JPY");
        assert_eq!(in_(usd(5_000), "BHD").to_string(), "50.000 BHD");
        assert_eq!(in_(usd(5_000), "EUR").to_string(), "50.00 EUR");
        assert_eq!(in_(usd(5_050), "JPY").to_string(), "51 JPY");
        let jpy = Money::new(5_000, Currency::parse("JPY").unwrap());
        assert_eq!(in_(jpy, "USD").to_string(), "5,000.00 USD");
        assert_eq!(
            eligibility(
                Money::new(200, Currency::parse("JPY").unwrap()),
                5_000,
                false,
                None
            ),
            Eligibility::Pay(Rail::Manual)
        );
        assert_eq!(
            eligibility(
                Money::new(2_469, Currency::parse("BHD").unwrap()),
                5_000,
                false,
                None
            ),
            Eligibility::Skip("2.469 BHD is below the minimum payout of 50.000 BHD.".into())
        );
    }

    #[test]
    fn orgs_that_are_not_approved_are_not_paid() {
        for status in [
            PartnerStatus::Suspended,
            PartnerStatus::Applied,
            PartnerStatus::Rejected,
        ] {
            assert!(matches!(
                super::eligibility(usd(10_000), usd(0), status, false, None),
                Eligibility::Skip(reason) if reason.contains("not approved")
            ));
        }
    }

    #[test]
    fn balances_are_paid_by_the_right_rail_or_skipped_with_a_reason() {
        let ready = AccountStatus {
            payouts_enabled: true,
            requirements: vec![],
        };
        let pending = AccountStatus {
            payouts_enabled: false,
            requirements: vec![
                "external_account".into(),
                "individual.dob.day".into(),
                "individual.dob.month".into(),
            ],
        };
        assert_eq!(
            eligibility(usd(10_000), 5_000, true, Some(&ready)),
            Eligibility::Pay(Rail::Stripe)
        );
        assert_eq!(
            eligibility(usd(10_000), 5_000, true, None),
            Eligibility::Pay(Rail::Manual)
        );
        assert_eq!(
            eligibility(usd(10_000), 5_000, false, Some(&ready)),
            Eligibility::Pay(Rail::Manual)
        );
        assert_eq!(
            eligibility(usd(10_000), 5_000, true, Some(&pending)),
            Eligibility::Skip(
                "Payout account not ready. Action needed at Stripe: bank account, date of birth."
                    .into()
            )
        );
        assert_eq!(
            eligibility(usd(4_999), 5_000, true, Some(&ready)),
            Eligibility::Skip("49.99 USD is below the minimum payout of 50.00 USD.".into())
        );
        assert!(
            matches!(eligibility(usd(-700), 0, false, None), Eligibility::Skip(r) if r.contains("7.00 USD"))
        );
        assert!(matches!(
            eligibility(usd(0), 0, false, None),
            Eligibility::Skip(_)
        ));
    }

    #[test]
    fn the_monthly_batch_starts_on_its_day_once() {
        let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert!(scheduled_batch_due(Some(15), day("2026-11-15"), false));
        assert!(!scheduled_batch_due(Some(15), day("2026-11-15"), true));
        assert!(!scheduled_batch_due(Some(15), day("2026-11-16"), false));
        assert!(!scheduled_batch_due(None, day("2026-11-15"), false));
    }

    #[test]
    fn account_states_read_plainly() {
        let reviewing = AccountStatus {
            payouts_enabled: false,
            requirements: vec![],
        };
        assert!(reviewing.describe().contains("reviewing"));
        assert_eq!(
            requirement_text("tos_acceptance.date"),
            "accepting Stripe's terms"
        );
        assert_eq!(requirement_text("company.tax_id"), "company tax id");
    }
}
