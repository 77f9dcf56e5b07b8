//! A payout's status, shared: the payouts context moves it, and the ledger reads it to know which entries a
//! payout holds (an entry in a pending or paid payout is not the partner's to lose to a refund any more).

crate::text_enum!(PayoutStatus {
    Pending => "pending" / "In progress",
    Paid => "paid" / "Paid",
    Failed => "failed" / "Failed",
    Reversed => "reversed" / "Reversed",
    Cancelled => "cancelled" / "Cancelled",
});
