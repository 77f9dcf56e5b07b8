//! The ledger's rules. Entries are appended, never rewritten; only their status moves forward (pending -> approved
//! -> paid, or to void).
//!
//! # Invariants
//! Concord keeps these on SQLite and PostgreSQL under any interleaving of requests, jobs and processes (the
//! randomised test `tests/it/ledger_model.rs` checks them against a model of its own):
//! 1. **Refunds never exceed their sale.** The refunds of a sale add up to at most its amount, and each `refund_id`
//!    counts once: a refund is recorded with the sale's row locked (`db::lock`), so two refunds of one sale are
//!    decided one after the other.
//! 2. **Paid at most once.** A commission, deal margin or MDF reimbursement is held by at most one live payout and
//!    paid at most once (see `db::payouts`).
//! 3. **Nothing voided is ever paid, and what is taken back is taken back once.** An entry a payout has taken (one
//!    in progress, or paid) is never voided: a refund, rejection or void of it appends one approved `clawback` of
//!    what it takes back, which nets against the org's next payout (and leaves the balance negative until then). An
//!    entry no payout holds is voided, or reduced by a clawback in its own status. Changes to the status of an
//!    org's entries take the org's row lock, as does a batch that takes them, so the two never cross.
//! 4. **A balance is the sum of its entries**, never a stored counter; no figure overflows or wraps. Every amount
//!    entering Concord is bounded by `money::MAX_AMOUNT_MINOR` (10^12 minor units; above it the request is refused
//!    naming the field), and sums are taken in i128 (`money::sum_minor`).
//! 5. **Only approved orgs earn.** A conversion attributed to an org that is not approved (applied, rejected,
//!    suspended) by coupon, click or customer binding is recorded and held for review with the reason; its
//!    commission stays pending until an admin approves the conversion. A payout batch skips orgs that are not
//!    approved, with the reason.
//! 6. **No sales from the future.** A conversion whose `occurred_at` is more than `MAX_CLOCK_SKEW_SECS` (in the
//!    conversion request's rules) ahead of the server's clock is refused.
//!
//! A refund reverses the commission of its sale in proportion:
//! - while no payout has taken the commission, a refund of the whole rest of the sale voids it (and its earlier
//!   partial reversals); a partial refund appends a negative entry in the commission's own status, so it nets
//!   before payout;
//! - once a payout has taken it (in progress or paid), a refund appends a negative `clawback`, approved at once,
//!   which nets against the next payout and may leave the balance negative.

crate::text_enum!(EntryKind {
    Commission => "commission" / "Commission",
    Clawback => "clawback" / "Clawback",
    Adjustment => "adjustment" / "Adjustment",
    Payout => "payout" / "Payout",
    MdfReimbursement => "mdf_reimbursement" / "MDF reimbursement",
    DealMargin => "deal_margin" / "Deal margin",
});

crate::text_enum!(EntryStatus {
    Pending => "pending" / "Pending",
    Approved => "approved" / "Approved",
    Paid => "paid" / "Paid",
    Void => "void" / "Void",
});

impl EntryStatus {
    /// Whether a status may follow this one. Status only moves forward.
    pub fn may_become(self, next: EntryStatus) -> bool {
        use EntryStatus::*;
        matches!(
            (self, next),
            (Pending, Approved) | (Pending, Void) | (Approved, Paid) | (Approved, Void)
        )
    }
}

/// The state of one sale's commission when a refund arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionState {
    pub commission_minor: i64,
    pub status: EntryStatus,
    pub sale_minor: i64,
    /// Refunded before this refund.
    pub refunded_minor: i64,
    /// Sum (negative) of the entries earlier refunds wrote against this commission.
    pub reversed_minor: i64,
    /// A payout in progress holds the commission or one of its reversals: money on its way, not to be voided.
    pub held_by_payout: bool,
}

