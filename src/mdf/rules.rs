//! Market development funds: the rules without a database. A fund covers a period; an org's allocation is its
//! tier's share plus its own plus what it accrued from confirmed won revenue. Money moves through the fund in one
//! direction only:
//!
//! allocated = awaiting review + reserved + claimed + paid + expired + available
//!
//! - *awaiting review*: requests submitted (or returned) and not yet decided; they hold their amount so a partner
//!   cannot ask for the same money twice;
//! - *reserved*: the approved amount of approved requests whose claim is not approved yet;
//! - *claimed*: approved claims whose `mdf_reimbursement` ledger entry is not paid yet;
//! - *paid*: approved claims whose ledger entry was paid out;
//! - *expired*: what was still available at the period end, and reservations of an expired fund that lapsed later.
//!
//! A claim approved for less than its reservation, a declined request and a rejected claim give the difference
//! back to *available*.

use crate::domain::refusal::Refusal;

use chrono::{Duration, NaiveDate};

use crate::domain::money::{share, Currency, Money};
use crate::domain::quarter::Quarter;

/// The largest proof-of-performance file a partner may upload.
pub const MAX_PROOF_BYTES: u64 = 10 * 1024 * 1024;
/// How many proof files one claim form may carry, and how many bytes together.
pub const MAX_PROOF_FILES_PER_FORM: usize = 10;
pub const MAX_PROOF_BYTES_PER_FORM: u64 = 40 * 1024 * 1024;
/// How many proof files one claim may gather over its corrections, and how many bytes together.
pub const MAX_PROOF_FILES_PER_CLAIM: usize = 20;
pub const MAX_PROOF_BYTES_PER_CLAIM: u64 = 80 * 1024 * 1024;
/// A claim form larger than this in all is not read to its end: the answer is 413 at once.
pub const MAX_CLAIM_FORM_BYTES: u64 = 2 * MAX_PROOF_BYTES_PER_FORM;

/// Whether `adding` more files of `adding_bytes` fit beside the `kept` files of `kept_bytes` a claim has.
pub fn check_claim_proof_room(
    kept: usize,
    kept_bytes: u64,
    adding: usize,
    adding_bytes: u64,
) -> Result<(), Refusal> {
    const MIB: u64 = 1024 * 1024;
    if kept + adding > MAX_PROOF_FILES_PER_CLAIM {
        return Err(Refusal::new(format!(
            "A claim keeps at most {MAX_PROOF_FILES_PER_CLAIM} proof files; this one has {kept}, so attach at most {}.",
            MAX_PROOF_FILES_PER_CLAIM.saturating_sub(kept)
        )));
    }
    if kept_bytes.saturating_add(adding_bytes) > MAX_PROOF_BYTES_PER_CLAIM {
        return Err(Refusal::new(format!(
            "A claim keeps at most {} MiB of proof; this one has {} MiB, and these files would pass the limit.",
            MAX_PROOF_BYTES_PER_CLAIM / MIB,
            kept_bytes.div_ceil(MIB)
        )));
    }
    Ok(())
}
/// How long before its claim deadline the partner is reminded.
pub const CLAIM_REMINDER_DAYS: i64 = 7;

crate::text_enum!(ActivityType {
    Event => "event" / "Event",
    DigitalAds => "digital_ads" / "Digital ads",
    Content => "content" / "Content",
    Training => "training" / "Training",
    Other => "other" / "Other",
});

crate::text_enum!(RequestStatus {
    Submitted => "submitted" / "Awaiting review",
    InfoRequested => "info_requested" / "Returned for more information",
    Approved => "approved" / "Approved",
    Declined => "declined" / "Declined",
    Completed => "completed" / "Reimbursement approved",
    Closed => "closed" / "Closed",
});

