//! Conversions reported by the merchant: attributed to a partner by the documented rules (`attribution`), checked
//! against the fraud rules (`fraud`), recorded once per external id with their commission, reviewed when held, and
//! refunded. `request` reads what the merchant's server sent; `kind` names leads and sales.

pub mod request;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::accounts::store::users;
use crate::affiliate::attribution::{attribute, AttributedBy, Attribution, Evidence};
use crate::affiliate::fraud::{flags, FraudFacts};
use crate::affiliate::store::{clicks, coupons, customers};
pub use crate::domain::conversion::{ConversionKind, ReviewStatus};
use crate::platform::audit::{self, Actor, Change, Subject};
use crate::platform::db::schema::{conversions, refunds};
use crate::platform::db::{self, is_unique_violation, now, DbConn, Lock};
use crate::programs::Program;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = conversions)]
pub struct Conversion {
    pub id: i64,
    pub program_id: i64,
    pub external_id: String,
    pub kind: ConversionKind,
    pub amount_minor: i64,
    pub currency: String,
    pub partner_org_id: Option<i64>,
    pub attributed_by: Option<String>,
    pub click_id: Option<String>,
    pub customer_external_id: Option<String>,
    pub coupon_code: Option<String>,
    pub product: Option<String>,
    pub customer_email: Option<String>,
    pub ip_hash: Option<String>,
    pub occurred_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub review_status: ReviewStatus,
    pub flag_reasons: String,
    pub review_reason: Option<String>,
}

