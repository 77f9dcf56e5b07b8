//! Clicks on referral links. Written in batches from the click journal (one transaction per batch), read back for
//! attribution and dashboards.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::affiliate::attribution::ClickFact;
use crate::affiliate::rules::ClickFilter;
use crate::affiliate::stats::ClickDay;
use crate::platform::db::schema::clicks;
use crate::platform::db::DbConn;

/// A click to store. Serialisable: the click journal holds clicks as JSON lines until the database has them.
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

// Owned, so a fixed-size array of rows has a `'static` query id and diesel keeps its prepared statement. `None` is
// bound as NULL rather than left to the column's DEFAULT: an INSERT with DEFAULT in it is built and prepared afresh
// on every run.
#[derive(Insertable)]
#[diesel(table_name = clicks, treat_none_as_default_value = false)]
struct ClickRow {
    click_id: String,
    link_id: i64,
    partner_org_id: i64,
    clicked_at: NaiveDateTime,
    ip_hash: String,
    user_agent: String,
    referrer: String,
    sub_id: String,
    prior_click_id: Option<String>,
    filtered_reason: Option<&'static str>,
}

impl From<NewClick> for ClickRow {
    fn from(c: NewClick) -> Self {
        ClickRow {
            click_id: c.click_id,
            link_id: c.link_id,
            partner_org_id: c.partner_org_id,
            clicked_at: c.clicked_at,
            ip_hash: c.ip_hash,
            user_agent: c.user_agent,
            referrer: c.referrer,
            sub_id: c.sub_id,
            prior_click_id: c.prior_click_id,
            filtered_reason: c.filtered_reason.map(ClickFilter::as_str),
        }
    }
}

/// Rows per INSERT statement on PostgreSQL: 10 columns each, well under its limit on bound parameters.
const ROWS_PER_STATEMENT: usize = 200;
/// Rows per multi-row INSERT on SQLite; the rest of a batch goes one row at a time.
const SQLITE_ROWS_PER_STATEMENT: usize = 32;

/// Stores a batch of clicks in one transaction, as multi-row INSERTs, skipping those whose `click_id` is stored
/// already, and says how many were new. So replaying a journal segment twice (a crash between its commit and the
/// file's removal) stores its clicks once. The hourly rollups are brought up to date in the same transaction, with
/// the new clicks only, so they always equal the raw rows.
pub fn insert_batch(conn: &mut DbConn, batch: Vec<NewClick>) -> QueryResult<usize> {
    conn.transaction(|conn| {
        // The write lock first: a SQLite transaction that reads before it writes would fail at once, rather than
        // wait, while another connection writes.
        crate::platform::db::take_write_lock(conn)?;
        let batch = without_stored(conn, batch)?;
        super::rollups::add_clicks(conn, &batch)?;
        let rows: Vec<ClickRow> = batch.into_iter().map(ClickRow::from).collect();
        let mut stored = 0;
        match conn {
            // Multi-row VALUES saves PostgreSQL round trips (it is not available through MultiConnection, so the
            // backend takes it directly).
            DbConn::Pg(c) => {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    stored += diesel::insert_into(clicks::table)
                        .values(chunk)
                        .on_conflict_do_nothing()
                        .execute(c)?;
                }
            }
            // SQLite: statements of a fixed size, which diesel prepares once and keeps (a multi-row INSERT of each
            // batch size, or any `ON CONFLICT` clause, would be built and parsed afresh on every run). `OR IGNORE`
            // skips a stored `click_id`; the other constraints cannot fail for a click the redirect built.
            DbConn::Sqlite(c) => {
                let mut chunks = rows.chunks_exact(SQLITE_ROWS_PER_STATEMENT);
                for chunk in &mut chunks {
                    let chunk: &[ClickRow; SQLITE_ROWS_PER_STATEMENT] =
                        chunk.try_into().expect("a chunk of the exact size");
                    stored += diesel::insert_or_ignore_into(clicks::table)
                        .values(chunk)
                        .execute(c)?;
                }
                for row in chunks.remainder() {
                    stored += diesel::insert_or_ignore_into(clicks::table)
                        .values(row)
                        .execute(c)?;
                }
            }
        }
        Ok(stored)
    })
}

/// The batch less the clicks stored already (a replayed journal segment) and repeats within it.
fn without_stored(conn: &mut DbConn, batch: Vec<NewClick>) -> QueryResult<Vec<NewClick>> {
    let mut stored = std::collections::HashSet::new();
    for chunk in batch.chunks(500) {
        let ids: Vec<&str> = chunk.iter().map(|c| c.click_id.as_str()).collect();
        stored.extend(
            clicks::table
                .filter(clicks::click_id.eq_any(ids))
                .select(clicks::click_id)
                .load::<String>(conn)?,
        );
    }
    Ok(batch
        .into_iter()
        .filter(|c| stored.insert(c.click_id.clone()))
        .collect())
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
