//! Partner content: files and links with the kinds, tier and certification they are meant for.

use diesel::prelude::*;

use crate::platform::db::schema::{assets, certifications};
use crate::platform::db::{now, DbConn};

/// An asset without its bytes, for lists and checks.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = assets)]
pub struct Asset {
    pub id: i64,
    pub program_id: i64,
    pub title: String,
    pub description: String,
    pub category: String,
    pub min_tier_rank: i64,
    pub partner_kinds: String,
    pub required_course_id: Option<i64>,
    pub link_url: String,
    pub file_name: String,
    pub content_type: String,
    pub created_at: chrono::NaiveDateTime,
}

pub struct NewAsset<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub min_tier_rank: i64,
    pub partner_kinds: &'a str,
    pub required_course_id: Option<i64>,
    pub link_url: &'a str,
    pub file: Option<(&'a str, &'a str, &'a [u8])>,
}

/// Adds an asset (an uploaded file, kept in the database, or a link); returns its id.
pub fn insert(conn: &mut DbConn, program_id: i64, asset: &NewAsset<'_>) -> QueryResult<i64> {
    let (file_name, content_type, bytes) = match asset.file {
        Some((name, kind, bytes)) => (name, kind, Some(bytes)),
        None => ("", "", None),
    };
    diesel::insert_into(assets::table)
        .values((
            assets::program_id.eq(program_id),
            assets::title.eq(asset.title),
            assets::description.eq(asset.description),
            assets::category.eq(asset.category),
            assets::min_tier_rank.eq(asset.min_tier_rank),
            assets::partner_kinds.eq(asset.partner_kinds),
            assets::required_course_id.eq(asset.required_course_id),
            assets::link_url.eq(asset.link_url),
            assets::file_name.eq(file_name),
            assets::content_type.eq(content_type),
            assets::file_bytes.eq(bytes),
            assets::created_at.eq(now()),
        ))
        .returning(assets::id)
        .get_result(conn)
}

pub fn list(conn: &mut DbConn, program_id: i64) -> QueryResult<Vec<Asset>> {
    assets::table
        .filter(assets::program_id.eq(program_id))
        .order((assets::category, assets::title))
        .select(Asset::as_select())
        .load(conn)
}

pub fn file(conn: &mut DbConn, asset_id: i64) -> QueryResult<Option<Vec<u8>>> {
    assets::table
        .find(asset_id)
        .select(assets::file_bytes)
        .first::<Option<Vec<u8>>>(conn)
        .optional()
        .map(Option::flatten)
}

/// Courses in which some rep of the org holds a certification valid at `at`.
pub fn certified_courses(
    conn: &mut DbConn,
    partner_org_id: i64,
    at: chrono::NaiveDateTime,
) -> QueryResult<Vec<i64>> {
    certifications::table
        .filter(certifications::partner_org_id.eq(partner_org_id))
        .filter(certifications::expires_at.gt(at))
        .select(certifications::course_id)
        .distinct()
        .load(conn)
}