impl Conversion {
    pub fn flag_list(&self) -> Vec<&str> {
        self.flag_reasons
            .lines()
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// A conversion as the API received it, already validated.
#[derive(Debug, Clone)]
pub struct ConversionInput {
    pub external_id: String,
    pub kind: ConversionKind,
    pub amount_minor: i64,
    pub currency: String,
    pub click_id: Option<String>,
    pub customer_id: Option<String>,
    /// Lowercased coupon code.
    pub coupon_key: Option<String>,
    pub coupon_code: Option<String>,
    pub product: Option<String>,
    pub customer_email: Option<String>,
    pub occurred_at: NaiveDateTime,
}

pub fn find_by_external_id(
    conn: &mut DbConn,
    program_id: i64,
    external_id: &str,
) -> QueryResult<Option<Conversion>> {
    conversions::table
        .filter(conversions::program_id.eq(program_id))
        .filter(conversions::external_id.eq(external_id))
        .select(Conversion::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Conversion>> {
    conversions::table
        .find(id)
        .select(Conversion::as_select())
        .first(conn)
        .optional()
}

/// Records a conversion once. Returns it and whether this call created it; a repeat of the same external id (even
/// a concurrent one: the UNIQUE constraint decides) returns the conversion recorded first.
#[tracing::instrument(skip_all)]
pub fn record(
    conn: &mut DbConn,
    program: &Program,
    input: &ConversionInput,
) -> QueryResult<(Conversion, bool)> {
    if let Some(existing) = find_by_external_id(conn, program.id, &input.external_id)? {
        return Ok((existing, false));
    }
    let coupon_partner = match &input.coupon_key {
        Some(key) => coupons::find_by_key(conn, key)?.map(|c| c.partner_org_id),
        None => None,
    };
    let chain = match &input.click_id {
        Some(id) => clicks::chain(conn, id, 20)?,
        None => Vec::new(),
    };
    let customer_partner = match &input.customer_id {
        Some(id) => customers::bound_partner(conn, program.id, id)?,
        None => None,
    };
    let evidence = Evidence {
        coupon_partner,
        click_chain: chain.iter().map(clicks::Click::fact).collect(),
        customer_partner,
    };
    let attribution = attribute(
        &evidence,
        program.attribution_model(),
        program.cookie_window_days,
        input.occurred_at,
    );

    let presented_click = chain.first();
    let ip_hash = presented_click.map(|c| c.ip_hash.clone());
    let reasons = match &attribution {
        None => Vec::new(),
        Some(won) => fraud_reasons(conn, program, input, won, &chain, ip_hash.as_deref())?,
    };
    let review = if reasons.is_empty() {
        ReviewStatus::None
    } else {
        ReviewStatus::Held
    };

    let inserted = conn.transaction(|conn| {
        let id: i64 = diesel::insert_into(conversions::table)
            .values((
                conversions::program_id.eq(program.id),
                conversions::external_id.eq(&input.external_id),
                conversions::kind.eq(input.kind),
                conversions::amount_minor.eq(input.amount_minor),
                conversions::currency.eq(&input.currency),
                conversions::partner_org_id.eq(attribution.as_ref().map(|a| a.partner_org_id)),
                conversions::attributed_by.eq(attribution.as_ref().map(|a| a.by.as_str())),
                conversions::click_id.eq(attribution
                    .as_ref()
                    .and_then(|a| a.click_id.clone())
                    .or(input.click_id.clone())),
                conversions::customer_external_id.eq(&input.customer_id),
                conversions::coupon_code.eq(&input.coupon_code),
                conversions::product.eq(&input.product),
                conversions::customer_email.eq(&input.customer_email),
                conversions::ip_hash.eq(&ip_hash),
                conversions::occurred_at.eq(input.occurred_at),
                conversions::created_at.eq(now()),
                conversions::review_status.eq(review),
                conversions::flag_reasons.eq(reasons.join("\n")),
            ))
            .returning(conversions::id)
            .get_result(conn)?;
        // The partner that brought a customer keeps them: later conversions with only the customer id follow.
        if let (Some(customer), Some(won)) = (&input.customer_id, &attribution) {
            if won.by != AttributedBy::Customer {
                customers::bind(conn, program.id, customer, won.partner_org_id)?;
            }
        }
        if let Some(won) = &attribution {
            write_commission(conn, program, id, input, won.partner_org_id)?;
        }
        crate::webhooks::emit(
            conn,
            program.id,
            crate::webhooks::EventType::ConversionCreated,
            serde_json::json!({"conversion_id": id, "external_id": input.external_id, "kind": input.kind.as_str(),
                "amount": input.amount_minor, "currency": input.currency,
                "partner_id": attribution.as_ref().map(|a| a.partner_org_id)}),
        )?;
        Ok(id)
    });
    match inserted {
        Ok(id) => Ok((
            find(conn, id)?.ok_or(diesel::result::Error::NotFound)?,
            true,
        )),
        Err(e) if is_unique_violation(&e) => {
            let existing = find_by_external_id(conn, program.id, &input.external_id)?.ok_or(e)?;
            Ok((existing, false))
        }
        Err(e) => Err(e),
    }
}

/// Why a conversion attributed to `won` should wait for review, if it should (see `fraud::flags`): the partner's
/// status, a customer who is the partner, a click too soon before the sale, too many conversions from one IP.
fn fraud_reasons(
    conn: &mut DbConn,
    program: &Program,
    input: &ConversionInput,
    won: &Attribution,
    chain: &[clicks::Click],
    ip_hash: Option<&str>,
) -> QueryResult<Vec<String>> {
    let partner_status: crate::domain::partner::PartnerStatus = db::schema::partner_orgs::table
        .find(won.partner_org_id)
        .select(db::schema::partner_orgs::status)
        .first::<String>(conn)?
        .parse()
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
    let partner_emails: Vec<String> = users::list_for_org(conn, won.partner_org_id)?
        .into_iter()
        .map(|u| u.email)
        .collect();
    let winning_click = won
        .click_id
        .as_ref()
        .and_then(|id| chain.iter().find(|c| &c.click_id == id));
    let from_ip = match ip_hash {
        Some(hash) => conversions::table
            .filter(conversions::program_id.eq(program.id))
            .filter(conversions::ip_hash.eq(hash))
            .filter(conversions::created_at.gt(now() - Duration::hours(1)))
            .count()
            .get_result(conn)?,
        None => 0,
    };
    Ok(flags(&FraudFacts {
        customer_email: input.customer_email.as_deref(),
        partner_emails: &partner_emails,
        clicked_at: winning_click.map(|c| c.clicked_at),
        occurred_at: input.occurred_at,
        min_seconds_to_convert: program.min_seconds_to_convert,
        conversions_from_ip_last_hour: from_ip,
        max_conversions_per_ip_hour: program.max_conversions_per_ip_hour,
        partner_status,
    }))
}

/// Months from the first to the second date, counting calendar months: the same month is month 1.
fn calendar_month(first: NaiveDateTime, then: NaiveDateTime) -> i64 {
    use chrono::Datelike;
    (then.year() as i64 * 12 + then.month() as i64)
        - (first.year() as i64 * 12 + first.month() as i64)
        + 1
}

/// Computes the commission of a freshly recorded conversion from the program's rules and appends it to the ledger,
/// pending until the hold ends.
fn write_commission(
    conn: &mut DbConn,
    program: &Program,
    conversion_id: i64,
    input: &ConversionInput,
    partner_org_id: i64,
) -> QueryResult<()> {
    use crate::commissions::rules::{compute, CommissionContext};
    use crate::domain::money::{Currency, Money};
    use chrono::Datelike;

    let rules: Vec<_> = crate::commissions::store::list(conn, program.id)?
        .iter()
        .map(|r| r.rule())
        .collect();
    if rules.is_empty() {
        return Ok(());
    }
    let tier_id: Option<i64> = crate::platform::db::schema::partner_orgs::table
        .find(partner_org_id)
        .select(crate::platform::db::schema::partner_orgs::tier_id)
        .first(conn)?;
    let tier = match tier_id {
        Some(tier_id) => crate::tiers::store::find(conn, program.id, tier_id)?,
        None => None,
    };
    let month_start = input
        .occurred_at
        .date()
        .with_day(1)
        .expect("day 1")
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    let sales_earlier_this_month: i64 = conversions::table
        .filter(conversions::partner_org_id.eq(partner_org_id))
        .filter(conversions::kind.eq(ConversionKind::Sale))
        .filter(conversions::review_status.ne(ReviewStatus::Rejected))
        .filter(conversions::occurred_at.ge(month_start))
        .filter(
            conversions::occurred_at
                .lt(input.occurred_at)
                .or(conversions::occurred_at
                    .eq(input.occurred_at)
                    .and(conversions::id.lt(conversion_id))),
        )
        .count()
        .get_result(conn)?;
    let first_sale: Option<NaiveDateTime> = match &input.customer_id {
        Some(customer) => conversions::table
            .filter(conversions::program_id.eq(program.id))
            .filter(conversions::partner_org_id.eq(partner_org_id))
            .filter(conversions::customer_external_id.eq(customer))
            .filter(conversions::kind.eq(ConversionKind::Sale))
            .filter(conversions::id.ne(conversion_id))
            .select(diesel::dsl::min(conversions::occurred_at))
            .first(conn)?,
        None => None,
    };
    let currency = Currency::parse(&input.currency)
        .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
    let context = CommissionContext {
        kind: input.kind,
        amount: Money::new(input.amount_minor, currency),
        product: input.product.as_deref(),
        program_currency: program.currency(),
        partner_tier_id: tier_id,
        partner_tier_name: tier.as_ref().map(|t| t.name.as_str()),
        tier_override_bps: tier.as_ref().and_then(|t| t.commission_override_bps),
        sales_earlier_this_month,
        customer_month: first_sale
            .map(|first| calendar_month(first, input.occurred_at).max(1))
            .unwrap_or(1),
        first_sale_of_customer: first_sale.is_none_or(|first| first > input.occurred_at),
    };
    let Some(commission) = compute(&rules, &context) else {
        return Ok(());
    };
    crate::ledger::store::append(
        conn,
        &crate::ledger::store::NewEntry {
            partner_org_id,
            amount_minor: commission.amount.minor,
            currency: commission.amount.currency.code(),
            kind: crate::ledger::rules::EntryKind::Commission,
            status: crate::ledger::rules::EntryStatus::Pending,
            available_at: input.occurred_at + Duration::days(program.hold_days),
            source_type: "conversion",
            source_id: conversion_id,
            conversion_id: Some(conversion_id),
            rule_id: Some(commission.rule_id),
            explanation: &commission.explanation,
        },
    )?;
    Ok(())
}

/// Held conversions first, then the most recent, for the admin review queue.
pub fn list_for_review(
    conn: &mut DbConn,
    program_id: i64,
    flagged_only: bool,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<Conversion>> {
    let mut query = conversions::table
        .filter(conversions::program_id.eq(program_id))
        .into_boxed();
    if flagged_only {
        query = query.filter(conversions::flag_reasons.ne(""));
    }
    query
        .order(conversions::id.desc())
        .offset(window.offset)
        .limit(window.limit)
        .select(Conversion::as_select())
        .load(conn)
}

/// An admin's verdict on a held conversion. Returns false when it was not held.
pub fn review(
    conn: &mut DbConn,
    id: i64,
    approve: bool,
    reason: &str,
    actor: &Actor,
) -> QueryResult<bool> {
    db::exclusive_transaction(conn, |conn| {
        db::lock(conn, Lock::Sale, &[id])?;
        let verdict = if approve {
            ReviewStatus::Approved
        } else {
            ReviewStatus::Rejected
        };
        let changed = diesel::update(
            conversions::table
                .filter(conversions::id.eq(id))
                .filter(conversions::review_status.eq(ReviewStatus::Held)),
        )
        .set((
            conversions::review_status.eq(verdict),
            conversions::review_reason.eq(reason),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Ok(false);
        }
        let conversion = find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
        if !approve {
            // A rejected conversion earns nothing: its commission is voided, or clawed back if a payout took it.
            if let Some(org) = conversion.partner_org_id {
                db::lock(conn, Lock::PartnerOrg, &[org])?;
            }
            let entries = crate::ledger::store::for_conversion(conn, id)?;
            crate::ledger::take_back(conn, &entries, reason, "conversion_rejection", id)?;
        }
        audit::record(
            conn,
            actor,
            if approve {
                "conversion.approve"
            } else {
                "conversion.reject"
            },
            &Subject {
                kind: "conversion",
                id: Some(id),
                label: &conversion.external_id,
            },
            &Change {
                reason: Some(reason),
                before: Some(ReviewStatus::Held.as_str()),
                after: Some(verdict.as_str()),
            },
        )?;
        Ok(true)
    })
}

/// Conversions of a partner since a moment, oldest first, each with what has been refunded of it.
pub fn for_partner_since(
    conn: &mut DbConn,
    partner_org_id: i64,
    since: NaiveDateTime,
) -> QueryResult<Vec<(Conversion, i64)>> {
    let rows: Vec<Conversion> = conversions::table
        .filter(conversions::partner_org_id.eq(partner_org_id))
        .filter(conversions::occurred_at.ge(since))
        .order(conversions::occurred_at)
        .select(Conversion::as_select())
        .load(conn)?;
    let refunded: Vec<(i64, i64)> = refunds::table
        .inner_join(conversions::table)
        .filter(conversions::partner_org_id.eq(partner_org_id))
        .filter(conversions::occurred_at.ge(since))
        .group_by(refunds::conversion_id)
        .select((
            refunds::conversion_id,
            diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "CAST(SUM(refunds.amount_minor) AS BIGINT)",
            ),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|c| {
            let back = refunded
                .iter()
                .find(|(id, _)| *id == c.id)
                .map_or(0, |(_, sum)| *sum);
            (c, back)
        })
        .collect())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds)]
pub struct Refund {
    pub id: i64,
    pub program_id: i64,
    pub refund_id: String,
    pub conversion_id: i64,
    pub amount_minor: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("no sale with the external_id '{0}'")]
    UnknownSale(String),
    #[error("only sales can be refunded; '{0}' is a lead")]
    NotASale(String),
    #[error("the refund of {requested} exceeds the {left} left to refund on this sale")]
    TooLarge { requested: i64, left: i64 },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

impl db::DatabaseFailure for RefundError {
    fn database_error(&self) -> Option<&diesel::result::Error> {
        match self {
            RefundError::Database(e) => Some(e),
            _ => None,
        }
    }
}

/// Records a refund once per refund id. Without an amount the whole remaining sale is refunded. The sale's row is
/// locked while the refund is decided, so refunds of one sale are decided one after the other and never add up to
/// more than the sale (ledger invariant 1); the org's row is locked before its commission is reversed (invariant 3).
#[tracing::instrument(skip_all)]
pub fn refund(
    conn: &mut DbConn,
    program_id: i64,
    refund_id: &str,
    external_id: &str,
    amount: Option<i64>,
) -> Result<(Refund, bool), RefundError> {
    let existing = |conn: &mut DbConn| {
        refunds::table
            .filter(refunds::program_id.eq(program_id))
            .filter(refunds::refund_id.eq(refund_id))
            .select(Refund::as_select())
            .first(conn)
            .optional()
    };
    if let Some(done) = existing(conn)? {
        return Ok((done, false));
    }
    let sale = find_by_external_id(conn, program_id, external_id)?
        .ok_or_else(|| RefundError::UnknownSale(external_id.to_string()))?;
    if sale.kind != ConversionKind::Sale {
        return Err(RefundError::NotASale(external_id.to_string()));
    }
    let recorded = db::exclusive_transaction(conn, |conn| {
        db::lock(conn, Lock::Sale, &[sale.id])?;
        // A concurrent request with the same refund id may have been recorded while this one waited for the lock.
        if let Some(done) = existing(conn)? {
            return Ok((done.id, false));
        }
        let refunded_before = crate::domain::money::sum_minor(
            refunds::table
                .filter(refunds::conversion_id.eq(sale.id))
                .select(refunds::amount_minor)
                .load::<i64>(conn)?,
        );
        let left = sale.amount_minor - refunded_before;
        let requested = amount.unwrap_or(left);
        if requested > left || requested <= 0 {
            return Err(RefundError::TooLarge { requested, left });
        }
        let id: i64 = diesel::insert_into(refunds::table)
            .values((
                refunds::program_id.eq(program_id),
                refunds::refund_id.eq(refund_id),
                refunds::conversion_id.eq(sale.id),
                refunds::amount_minor.eq(requested),
                refunds::created_at.eq(now()),
            ))
            .returning(refunds::id)
            .get_result(conn)?;
        if let Some(org) = sale.partner_org_id {
            db::lock(conn, Lock::PartnerOrg, &[org])?;
            reverse_commission(conn, &sale, id, refunded_before, requested)?;
        }
        Ok((id, true))
    });
    match recorded {
        Ok((id, created)) => Ok((
            refunds::table
                .find(id)
                .select(Refund::as_select())
                .first(conn)?,
            created,
        )),
        Err(RefundError::Database(e)) if is_unique_violation(&e) => {
            Ok((existing(conn)?.ok_or(RefundError::Database(e))?, false))
        }
        Err(e) => Err(e),
    }
}

/// Hands a refund to the ledger: voids or reverses the sale's commission by the rules in `domain::ledger`.
fn reverse_commission(
    conn: &mut DbConn,
    sale: &Conversion,
    refund_row_id: i64,
    refunded_before: i64,
    refund_minor: i64,
) -> QueryResult<()> {
    use crate::ledger::rules::{on_refund, CommissionState, EntryKind, EntryStatus, RefundAction};
    let entries = crate::ledger::store::for_conversion(conn, sale.id)?;
    let Some(commission) = entries.iter().find(|e| e.kind == EntryKind::Commission) else {
        return Ok(());
    };
    let reversals: Vec<&crate::ledger::store::LedgerEntry> = entries
        .iter()
        .filter(|e| e.source_type == "refund" && e.status != EntryStatus::Void)
        .collect();
    let written: Vec<i64> = std::iter::once(commission.id)
        .chain(reversals.iter().map(|e| e.id))
        .collect();
    let state = CommissionState {
        commission_minor: commission.amount_minor,
        status: commission.status(),
        sale_minor: sale.amount_minor,
        refunded_minor: refunded_before,
        reversed_minor: crate::domain::money::sum_minor(reversals.iter().map(|e| e.amount_minor)),
        held_by_payout: !crate::ledger::store::held_by_payout(conn, &written)?.is_empty(),
    };
    let money = |minor: i64| {
        crate::domain::money::Money::new(
            minor,
            crate::domain::money::Currency::parse(&sale.currency).expect("ISO code"),
        )
    };
    match on_refund(&state, refund_minor) {
        RefundAction::Nothing => Ok(()),
        RefundAction::VoidCommission => {
            let reason = format!(
                "sale refunded ({} of {})",
                money(refunded_before + refund_minor),
                money(sale.amount_minor)
            );
            for entry in std::iter::once(commission).chain(reversals.iter().copied()) {
                let status = entry.status();
                if status.may_become(EntryStatus::Void) {
                    crate::ledger::store::advance(
                        conn,
                        &[entry.id],
                        status,
                        EntryStatus::Void,
                        Some(&reason),
                    )?;
                }
            }
            Ok(())
        }
        RefundAction::Append {
            amount_minor,
            kind,
            status,
        } => {
            let explanation = format!(
                "{} of the commission reversed: {} of the {} sale refunded{}",
                crate::domain::money::Money::new(-amount_minor, commission.money().currency),
                money(refund_minor),
                money(sale.amount_minor),
                if commission.status() == EntryStatus::Paid {
                    " after payout"
                } else if state.held_by_payout {
                    " while a payout in progress held the commission"
                } else {
                    ""
                }
            );
            crate::ledger::store::append(
                conn,
                &crate::ledger::store::NewEntry {
                    partner_org_id: commission.partner_org_id,
                    amount_minor,
                    currency: &commission.currency,
                    kind,
                    status,
                    available_at: if kind == EntryKind::Clawback && status == EntryStatus::Approved
                    {
                        now()
                    } else {
                        commission.available_at
                    },
                    source_type: "refund",
                    source_id: refund_row_id,
                    conversion_id: Some(sale.id),
                    rule_id: commission.rule_id,
                    explanation: &explanation,
                },
            )?;
            Ok(())
        }
    }
}
