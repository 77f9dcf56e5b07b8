//! Partner orgs: what kind of partner they are, where they stand in the program, and which decisions move them.

crate::text_enum!(PartnerKind {
    Affiliate => "affiliate" / "Affiliate",
    Reseller => "reseller" / "Reseller",
    Referral => "referral" / "Referral partner",
});

crate::text_enum!(PartnerStatus {
    Applied => "applied" / "Applied",
    Approved => "approved" / "Approved",
    Rejected => "rejected" / "Rejected",
    Suspended => "suspended" / "Suspended",
});

crate::text_enum!(PartnerDecision {
    Approve => "approve" / "Approve",
    Reject => "reject" / "Reject",
    Suspend => "suspend" / "Suspend",
    Reinstate => "reinstate" / "Reinstate",
});

impl PartnerDecision {
    /// Rejecting or suspending a partner must be explained to them and to the team.
    pub fn requires_reason(self) -> bool {
        matches!(self, PartnerDecision::Reject | PartnerDecision::Suspend)
    }

    /// The audit-log action name.
    pub fn audit_action(self) -> &'static str {
        match self {
            PartnerDecision::Approve => "partner.approve",
            PartnerDecision::Reject => "partner.reject",
            PartnerDecision::Suspend => "partner.suspend",
            PartnerDecision::Reinstate => "partner.reinstate",
        }
    }

    /// Decisions that make sense from `status`, in the order the admin page shows them.
    pub fn available_from(status: PartnerStatus) -> Vec<PartnerDecision> {
        PartnerDecision::ALL
            .iter()
            .copied()
            .filter(|d| decide(status, *d, Some("x")).is_ok())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("Give a reason: the partner sees it.")]
    ReasonRequired,
    #[error("A partner that is {from} cannot be {attempted}.")]
    NotAllowed {
        from: &'static str,
        attempted: &'static str,
    },
}

/// The status a decision leads to, or why it cannot be taken. `reason` is what the admin typed (trimmed here).
pub fn decide(
    current: PartnerStatus,
    decision: PartnerDecision,
    reason: Option<&str>,
) -> Result<PartnerStatus, DecisionError> {
    use PartnerDecision as D;
    use PartnerStatus as S;
    let next = match (current, decision) {
        (S::Applied, D::Approve) => S::Approved,
        (S::Applied, D::Reject) => S::Rejected,
        (S::Approved, D::Suspend) => S::Suspended,
        (S::Suspended, D::Reinstate) => S::Approved,
        // A rejected applicant can be reconsidered.
        (S::Rejected, D::Approve) => S::Approved,
        _ => {
            return Err(DecisionError::NotAllowed {
                from: current.label_lower(),
                attempted: decision.past_participle(),
            })
        }
    };
    if decision.requires_reason() && reason.map(str::trim).unwrap_or("").is_empty() {
        return Err(DecisionError::ReasonRequired);
    }
    Ok(next)
}

impl PartnerStatus {
    fn label_lower(self) -> &'static str {
        match self {
            PartnerStatus::Applied => "applied",
            PartnerStatus::Approved => "approved",
            PartnerStatus::Rejected => "rejected",
            PartnerStatus::Suspended => "suspended",
        }
    }
}

impl PartnerDecision {
    fn past_participle(self) -> &'static str {
        match self {
            PartnerDecision::Approve => "approved",
            PartnerDecision::Reject => "rejected",
            PartnerDecision::Suspend => "suspended",
            PartnerDecision::Reinstate => "reinstated",
        }
    }
}

/// Who may see a course or an asset: partners of these kinds (comma-separated, "" for every kind) whose tier rank is
/// at least `min_tier_rank` (0 for everyone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    pub min_tier_rank: i64,
    pub partner_kinds: String,
}

impl Audience {
    /// Reads the two audience fields of a form; refusals name their field (`min_tier_rank`, `partner_kinds`).
    pub fn parse(
        min_tier_rank: &str,
        partner_kinds: &str,
    ) -> Result<Self, Vec<(&'static str, crate::domain::refusal::Refusal)>> {
        let mut refusals = Vec::new();
        let rank = match min_tier_rank.trim().parse::<i64>() {
            Ok(n) if (0..=100).contains(&n) => n,
            _ => {
                refusals.push((
                    "min_tier_rank",
                    "The minimum tier rank is 0 (everyone) to 100.".into(),
                ));
                0
            }
        };
        let kinds: Vec<&str> = partner_kinds
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        if kinds.iter().any(|k| k.parse::<PartnerKind>().is_err()) {
            refusals.push((
                "partner_kinds",
                "Choose among affiliate, reseller and referral.".into(),
            ));
        }
        if !refusals.is_empty() {
            return Err(refusals);
        }
        Ok(Self {
            min_tier_rank: rank,
            partner_kinds: kinds.join(","),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PartnerDecision as D;
    use PartnerStatus as S;

    #[test]
    fn applications_are_approved_or_rejected() {
        assert_eq!(decide(S::Applied, D::Approve, None), Ok(S::Approved));
        assert_eq!(
            decide(S::Applied, D::Reject, Some("Not a fit")),
            Ok(S::Rejected)
        );
        assert_eq!(decide(S::Rejected, D::Approve, None), Ok(S::Approved));
    }

    #[test]
    fn reject_and_suspend_need_a_reason() {
        assert_eq!(
            decide(S::Applied, D::Reject, None),
            Err(DecisionError::ReasonRequired)
        );
        assert_eq!(
            decide(S::Applied, D::Reject, Some("   ")),
            Err(DecisionError::ReasonRequired)
        );
        assert_eq!(
            decide(S::Approved, D::Suspend, Some("")),
            Err(DecisionError::ReasonRequired)
        );
        assert_eq!(
            decide(S::Approved, D::Suspend, Some("Fraud review")),
            Ok(S::Suspended)
        );
        assert_eq!(decide(S::Suspended, D::Reinstate, None), Ok(S::Approved));
    }

    #[test]
    fn impossible_moves_are_refused_with_a_sentence() {
        let err = decide(S::Approved, D::Approve, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "A partner that is approved cannot be approved."
        );
        assert!(decide(S::Applied, D::Suspend, Some("x")).is_err());
        assert!(decide(S::Rejected, D::Reinstate, None).is_err());
    }

    #[test]
    fn available_decisions_follow_the_status() {
        assert_eq!(
            PartnerDecision::available_from(S::Applied),
            vec![D::Approve, D::Reject]
        );
        assert_eq!(
            PartnerDecision::available_from(S::Approved),
            vec![D::Suspend]
        );
        assert_eq!(
            PartnerDecision::available_from(S::Suspended),
            vec![D::Reinstate]
        );
    }

    #[test]
    fn text_round_trips() {
        for kind in PartnerKind::ALL {
            assert_eq!(kind.as_str().parse::<PartnerKind>().unwrap(), *kind);
        }
        assert!("vendor".parse::<PartnerKind>().is_err());
    }
}
