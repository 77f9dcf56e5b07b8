//! Clicks on referral links. Written in batches by the click writer (one transaction per batch), read back for
//! attribution and dashboards.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::clicks;
use super::DbConn;
use crate::domain::affiliate::ClickFilter;
use crate::domain::attribution::ClickFact;
use crate::domain::stats::ClickDay;

/// A click to store. Serialisable, because the click writer spools what the database cannot take just now.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NewClick {
    pub click_id: String,
    pub link_id: i64,
    pub partner_org_id: i64,
    pub clicked_at: NaiveDateTime,
    pub ip_hash: String,
    pub user_agent: String,
    pub referrer: String,
    pub sub_id: String,
    pub prior_click_id: Option<String>,
    pub filtered_reason: Option<ClickFilter>,
}

#[derive(Insertable)]
#[diesel(table_name = clicks)]
struct ClickRow<'a> {
    click_id: &'a str,
    link_id: i64,
    partner_org_id: i64,
    clicked_at: NaiveDateTime,
    ip_hash: &'a str,
    user_agent: &'a str,
    referrer: &'a str,
    sub_id: &'a str,
    prior_click_id: Option<&'a str>,
    filtered_reason: Option<&'a str>,
}

/// Rows per INSERT statement: 10 columns each, well under SQLite's limit on bound parameters.
const ROWS_PER_STATEMENT: usize = 200;

/// Stores a batch of clicks in one transaction, as multi-row INSERTs: all of them are durable when this returns Ok.
pub fn insert_batch(conn: &mut DbConn, batch: &[NewClick]) -> QueryResult<()> {
    let rows: Vec<ClickRow> = batch
        .iter()
        .map(|c| ClickRow {
            click_id: &c.click_id,
            link_id: c.link_id,
            partner_org_id: c.partner_org_id,
            clicked_at: c.clicked_at,
            ip_hash: &c.ip_hash,
            user_agent: &c.user_agent,
            referrer: &c.referrer,
            sub_id: &c.sub_id,
            prior_click_id: c.prior_click_id.as_deref(),
            filtered_reason: c.filtered_reason.map(ClickFilter::as_str),
        })
        .collect();
    conn.transaction(|conn| {
        match conn {
            // Multi-row VALUES saves PostgreSQL round trips (it is not available through MultiConnection, so the
            // backend takes it directly).
            DbConn::Pg(c) => {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    diesel::insert_into(clicks::table)
                        .values(chunk)
                        .execute(c)?;
                }
            }
            // SQLite has no round trips to save, and one single-row INSERT stays prepared in the statement cache,
            // where a multi-row one of each batch size would be parsed afresh.
            DbConn::Sqlite(c) => {
                for row in &rows {
                    diesel::insert_into(clicks::table).values(row).execute(c)?;
                }
            }
        }
        Ok(())
    })
}

/// Stores those clicks of `batch` whose `click_id` is not stored yet, in one transaction, and says how many that
/// was. Replaying a spooled batch twice (a crash between its commit and the spool file's removal) stores it once.
pub fn insert_missing(conn: &mut DbConn, batch: &[NewClick]) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let mut stored = std::collections::HashSet::new();
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let ids: Vec<&str> = chunk.iter().map(|c| c.click_id.as_str()).collect();
            stored.extend(
                clicks::table
                    .filter(clicks::click_id.eq_any(ids))
                    .select(clicks::click_id)
                    .load::<String>(conn)?,
            );
        }
        let missing: Vec<NewClick> = batch
            .iter()
            .filter(|c| !stored.contains(&c.click_id))
            .cloned()
            .collect();
        insert_batch(conn, &missing)?;
        Ok(missing.len())
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clicks)]
pub struct Click {
    pub id: i64,
    pub click_id: String,
    pub link_id: i64,
    pub partner_org_id: i64,
    pub clicked_at: NaiveDateTime,
    pub ip_hash: String,
    pub user_agent: String,
    pub referrer: String,
    pub sub_id: String,
    pub prior_click_id: Option<String>,
    pub filtered_reason: Option<String>,
}

pub fn find(conn: &mut DbConn, click_id: &str) -> QueryResult<Option<Click>> {
    clicks::table
        .filter(clicks::click_id.eq(click_id))
        .select(Click::as_select())
        .first(conn)
        .optional()
}

/// The click and the clicks before it in the same browser, newest first, at most `limit` long.
pub fn chain(conn: &mut DbConn, click_id: &str, limit: usize) -> QueryResult<Vec<Click>> {
    let mut chain = Vec::new();
    let mut next = Some(click_id.to_string());
    while let Some(id) = next.take() {
        if chain.len() >= limit {
            break;
        }
        let Some(click) = find(conn, &id)? else { break };
        next = click
            .prior_click_id
            .clone()
            .filter(|prior| !chain.iter().any(|c: &Click| &c.click_id == prior));
        chain.push(click);
    }
    Ok(chain)
}

impl Click {
    pub fn fact(&self) -> ClickFact {
        ClickFact {
            click_id: self.click_id.clone(),
            partner_org_id: self.partner_org_id,
            clicked_at: self.clicked_at,
            filtered: self.filtered_reason.as_deref().and_then(|r| r.parse().ok()),
        }
    }
}

/// An org's clicks since `since`, summed per day and filter reason by the database (a busy partner has thousands
/// a day).
pub fn daily_counts(
    conn: &mut DbConn,
    partner_org_id: i64,
    since: NaiveDateTime,
) -> QueryResult<Vec<ClickDay>> {
    use diesel::sql_types::{BigInt, Date, Nullable, Text, Timestamp};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Date)]
        day: chrono::NaiveDate,
        #[diesel(sql_type = Nullable<Text>)]
        filtered_reason: Option<String>,
        #[diesel(sql_type = BigInt)]
        clicks: i64,
    }
    // Only the day of a timestamp differs between the backends.
    let query = |day: &str| {
        diesel::sql_query(format!(
            "SELECT {day} AS day, filtered_reason, COUNT(*) AS clicks FROM clicks \
             WHERE partner_org_id = $1 AND clicked_at >= $2 GROUP BY 1, 2"
        ))
        .bind::<BigInt, _>(partner_org_id)
        .bind::<Timestamp, _>(since)
    };
    let rows: Vec<Row> = match conn {
        DbConn::Pg(c) => query("CAST(clicked_at AS DATE)").load(c)?,
        DbConn::Sqlite(c) => query("date(clicked_at)").load(c)?,
    };
    Ok(rows
        .into_iter()
        .map(|row| ClickDay {
            date: row.day,
            filtered_reason: row.filtered_reason,
            clicks: row.clicks,
        })
        .collect())
}