impl CommissionState {
    /// Whether a payout has taken the commission: paid, or held by a payout in progress.
    pub fn taken_by_payout(&self) -> bool {
        self.status == EntryStatus::Paid || self.held_by_payout
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundAction {
    /// Void the commission and every earlier reversal of it.
    VoidCommission,
    /// Append an entry of `amount_minor` (negative) with this kind and status.
    Append {
        amount_minor: i64,
        kind: EntryKind,
        status: EntryStatus,
    },
    /// Nothing to reverse (no commission, or it is void already).
    Nothing,
}

/// What a refund of `refund_minor` does to the commission of its sale.
pub fn on_refund(state: &CommissionState, refund_minor: i64) -> RefundAction {
    if state.status == EntryStatus::Void || state.commission_minor == 0 {
        return RefundAction::Nothing;
    }
    let refunded_after = state.refunded_minor + refund_minor;
    let completes = refunded_after >= state.sale_minor;
    // Reverse in proportion to everything refunded so far, minus what earlier refunds reversed, so the rounding of
    // many partial refunds never drifts from the whole.
    let due = crate::domain::money::share(
        state.commission_minor,
        refunded_after.min(state.sale_minor),
        state.sale_minor,
    );
    let reverse = due + state.reversed_minor;
    if state.taken_by_payout() {
        return if reverse == 0 {
            RefundAction::Nothing
        } else {
            RefundAction::Append {
                amount_minor: -reverse,
                kind: EntryKind::Clawback,
                status: EntryStatus::Approved,
            }
        };
    }
    if completes {
        return RefundAction::VoidCommission;
    }
    if reverse == 0 {
        RefundAction::Nothing
    } else {
        RefundAction::Append {
            amount_minor: -reverse,
            kind: EntryKind::Clawback,
            status: state.status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state(status: EntryStatus, refunded: i64, reversed: i64) -> CommissionState {
        CommissionState {
            commission_minor: 2_000,
            status,
            sale_minor: 10_000,
            refunded_minor: refunded,
            reversed_minor: reversed,
            held_by_payout: false,
        }
    }

    #[test]
    fn refunds_before_payout_void_or_reduce() {
        assert_eq!(
            on_refund(&state(EntryStatus::Pending, 0, 0), 10_000),
            RefundAction::VoidCommission
        );
        assert_eq!(
            on_refund(&state(EntryStatus::Approved, 0, 0), 2_500),
            RefundAction::Append {
                amount_minor: -500,
                kind: EntryKind::Clawback,
                status: EntryStatus::Approved
            }
        );
        assert_eq!(
            on_refund(&state(EntryStatus::Pending, 2_500, -500), 7_500),
            RefundAction::VoidCommission
        );
    }

    #[test]
    fn refunds_after_payout_claw_back() {
        assert_eq!(
            on_refund(&state(EntryStatus::Paid, 0, 0), 10_000),
            RefundAction::Append {
                amount_minor: -2_000,
                kind: EntryKind::Clawback,
                status: EntryStatus::Approved
            }
        );
        assert_eq!(
            on_refund(&state(EntryStatus::Void, 0, 0), 10_000),
            RefundAction::Nothing
        );
    }

    #[test]
    fn a_refund_of_a_commission_a_payout_holds_claws_back_instead_of_voiding() {
        let held = CommissionState {
            held_by_payout: true,
            ..state(EntryStatus::Approved, 0, 0)
        };
        assert_eq!(
            on_refund(&held, 10_000),
            RefundAction::Append {
                amount_minor: -2_000,
                kind: EntryKind::Clawback,
                status: EntryStatus::Approved
            }
        );
        // An earlier partial reversal is counted once: a full refund takes back only the rest.
        let partly = CommissionState {
            held_by_payout: true,
            ..state(EntryStatus::Approved, 2_500, -500)
        };
        assert_eq!(
            on_refund(&partly, 7_500),
            RefundAction::Append {
                amount_minor: -1_500,
                kind: EntryKind::Clawback,
                status: EntryStatus::Approved
            }
        );
    }

    #[test]
    fn status_only_moves_forward() {
        assert!(EntryStatus::Pending.may_become(EntryStatus::Approved));
        assert!(EntryStatus::Approved.may_become(EntryStatus::Paid));
        assert!(!EntryStatus::Paid.may_become(EntryStatus::Pending));
        assert!(!EntryStatus::Void.may_become(EntryStatus::Approved));
        assert!(!EntryStatus::Paid.may_become(EntryStatus::Void));
    }

    #[derive(Debug, Clone)]
    struct Entry {
        amount: i64,
        status: EntryStatus,
        of_sale: usize,
        is_commission: bool,
    }

    #[derive(Debug, Clone)]
    enum Step {
        Sale { amount: i64, bps: i64 },
        Refund { sale: usize, amount: i64 },
        Approve,
        Pay,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1i64..100_000, 0i64..=10_000).prop_map(|(amount, bps)| Step::Sale { amount, bps }),
            (0usize..8, 1i64..100_000).prop_map(|(sale, amount)| Step::Refund { sale, amount }),
            Just(Step::Approve),
            Just(Step::Pay),
        ]
    }

    proptest! {
        /// Over any sequence of sales, refunds, approvals and payouts: what the ledger nets (entries not void) equals
        /// the commissions the rules gave minus the share refunded, and entries only ever move status forward.
        #[test]
        fn the_ledger_nets_commissions_minus_refunds(steps in proptest::collection::vec(step(), 1..40)) {
            let mut entries: Vec<Entry> = Vec::new();
            let mut sales: Vec<(i64, i64, i64)> = Vec::new(); // (amount, commission, refunded)
            for step in steps {
                let before: Vec<Entry> = entries.clone();
                match step {
                    Step::Sale { amount, bps } => {
                        let commission = crate::domain::money::apply_rate(amount, bps);
                        sales.push((amount, commission, 0));
                        entries.push(Entry { amount: commission, status: EntryStatus::Pending, of_sale: sales.len() - 1, is_commission: true });
                    }
                    Step::Refund { sale, amount } => {
                        let Some(&(sale_amount, commission, refunded)) = sales.get(sale) else { continue };
                        let left = sale_amount - refunded;
                        if left == 0 { continue; }
                        let refund = amount.min(left);
                        let commission_entry = entries.iter().position(|e| e.of_sale == sale && e.is_commission).unwrap();
                        let reversed: i64 = entries.iter().filter(|e| e.of_sale == sale && !e.is_commission && e.status != EntryStatus::Void).map(|e| e.amount).sum();
                        let state = CommissionState { commission_minor: commission, status: entries[commission_entry].status, sale_minor: sale_amount, refunded_minor: refunded, reversed_minor: reversed, held_by_payout: false };
                        match on_refund(&state, refund) {
                            RefundAction::VoidCommission => {
                                for e in entries.iter_mut().filter(|e| e.of_sale == sale && e.status != EntryStatus::Paid) {
                                    e.status = EntryStatus::Void;
                                }
                            }
                            RefundAction::Append { amount_minor, status, .. } => entries.push(Entry { amount: amount_minor, status, of_sale: sale, is_commission: false }),
                            RefundAction::Nothing => {}
                        }
                        sales[sale].2 += refund;
                    }
                    Step::Approve => entries.iter_mut().filter(|e| e.status == EntryStatus::Pending).for_each(|e| e.status = EntryStatus::Approved),
                    Step::Pay => entries.iter_mut().filter(|e| e.status == EntryStatus::Approved).for_each(|e| e.status = EntryStatus::Paid),
                }
                // Written entries keep their amount; status only moves forward.
                for (old, new) in before.iter().zip(entries.iter()) {
                    prop_assert_eq!(old.amount, new.amount);
                    prop_assert!(old.status == new.status || old.status.may_become(new.status), "{:?} -> {:?}", old.status, new.status);
                }
            }
            let ledger: i64 = entries.iter().filter(|e| e.status != EntryStatus::Void).map(|e| e.amount).sum();
            let expected: i64 = sales.iter().map(|(amount, commission, refunded)| commission - crate::domain::money::share(*commission, *refunded, *amount)).sum();
            prop_assert_eq!(ledger, expected);
        }
    }
}