impl RequestStatus {
    pub fn css_class(self) -> &'static str {
        match self {
            RequestStatus::Submitted | RequestStatus::InfoRequested => "pending",
            RequestStatus::Approved | RequestStatus::Completed => "approved",
            RequestStatus::Declined | RequestStatus::Closed => "rejected",
        }
    }

    /// Requests that hold their requested amount while staff look at them.
    pub const AWAITING: &'static [RequestStatus] =
        &[RequestStatus::Submitted, RequestStatus::InfoRequested];
}

crate::text_enum!(ClaimStatus {
    Submitted => "submitted" / "Claim in review",
    InfoRequested => "info_requested" / "Claim returned for more information",
    Approved => "approved" / "Claim approved",
    Rejected => "rejected" / "Claim rejected",
});

impl ClaimStatus {
    pub fn css_class(self) -> &'static str {
        match self {
            ClaimStatus::Submitted | ClaimStatus::InfoRequested => "pending",
            ClaimStatus::Approved => "approved",
            ClaimStatus::Rejected => "rejected",
        }
    }
}

crate::text_enum!(Decision {
    Approve => "approve" / "Approve",
    Decline => "decline" / "Decline",
    ReturnForInfo => "return" / "Return for more information",
});

/// Checks a staff decision on a request or a claim: only one awaiting review can be decided, and declining or
/// returning it needs a reason the partner will read.
pub fn check_decision(
    awaiting_review: bool,
    decision: Decision,
    reason: &str,
) -> Result<(), crate::domain::refusal::Refusal> {
    if !awaiting_review {
        return Err(
            "Only items awaiting review can be decided; this one was decided already.".into(),
        );
    }
    if decision != Decision::Approve && reason.trim().is_empty() {
        return Err(Refusal::new(format!(
            "Give a reason to {}: the partner reads it.",
            match decision {
                Decision::Decline => "decline",
                _ => "return it",
            }
        )));
    }
    Ok(())
}

/// Checks the amount an approver reserves: all or part of what was asked, and no more than the org has.
/// `available` already counts this request's own amount as free (it is the request being decided).
pub fn check_approved_amount(
    approved: Money,
    requested: Money,
    available: Money,
) -> Result<(), crate::domain::refusal::Refusal> {
    if approved.minor <= 0 {
        return Err("Approve an amount above zero, or decline the request.".into());
    }
    if approved.minor > requested.minor {
        return Err(Refusal::new(format!(
            "Approve at most the requested {requested}; approve part of it if the fund is short."
        )));
    }
    if approved.minor > available.minor {
        return Err(Refusal::new(format!(
            "Only {} is available in this partner's fund, so at most that can be approved.",
            Money::new(available.minor.max(0), available.currency)
        )));
    }
    Ok(())
}

/// Checks a requested amount against what the org has left in the fund.
pub fn check_requested_amount(
    requested: Money,
    available: Money,
) -> Result<(), crate::domain::refusal::Refusal> {
    if requested.minor <= 0 {
        return Err("Enter the amount you request, more than zero.".into());
    }
    if requested.minor > available.minor {
        return Err(Refusal::new(format!(
            "You can request at most {}: that is what is available in your fund.",
            Money::new(available.minor.max(0), available.currency)
        )));
    }
    Ok(())
}

/// The most a claim may ask: the approved amount, and the program's share of the actual cost.
pub fn claim_limit(approved: Money, actual_cost: Money, reimbursement_bps: i64) -> Money {
    let of_cost = share(actual_cost.minor, reimbursement_bps, 10_000);
    Money::new(approved.minor.min(of_cost), approved.currency)
}

