//! Deal registration: registering with conflict lookup and the optional auto-approval (`registration`), the
//! approver's decisions, the partner's progress and the vendor's win confirmation that writes the margin to the
//! ledger (`progress`), protection extensions, the expiry and SLA escalation jobs (`protection`), the program's deal
//! settings, stages, products, fields and direct accounts (`config`), and pipeline reporting (`pipeline`). Every state
//! change is one transaction guarded on the status it read, so two people acting at once change a deal once, and
//! every change leaves a deal event.

pub mod config;
pub mod form;
pub mod notices;
pub mod pipeline;
pub mod progress;
pub mod protection;
pub mod registration;
pub mod rules;
pub mod store;

use crate::deals::rules::{DealDecision, SlaClock};
use crate::platform::db::DbConn;
use crate::platform::mail::NotifyError;
pub use progress::{
    confirm_win, report_lost, report_won, send_back_win, update_progress, Progress,
};
pub use protection::{
    decide_extension, escalate_overdue, request_extension, run_expiry, ExpiryRun,
};
pub use registration::{correct, decide, protecting, register};
pub use store::{
    conflicts, events, extension, facts, find, find_for, list, pending_extensions, queue,
    user_is_certified, won_since, ConflictMatch, ConflictWith, CustomValue, Deal, DealEvent,
    DealFilter, DealRow, Extension, Registration,
};

/// Why a deal use case did not happen.
pub type DealError = crate::platform::use_case::UseCaseError;

/// What happened to a deal, for the email to its partner.
#[derive(Debug, Clone)]
pub enum DealNotice {
    Decided {
        decision: DealDecision,
        reason: String,
        automatic: bool,
    },
    ExpiringSoon,
    Expired,
    ExtensionGranted {
        days: i64,
    },
    ExtensionRefused {
        reason: String,
    },
    WinConfirmed {
        margin: String,
    },
    WinSentBack {
        reason: String,
    },
}

/// Writes a deal's notification inside the transaction of the change.
pub type DealNotifier<'a> = &'a dyn Fn(&mut DbConn, &Deal, &DealNotice) -> Result<(), NotifyError>;

/// Staff to tell about one overdue registration: (deal, partner name, SLA clock).
pub type EscalationNotifier<'a> =
    &'a dyn Fn(&mut DbConn, &Deal, &str, &SlaClock) -> Result<(), NotifyError>;

/// Which deals of its org a partner user may see: a partner admin all, a rep their own (and, when the program
/// says so, their org's).
/// Reps change only their own deals; partner admins every deal of their org.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub org_id: i64,
    pub user_id: i64,
    pub manages_org: bool,
    /// The program lets reps see their colleagues' deals.
    pub reps_see_org: bool,
}

impl Viewer {
    pub fn may_see(&self, deal: &Deal) -> bool {
        deal.partner_org_id == self.org_id
            && (self.manages_org || self.reps_see_org || deal.registered_by_user_id == self.user_id)
    }

    pub fn may_change(&self, deal: &Deal) -> bool {
        deal.partner_org_id == self.org_id
            && (self.manages_org || deal.registered_by_user_id == self.user_id)
    }

    /// The list filter that shows the viewer exactly what they may see.
    pub fn filter(&self) -> DealFilter {
        DealFilter {
            org_id: Some(self.org_id),
            owner_user_id: (!self.manages_org && !self.reps_see_org).then_some(self.user_id),
            ..Default::default()
        }
    }
}

/// A deal the viewer may change. One they may only see is refused with a reason; one they may not see is absent.
pub(crate) fn find_to_change(
    conn: &mut DbConn,
    viewer: &Viewer,
    id: i64,
) -> Result<Deal, DealError> {
    let deal = find_for(conn, viewer, id)?.ok_or(DealError::NotFound)?;
    if viewer.may_change(&deal) {
        Ok(deal)
    } else {
        Err(DealError::Refused(
            "Only the rep who registered this deal, or your organisation's partner admin, can change it.".into(),
        ))
    }
}
