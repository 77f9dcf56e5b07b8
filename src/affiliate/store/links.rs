//! Referral links: a short code per link, its destination, and per-link stats.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::partner::PartnerStatus;
use crate::platform::db::schema::{clicks, conversions, links, partner_orgs};
use crate::platform::db::{is_unique_violation, now, DbConn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = links)]
pub struct Link {
    pub id: i64,
    pub partner_org_id: i64,
    pub code: String,
    pub destination_url: String,
    pub sub_id: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub is_default: bool,
    pub created_at: NaiveDateTime,
}

/// What the redirect needs to know about a code.
#[derive(Debug, Clone)]
pub struct LinkTarget {
    pub link: Link,
    /// Only approved partners earn clicks; other links still take the visitor where they wanted to go.
    pub partner_approved: bool,
}

pub struct NewLink<'a> {
    pub partner_org_id: i64,
    pub code: &'a str,
    pub destination_url: &'a str,
    pub sub_id: &'a str,
    pub utm_source: &'a str,
    pub utm_medium: &'a str,
    pub utm_campaign: &'a str,
    pub is_default: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkWriteError {
    #[error("The code '{0}' is taken; pick another.")]
    CodeTaken(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub fn create(conn: &mut DbConn, link: &NewLink<'_>) -> Result<i64, LinkWriteError> {
    diesel::insert_into(links::table)
        .values((
            links::partner_org_id.eq(link.partner_org_id),
            links::code.eq(link.code),
            links::destination_url.eq(link.destination_url),
            links::sub_id.eq(link.sub_id),
            links::utm_source.eq(link.utm_source),
            links::utm_medium.eq(link.utm_medium),
            links::utm_campaign.eq(link.utm_campaign),
            links::is_default.eq(link.is_default),
            links::created_at.eq(now()),
        ))
        .returning(links::id)
        .get_result(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                LinkWriteError::CodeTaken(link.code.to_string())
            } else {
                e.into()
            }
        })
}

/// Creates a link with a random code, retrying on the (unlikely) collision.
pub fn create_with_random_code(
    conn: &mut DbConn,
    link: &NewLink<'_>,
) -> QueryResult<(i64, String)> {
    loop {
        let code = random_code();
        let attempt = NewLink {
            code: &code,
            ..*link
        };
        // A savepoint, so a collision does not abort an enclosing PostgreSQL transaction.
        match conn.transaction(|conn| create(conn, &attempt)) {
            Ok(id) => return Ok((id, code)),
            Err(LinkWriteError::CodeTaken(_)) => continue,
            Err(LinkWriteError::Database(e)) => return Err(e),
        }
    }
}

/// Eight characters of lowercase letters and digits (~2.8e12 codes).
fn random_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    crate::platform::auth::token::random_bytes(8)
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// Gives an approved affiliate its first link, to the program's default landing page. Does nothing when the org has
/// links already or the program has no landing page yet. Returns the code created.
pub fn ensure_default(
    conn: &mut DbConn,
    partner_org_id: i64,
    default_landing_url: &str,
) -> QueryResult<Option<String>> {
    if default_landing_url.is_empty() {
        return Ok(None);
    }
    let existing: i64 = links::table
        .filter(links::partner_org_id.eq(partner_org_id))
        .count()
        .get_result(conn)?;
    if existing > 0 {
        return Ok(None);
    }
    let link = NewLink {
        partner_org_id,
        code: "",
        destination_url: default_landing_url,
        sub_id: "",
        utm_source: "",
        utm_medium: "",
        utm_campaign: "",
        is_default: true,
    };
    create_with_random_code(conn, &link).map(|(_, code)| Some(code))
}

pub fn find_target(conn: &mut DbConn, code: &str) -> QueryResult<Option<LinkTarget>> {
    links::table
        .inner_join(partner_orgs::table)
        .filter(links::code.eq(code))
        .select((Link::as_select(), partner_orgs::status))
        .first::<(Link, PartnerStatus)>(conn)
        .optional()
        .map(|row| {
            row.map(|(link, status)| LinkTarget {
                link,
                partner_approved: status == PartnerStatus::Approved,
            })
        })
}

/// A link with its clicks (all and counted) and conversions since a moment.
#[derive(Debug, Clone)]
pub struct LinkStats {
    pub link: Link,
    pub clicks: i64,
    pub counted_clicks: i64,
    pub conversions: i64,
}

/// One page of the org's links (the default first, then oldest first) with their counts since `since`: clicks from
/// the hourly rollups, conversions counted by the database per link.
pub fn list_with_stats(
    conn: &mut DbConn,
    partner_org_id: i64,
    since: NaiveDateTime,
    window: crate::platform::db::Window,
) -> QueryResult<Vec<LinkStats>> {
    use diesel::dsl::count_star;
    let page: Vec<Link> = links::table
        .filter(links::partner_org_id.eq(partner_org_id))
        .order((links::is_default.desc(), links::id))
        .offset(window.offset)
        .limit(window.limit)
        .select(Link::as_select())
        .load(conn)?;
    let ids: Vec<i64> = page.iter().map(|l| l.id).collect();
    // From the hourly rollups (from the start of the hour `since` falls in), not the raw clicks.
    let per_link = super::rollups::clicks_per_link(conn, &ids, since)?;
    let all: Vec<(i64, i64)> = per_link.iter().map(|(l, all, _)| (*l, *all)).collect();
    let counted: Vec<(i64, i64)> = per_link.iter().map(|(l, _, c)| (*l, *c)).collect();
    let converted: Vec<(i64, i64)> = conversions::table
        .inner_join(clicks::table.on(conversions::click_id.eq(clicks::click_id.nullable())))
        .filter(conversions::partner_org_id.eq(partner_org_id))
        .filter(conversions::occurred_at.ge(since))
        .filter(clicks::link_id.eq_any(ids.clone()))
        .group_by(clicks::link_id)
        .select((clicks::link_id, count_star()))
        .load(conn)?;
    let of = |rows: &[(i64, i64)], id: i64| {
        rows.iter()
            .find(|(link, _)| *link == id)
            .map_or(0, |(_, n)| *n)
    };
    Ok(page
        .into_iter()
        .map(|link| LinkStats {
            clicks: of(&all, link.id),
            counted_clicks: of(&counted, link.id),
            conversions: of(&converted, link.id),
            link,
        })
        .collect())
}

/// How many links the org has.
pub fn count_for(conn: &mut DbConn, partner_org_id: i64) -> QueryResult<i64> {
    links::table
        .filter(links::partner_org_id.eq(partner_org_id))
        .count()
        .get_result(conn)
}