/// Checks a claim's amounts; errors name the form field they belong to.
pub fn check_claim(
    approved: Money,
    actual_cost: Money,
    claimed: Money,
    reimbursement_bps: i64,
) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    if actual_cost.minor <= 0 {
        errors.push((
            "actual_cost",
            "Enter what the activity actually cost.".to_string(),
        ));
    }
    if claimed.minor <= 0 {
        errors.push((
            "claimed",
            "Enter the amount you claim, more than zero.".to_string(),
        ));
        return errors;
    }
    if claimed.minor > approved.minor {
        errors.push((
            "claimed",
            format!("You can claim at most the approved amount, {approved}."),
        ));
    } else if actual_cost.minor > 0 {
        let of_cost = Money::new(
            share(actual_cost.minor, reimbursement_bps, 10_000),
            approved.currency,
        );
        if claimed.minor > of_cost.minor {
            errors.push((
                "claimed",
                format!(
                    "The program reimburses {} of the actual cost: at most {of_cost} of {actual_cost}.",
                    crate::domain::money::percent_text(reimbursement_bps)
                ),
            ));
        }
    }
    errors
}

/// Whether a claim can be filed today: from the activity's last day until the deadline.
pub fn check_claim_window(
    ends_on: NaiveDate,
    due_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), crate::domain::refusal::Refusal> {
    if today < ends_on {
        return Err(Refusal::new(format!(
            "Claims open when the activity has ended, on {ends_on}."
        )));
    }
    if today > due_on {
        return Err(Refusal::new(format!(
            "The claim deadline for this activity was {due_on}; the reservation has lapsed."
        )));
    }
    Ok(())
}

/// The last day to file a claim for an activity ending on `ends_on`.
pub fn claim_due_on(ends_on: NaiveDate, claim_days: i64) -> NaiveDate {
    ends_on + Duration::days(claim_days)
}

/// Whether the partner should be reminded today of a claim due on `due_on`.
pub fn claim_reminder_due(due_on: NaiveDate, today: NaiveDate) -> bool {
    today <= due_on && today >= due_on - Duration::days(CLAIM_REMINDER_DAYS)
}

/// Checks a request's planned dates against the fund's period.
pub fn check_activity_dates(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    fund_starts_on: NaiveDate,
    fund_ends_on: NaiveDate,
) -> Result<(), (&'static str, String)> {
    if ends_on < starts_on {
        return Err((
            "ends_on",
            "The activity cannot end before it starts.".into(),
        ));
    }
    if starts_on < fund_starts_on || starts_on > fund_ends_on {
        return Err((
            "starts_on",
            format!("The activity must start within the fund's period, {fund_starts_on} to {fund_ends_on}."),
        ));
    }
    Ok(())
}

/// A fund's period as an admin gives it: a quarter ("2026-Q4"), or first and last day.
pub fn parse_period(
    quarter: &str,
    starts_on: &str,
    ends_on: &str,
) -> Result<(NaiveDate, NaiveDate), (&'static str, String)> {
    if !quarter.trim().is_empty() {
        let q = Quarter::parse(quarter).map_err(|e| ("quarter", e.into()))?;
        return Ok((q.first_day(), q.end() - Duration::days(1)));
    }
    let day = |raw: &str, field: &'static str| {
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
            (
                field,
                "Give a quarter, or the first and last day of the period (YYYY-MM-DD).".to_string(),
            )
        })
    };
    let (first, last) = (day(starts_on, "starts_on")?, day(ends_on, "ends_on")?);
    if last < first {
        return Err(("ends_on", "The period cannot end before it starts.".into()));
    }
    Ok((first, last))
}

/// One allocation row of a fund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    Tier { tier_id: i64, amount_minor: i64 },
    Partner { org_id: i64, amount_minor: i64 },
}

/// What an org receives from a fund's allocations (tier share and own share; both when both exist) plus accrual:
/// `accrual_bps` of its confirmed won revenue in the period, rounded half-up once on the total.
pub fn org_allocation(
    org_id: i64,
    tier_id: Option<i64>,
    allocations: &[Allocation],
    accrual_bps: i64,
    won_minor: i64,
) -> i64 {
    let fixed: i64 = allocations
        .iter()
        .map(|a| match *a {
            Allocation::Tier {
                tier_id: t,
                amount_minor,
            } if Some(t) == tier_id => amount_minor,
            Allocation::Partner {
                org_id: o,
                amount_minor,
            } if o == org_id => amount_minor,
            _ => 0,
        })
        .sum();
    fixed + share(won_minor, accrual_bps, 10_000)
}

