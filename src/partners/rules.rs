//! The reseller program's onboarding rules: what an application holds, and when the partner agreement gates the
//! portal.

use crate::domain::partner::{PartnerKind, PartnerStatus};

crate::text_enum!(PartnerType {
    Var => "var" / "Value-added reseller (VAR)",
    Msp => "msp" / "Managed service provider (MSP)",
    Si => "si" / "Systems integrator (SI)",
    Isv => "isv" / "Independent software vendor (ISV)",
    Referral => "referral" / "Referral partner",
});

impl PartnerType {
    /// Referral partners refer deals; every other type resells.
    pub fn kind(self) -> PartnerKind {
        if self == PartnerType::Referral {
            PartnerKind::Referral
        } else {
            PartnerKind::Reseller
        }
    }
}

crate::text_enum!(CompanySize {
    Micro => "1-10" / "1–10 people",
    Small => "11-50" / "11–50 people",
    Medium => "51-200" / "51–200 people",
    Large => "201-1000" / "201–1,000 people",
    Enterprise => "1000+" / "More than 1,000 people",
});

/// Whether an org must accept the current agreement before its portal opens: approved channel partners (not
/// affiliates, who accept program terms when they join) whose newest acceptance is older than the current version.
pub fn agreement_required(
    kind: PartnerKind,
    status: PartnerStatus,
    current_version: i64,
    accepted_version: Option<i64>,
) -> bool {
    kind != PartnerKind::Affiliate
        && status == PartnerStatus::Approved
        && current_version > 0
        && accepted_version.unwrap_or(0) < current_version
}

/// The text an org must accept before its portal opens: channel partners the partner agreement, affiliates the
/// program terms, each in the version given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueTerms {
    PartnerAgreement(i64),
    AffiliateTerms(i64),
}

impl DueTerms {
    pub fn version(self) -> i64 {
        match self {
            DueTerms::PartnerAgreement(v) | DueTerms::AffiliateTerms(v) => v,
        }
    }
}

/// Whether an approved affiliate must accept the program terms before its portal opens: the program has terms and
/// the org's accepted version (given when it joined, or later) is older than the current one.
pub fn affiliate_terms_required(
    status: PartnerStatus,
    has_terms: bool,
    current_version: i64,
    accepted_version: Option<i64>,
) -> bool {
    status == PartnerStatus::Approved
        && has_terms
        && current_version > 0
        && accepted_version.unwrap_or(0) < current_version
}

/// What the portal says to the people of an org that is not approved, on every page but the status page.
pub fn closed_portal_message(status: PartnerStatus) -> &'static str {
    match status {
        PartnerStatus::Applied => {
            "Your application is under review; the portal opens once your organisation is approved."
        }
        PartnerStatus::Rejected => "Your application was not approved, so the portal is closed.",
        PartnerStatus::Suspended => {
            "Your organisation's partnership is suspended, so the portal is closed. Your partner manager can tell you more."
        }
        PartnerStatus::Approved => "The portal is open.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agreement_gates_approved_channel_partners_until_they_accept_the_current_version() {
        assert!(agreement_required(
            PartnerKind::Reseller,
            PartnerStatus::Approved,
            1,
            None
        ));
        assert!(!agreement_required(
            PartnerKind::Reseller,
            PartnerStatus::Approved,
            1,
            Some(1)
        ));
        assert!(
            agreement_required(PartnerKind::Referral, PartnerStatus::Approved, 2, Some(1)),
            "a new version gates again"
        );
        assert!(!agreement_required(
            PartnerKind::Affiliate,
            PartnerStatus::Approved,
            2,
            None
        ));
        assert!(!agreement_required(
            PartnerKind::Reseller,
            PartnerStatus::Applied,
            1,
            None
        ));
        assert!(
            !agreement_required(PartnerKind::Reseller, PartnerStatus::Approved, 0, None),
            "no agreement written yet"
        );
    }

    #[test]
    fn a_new_version_of_the_program_terms_gates_approved_affiliates_again() {
        assert!(affiliate_terms_required(
            PartnerStatus::Approved,
            true,
            2,
            Some(1)
        ));
        assert!(affiliate_terms_required(
            PartnerStatus::Approved,
            true,
            1,
            None
        ));
        assert!(!affiliate_terms_required(
            PartnerStatus::Approved,
            true,
            2,
            Some(2)
        ));
        assert!(!affiliate_terms_required(
            PartnerStatus::Approved,
            false,
            2,
            Some(1)
        ));
        assert!(!affiliate_terms_required(
            PartnerStatus::Applied,
            true,
            2,
            Some(1)
        ));
    }

    #[test]
    fn partner_types_map_to_kinds() {
        assert_eq!(PartnerType::Msp.kind(), PartnerKind::Reseller);
        assert_eq!(PartnerType::Referral.kind(), PartnerKind::Referral);
        assert_eq!(
            "1000+".parse::<CompanySize>().unwrap(),
            CompanySize::Enterprise
        );
    }
}
