//! Hourly click counts per link and filter reason (`''` for counted clicks), kept in step with the clicks: they are
//! added in the transaction that stores the clicks (`clicks::insert_batch`), once per (hour, link, reason) of each
//! round rather than once per click. Pages read these instead of summing raw clicks, and `rebuild_clicks` computes
//! them again from the raw rows that remain (upgrades, repairs).

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;

use super::clicks::NewClick;
use crate::platform::db::schema::click_rollups;
use crate::platform::db::DbConn;

/// The start of the hour `at` falls in.
pub fn hour_of(at: NaiveDateTime) -> NaiveDateTime {
    at.date()
        .and_hms_opt(at.hour(), 0, 0)
        .expect("an hour of a day")
}

/// Adds freshly stored clicks to their hours' counts, inside the transaction that stores them.
pub fn add_clicks(conn: &mut DbConn, clicks: &[NewClick]) -> QueryResult<()> {
    let mut counts: BTreeMap<(NaiveDateTime, i64, &'static str), (i64, i64)> = BTreeMap::new();
    for click in clicks {
        let reason = click.filtered_reason.map_or("", |r| r.as_str());
        let entry = counts
            .entry((hour_of(click.clicked_at), click.link_id, reason))
            .or_insert((click.partner_org_id, 0));
        entry.1 += 1;
    }
    for ((hour, link_id, reason), (partner_org_id, n)) in counts {
        // The same upsert on either backend; diesel's ON CONFLICT is not available through the MultiConnection.
        macro_rules! upsert {
            ($c:expr) => {
                diesel::insert_into(click_rollups::table)
                    .values((
                        click_rollups::hour.eq(hour),
                        click_rollups::link_id.eq(link_id),
                        click_rollups::partner_org_id.eq(partner_org_id),
                        click_rollups::filtered_reason.eq(reason),
                        click_rollups::clicks.eq(n),
                    ))
                    .on_conflict((
                        click_rollups::hour,
                        click_rollups::link_id,
                        click_rollups::filtered_reason,
                    ))
                    .do_update()
                    .set(click_rollups::clicks.eq(click_rollups::clicks + n))
                    .execute($c)
            };
        }
        match conn {
            DbConn::Pg(c) => upsert!(c)?,
            DbConn::Sqlite(c) => upsert!(c)?,
        };
    }
    Ok(())
}

/// Click counts per link since `since` (from the start of its hour): (link, all clicks, counted clicks).
pub fn clicks_per_link(
    conn: &mut DbConn,
    link_ids: &[i64],
    since: NaiveDateTime,
) -> QueryResult<Vec<(i64, i64, i64)>> {
    let rows: Vec<(i64, String, i64)> = click_rollups::table
        .filter(click_rollups::link_id.eq_any(link_ids))
        .filter(click_rollups::hour.ge(hour_of(since)))
        .select((
            click_rollups::link_id,
            click_rollups::filtered_reason,
            click_rollups::clicks,
        ))
        .load(conn)?;
    let mut per_link: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for (link, reason, n) in rows {
        let entry = per_link.entry(link).or_default();
        entry.0 += n;
        if reason.is_empty() {
            entry.1 += n;
        }
    }
    Ok(per_link
        .into_iter()
        .map(|(link, (all, counted))| (link, all, counted))
        .collect())
}

/// Recomputes the rollups of the hours in `[from, to)` (whole hours; `None` for no bound) from the raw clicks.
pub fn rebuild_clicks(
    conn: &mut DbConn,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    use diesel::sql_types::Timestamp;
    let from = from.map(hour_of).unwrap_or_default();
    let to = to
        .map(|t| {
            let hour = hour_of(t);
            if hour == t {
                hour
            } else {
                hour + chrono::Duration::hours(1)
            }
        })
        .unwrap_or_else(far_future);
    conn.transaction(|conn| {
        diesel::delete(
            click_rollups::table
                .filter(click_rollups::hour.ge(from))
                .filter(click_rollups::hour.lt(to)),
        )
        .execute(conn)?;
        let (hour, first, second) = match conn {
            DbConn::Pg(_) => ("date_trunc('hour', clicked_at)", "$1", "$2"),
            DbConn::Sqlite(_) => ("strftime('%Y-%m-%d %H:00:00', clicked_at)", "?", "?"),
        };
        diesel::sql_query(format!(
            "INSERT INTO click_rollups (hour, link_id, partner_org_id, filtered_reason, clicks) \
             SELECT {hour}, link_id, partner_org_id, COALESCE(filtered_reason, ''), COUNT(*) FROM clicks \
             WHERE clicked_at >= {first} AND clicked_at < {second} GROUP BY 1, 2, 3, 4"
        ))
        .bind::<Timestamp, _>(from)
        .bind::<Timestamp, _>(to)
        .execute(conn)
    })
}

/// Later than any click: a bound that sorts after every stored timestamp, as text on SQLite too (chrono writes
/// years past 9999 with a sign).
fn far_future() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn an_hour_starts_on_the_hour() {
        let at = NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_micro_opt(23, 59, 59, 999_999)
            .unwrap();
        assert_eq!(
            hour_of(at),
            NaiveDate::from_ymd_opt(2026, 3, 1)
                .unwrap()
                .and_hms_opt(23, 0, 0)
                .unwrap()
        );
    }
}