/// Where an org (or a group of orgs) stands in a fund, in minor units of the fund's currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FundPosition {
    pub allocated: i64,
    pub awaiting: i64,
    pub reserved: i64,
    pub claimed: i64,
    pub paid: i64,
    pub expired: i64,
    /// Won revenue of the deals linked to approved claims: ROI's numerator.
    pub linked_won: i64,
}

impl FundPosition {
    /// The position with the allocation its rules give now. What was already committed (asked for, reserved,
    /// claimed, paid or expired) stands when the allocation shrinks (a demotion, a suspension, an admin lowering
    /// it), so the allocation shown is never below it and nothing is "available" below zero.
    pub fn allocate(mut self, by_rules: i64) -> Self {
        self.allocated = by_rules.max(self.committed());
        self
    }

    /// Everything taken from the allocation so far.
    pub fn committed(&self) -> i64 {
        crate::domain::money::sum_minor([
            self.awaiting,
            self.reserved,
            self.claimed,
            self.paid,
            self.expired,
        ])
    }

    /// What can still be requested; never negative (see `allocate`).
    pub fn available(&self) -> i64 {
        (self.allocated - self.committed()).max(0)
    }

    /// Reimbursements approved (claimed or paid) as a share of the allocation, in basis points.
    pub fn utilization_bps(&self) -> Option<i64> {
        (self.allocated > 0).then(|| share(self.claimed + self.paid, 10_000, self.allocated))
    }

    pub fn utilization_text(&self) -> String {
        self.utilization_bps()
            .map(crate::domain::money::percent_text)
            .unwrap_or_else(|| "—".into())
    }

    /// Won revenue of linked deals per unit of MDF paid, in hundredths ("3.25×" is 325); none until MDF is paid.
    pub fn roi_hundredths(&self) -> Option<i64> {
        (self.paid > 0).then(|| share(self.linked_won, 100, self.paid))
    }

    pub fn roi_text(&self) -> String {
        match self.roi_hundredths() {
            Some(h) => format!("{}.{:02}×", h / 100, h % 100),
            None => "—".into(),
        }
    }

    pub fn add(&mut self, other: &FundPosition) {
        self.allocated = self.allocated.saturating_add(other.allocated);
        self.awaiting = self.awaiting.saturating_add(other.awaiting);
        self.reserved = self.reserved.saturating_add(other.reserved);
        self.claimed = self.claimed.saturating_add(other.claimed);
        self.paid = self.paid.saturating_add(other.paid);
        self.expired = self.expired.saturating_add(other.expired);
        self.linked_won = self.linked_won.saturating_add(other.linked_won);
    }

    pub fn is_empty(&self) -> bool {
        *self == FundPosition::default()
    }
}

/// A money figure of a fund as pages show it.
pub fn money(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).to_string()
}

// The file types accepted as proof of performance, recognised by their first bytes, never by name or by what
// the browser claims.
crate::text_enum!(ProofKind {
    Pdf => "application/pdf" / "PDF",
    Png => "image/png" / "PNG image",
    Jpeg => "image/jpeg" / "JPEG image",
});

/// The kind of a file from its content.
pub fn sniff(bytes: &[u8]) -> Option<ProofKind> {
    if bytes.starts_with(b"%PDF-") {
        Some(ProofKind::Pdf)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ProofKind::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ProofKind::Jpeg)
    } else {
        None
    }
}

