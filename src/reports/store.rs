//! Figures for the program report, summed by the database per partner.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::rules::PartnerFigures;
use crate::domain::conversion::ReviewStatus;
use crate::ledger::rules::{EntryKind, EntryStatus};
use crate::platform::db::schema::{clicks, conversions, ledger_entries, partner_orgs, refunds};
use crate::platform::db::DbConn;

/// Every partner of the program with its figures for [from, to), in the program currency.
pub fn partner_figures(
    conn: &mut DbConn,
    program_id: i64,
    currency: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<PartnerFigures>> {
    let partners: Vec<(i64, String)> = partner_orgs::table
        .filter(partner_orgs::program_id.eq(program_id))
        .select((partner_orgs::id, partner_orgs::name))
        .load(conn)?;
    let click_counts: Vec<(i64, i64)> = clicks::table
        .filter(clicks::filtered_reason.is_null())
        .filter(clicks::clicked_at.ge(from))
        .filter(clicks::clicked_at.lt(to))
        .group_by(clicks::partner_org_id)
        .select((clicks::partner_org_id, diesel::dsl::count_star()))
        .load(conn)?;
    let conversion_sums: Vec<(Option<i64>, String, String, i64, i64)> = conversions::table
        .filter(conversions::program_id.eq(program_id))
        .filter(conversions::partner_org_id.is_not_null())
        .filter(conversions::review_status.ne(ReviewStatus::Rejected))
        .filter(conversions::occurred_at.ge(from))
        .filter(conversions::occurred_at.lt(to))
        .group_by((
            conversions::partner_org_id,
            conversions::kind,
            conversions::currency,
        ))
        .select((
            conversions::partner_org_id,
            conversions::kind,
            conversions::currency,
            diesel::dsl::count_star(),
            diesel::dsl::sql::<BigInt>("CAST(SUM(amount_minor) AS BIGINT)"),
        ))
        .load(conn)?;
    // What was refunded of those sales: revenue is what the merchant kept.
    let refund_sums: Vec<(Option<i64>, String, i64)> = refunds::table
        .inner_join(conversions::table)
        .filter(conversions::program_id.eq(program_id))
        .filter(conversions::partner_org_id.is_not_null())
        .filter(conversions::review_status.ne(ReviewStatus::Rejected))
        .filter(conversions::occurred_at.ge(from))
        .filter(conversions::occurred_at.lt(to))
        .group_by((conversions::partner_org_id, conversions::currency))
        .select((
            conversions::partner_org_id,
            conversions::currency,
            diesel::dsl::sql::<BigInt>("CAST(SUM(refunds.amount_minor) AS BIGINT)"),
        ))
        .load(conn)?;
    let commission_sums: Vec<(i64, String, i64)> = ledger_entries::table
        .filter(ledger_entries::kind.eq_any([EntryKind::Commission, EntryKind::Clawback]))
        .filter(ledger_entries::status.ne(EntryStatus::Void))
        .filter(ledger_entries::created_at.ge(from))
        .filter(ledger_entries::created_at.lt(to))
        .group_by((ledger_entries::partner_org_id, ledger_entries::currency))
        .select((
            ledger_entries::partner_org_id,
            ledger_entries::currency,
            diesel::dsl::sql::<BigInt>("CAST(SUM(amount_minor) AS BIGINT)"),
        ))
        .load(conn)?;

    Ok(partners
        .into_iter()
        .map(|(id, name)| {
            let mut figures = PartnerFigures {
                partner_org_id: id,
                name,
                ..Default::default()
            };
            figures.clicks = click_counts
                .iter()
                .find(|(p, _)| *p == id)
                .map(|(_, n)| *n)
                .unwrap_or(0);
            for (_, kind, row_currency, count, sum) in
                conversion_sums.iter().filter(|(p, ..)| *p == Some(id))
            {
                figures.conversions += count;
                if kind == "sale" {
                    if row_currency == currency {
                        figures.revenue_minor = figures.revenue_minor.saturating_add(*sum);
                    } else {
                        figures.other_currencies = true;
                    }
                }
            }
            for (_, row_currency, sum) in refund_sums.iter().filter(|(p, ..)| *p == Some(id)) {
                if row_currency == currency {
                    figures.revenue_minor = figures.revenue_minor.saturating_sub(*sum);
                }
            }
            for (_, row_currency, sum) in commission_sums.iter().filter(|(p, ..)| *p == id) {
                if row_currency == currency {
                    figures.commission_minor = figures.commission_minor.saturating_add(*sum);
                } else {
                    figures.other_currencies = true;
                }
            }
            figures
        })
        .collect())
}