/// A file name safe to echo in a `Content-Disposition` header and on pages: no paths, no control characters,
/// no quotes, at most 120 characters.
pub fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() {
        "proof".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn an_org_receives_its_tier_share_its_own_share_and_its_accrual() {
        let allocations = [
            Allocation::Tier {
                tier_id: 1,
                amount_minor: 500_000,
            },
            Allocation::Tier {
                tier_id: 2,
                amount_minor: 200_000,
            },
            Allocation::Partner {
                org_id: 7,
                amount_minor: 100_000,
            },
        ];
        assert_eq!(org_allocation(7, Some(1), &allocations, 0, 0), 600_000);
        assert_eq!(org_allocation(8, Some(2), &allocations, 0, 0), 200_000);
        assert_eq!(org_allocation(9, None, &allocations, 0, 0), 0);
        // 2.5% of 1,234,567 = 30,864.175 -> 30,864.
        assert_eq!(
            org_allocation(9, None, &allocations, 250, 1_234_567),
            30_864
        );
        assert_eq!(
            org_allocation(7, Some(2), &allocations, 100, 1_000_000),
            310_000
        );
    }

    #[test]
    fn available_is_what_no_stage_holds() {
        let p = FundPosition {
            allocated: 1_000_000,
            awaiting: 100_000,
            reserved: 200_000,
            claimed: 150_000,
            paid: 250_000,
            expired: 0,
            linked_won: 2_000_000,
        };
        assert_eq!(p.available(), 300_000);
        assert_eq!(p.utilization_bps(), Some(4_000));
        assert_eq!(p.utilization_text(), "40%");
        assert_eq!(p.roi_hundredths(), Some(800));
        assert_eq!(p.roi_text(), "8.00×");
        let empty = FundPosition::default();
        assert_eq!(
            (empty.utilization_text(), empty.roi_text()),
            ("—".into(), "—".into())
        );
    }

    #[test]
    fn requests_cannot_exceed_what_is_available() {
        assert!(check_requested_amount(eur(50_000), eur(50_000)).is_ok());
        let error = check_requested_amount(eur(50_001), eur(50_000)).unwrap_err();
        assert!(error.contains("500.00 EUR"), "{error}");
        assert!(check_requested_amount(eur(0), eur(50_000)).is_err());
    }

    #[test]
    fn approvals_are_whole_or_partial_and_within_the_fund() {
        assert!(check_approved_amount(eur(30_000), eur(50_000), eur(40_000)).is_ok());
        assert!(check_approved_amount(eur(60_000), eur(50_000), eur(90_000))
            .unwrap_err()
            .contains("500.00 EUR"));
        assert!(check_approved_amount(eur(45_000), eur(50_000), eur(40_000))
            .unwrap_err()
            .contains("400.00 EUR"));
        assert!(check_approved_amount(eur(0), eur(50_000), eur(40_000)).is_err());
    }

    #[test]
    fn decline_and_return_need_a_reason_and_only_waiting_items_are_decided() {
        assert!(check_decision(true, Decision::Approve, "").is_ok());
        assert!(check_decision(true, Decision::Decline, "  ").is_err());
        assert!(check_decision(true, Decision::ReturnForInfo, "").is_err());
        assert!(check_decision(true, Decision::Decline, "Out of budget").is_ok());
        assert!(check_decision(false, Decision::Approve, "").is_err());
    }

    #[test]
    fn claims_are_capped_by_the_approval_and_the_reimbursement_rate() {
        // Approved 1,000; cost 1,500 at 50% allows 750.
        assert!(check_claim(eur(100_000), eur(150_000), eur(75_000), 5_000).is_empty());
        let over_rate = check_claim(eur(100_000), eur(150_000), eur(75_001), 5_000);
        assert_eq!(over_rate[0].0, "claimed");
        assert!(
            over_rate[0].1.contains("50%") && over_rate[0].1.contains("750.00 EUR"),
            "{:?}",
            over_rate
        );
        let over_approval = check_claim(eur(100_000), eur(400_000), eur(100_001), 5_000);
        assert!(
            over_approval[0].1.contains("approved amount, 1,000.00 EUR"),
            "{:?}",
            over_approval
        );
        assert_eq!(claim_limit(eur(100_000), eur(150_000), 5_000), eur(75_000));
        assert_eq!(claim_limit(eur(100_000), eur(400_000), 5_000), eur(100_000));
        assert_eq!(check_claim(eur(100_000), eur(0), eur(0), 5_000).len(), 2);
    }

    #[test]
    fn the_claim_window_runs_from_the_activity_end_to_the_deadline() {
        let (ends, due) = (day("2026-11-10"), claim_due_on(day("2026-11-10"), 30));
        assert_eq!(due, day("2026-12-10"));
        assert!(check_claim_window(ends, due, day("2026-11-09")).is_err());
        assert!(check_claim_window(ends, due, day("2026-11-10")).is_ok());
        assert!(check_claim_window(ends, due, day("2026-12-10")).is_ok());
        assert!(check_claim_window(ends, due, day("2026-12-11"))
            .unwrap_err()
            .contains("2026-12-10"));
        assert!(!claim_reminder_due(due, day("2026-12-02")));
        assert!(claim_reminder_due(due, day("2026-12-03")));
        assert!(claim_reminder_due(due, day("2026-12-10")));
        assert!(!claim_reminder_due(due, day("2026-12-11")));
    }

    #[test]
    fn periods_are_quarters_or_custom_dates() {
        assert_eq!(
            parse_period("2026-Q4", "", "").unwrap(),
            (day("2026-10-01"), day("2026-12-31"))
        );
        assert_eq!(
            parse_period("", "2026-11-01", "2027-01-15").unwrap(),
            (day("2026-11-01"), day("2027-01-15"))
        );
        assert_eq!(
            parse_period("", "2026-11-01", "2026-10-01").unwrap_err().0,
            "ends_on"
        );
        assert_eq!(parse_period("2026-Q5", "", "").unwrap_err().0, "quarter");
        assert_eq!(parse_period("", "", "").unwrap_err().0, "starts_on");
        assert!(check_activity_dates(
            day("2026-11-02"),
            day("2026-11-01"),
            day("2026-10-01"),
            day("2026-12-31")
        )
        .is_err());
        assert!(check_activity_dates(
            day("2027-01-02"),
            day("2027-01-03"),
            day("2026-10-01"),
            day("2026-12-31")
        )
        .is_err());
        // An activity may run past the period's end if it starts within it.
        assert!(check_activity_dates(
            day("2026-12-20"),
            day("2027-01-03"),
            day("2026-10-01"),
            day("2026-12-31")
        )
        .is_ok());
    }

    #[test]
    fn a_claim_keeps_a_bounded_number_and_size_of_proof_files() {
        let mib = 1024 * 1024;
        assert!(check_claim_proof_room(0, 0, 10, 40 * mib).is_ok());
        assert!(check_claim_proof_room(10, 40 * mib, 10, 40 * mib).is_ok());
        let too_many = check_claim_proof_room(15, 0, 6, 1).unwrap_err().to_string();
        assert!(too_many.contains("attach at most 5"), "{too_many}");
        let too_big = check_claim_proof_room(5, 79 * mib, 1, mib + 1)
            .unwrap_err()
            .to_string();
        assert!(too_big.contains("at most 80 MiB"), "{too_big}");
    }

    #[test]
    fn proof_files_are_recognised_by_content() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(ProofKind::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some(ProofKind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ProofKind::Jpeg));
        // A Windows executable named invoice.pdf is still an executable.
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(ProofKind::Pdf.as_str(), "application/pdf");
    }

    #[test]
    fn file_names_are_cleaned_for_headers_and_pages() {
        assert_eq!(
            clean_file_name("C:\\Users\\x\\invoice \"final\".pdf"),
            "invoice final.pdf"
        );
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("a\r\nb.png"), "ab.png");
        assert_eq!(clean_file_name(""), "proof");
    }
}
