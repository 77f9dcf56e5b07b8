//! `/portal/assets`: the content an org may use, gated by kind, tier and certification; the download URL checks
//! the same rule, so a guessed URL gets nothing.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::assets::store::Asset;
use crate::platform::http::{db, page, AppError, PageContext};
use crate::training::rules::asset_open_to;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn portal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets", web::get().to(list))
        .route("/assets/{id}/download", web::get().to(download));
}

/// The assets the user's org qualifies for.
async fn open_assets(state: &State, user: &CurrentUser) -> Result<Vec<Asset>, AppError> {
    let partner = crate::web::portal::own_partner(state, user).await?;
    let (kind, rank, org_id, program_id) = (
        partner.org.kind(),
        partner.tier.as_ref().map(|t| t.rank).unwrap_or(0),
        partner.org.id,
        partner.program.id,
    );
    let (assets, certified) = db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            crate::assets::store::list(conn, program_id)?,
            crate::assets::store::certified_courses(conn, org_id, crate::platform::db::now())?,
        ))
    })
    .await?;
    Ok(assets
        .into_iter()
        .filter(|a| {
            asset_open_to(
                &a.partner_kinds,
                a.min_tier_rank,
                a.required_course_id,
                kind,
                rank,
                &certified,
            )
        })
        .collect())
}

#[derive(Template)]
#[template(path = "portal/assets.html")]
struct AssetsPage {
    ctx: PageContext,
    assets: Vec<Asset>,
}

async fn list(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let assets = open_assets(&state, &user).await?;
    page(&AssetsPage { ctx, assets })
}

async fn download(
    state: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let asset = open_assets(&state, &user)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(AppError::NotFound)?;
    if !asset.link_url.is_empty() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, asset.link_url))
            .finish());
    }
    let bytes = db(&state.pool, move |conn| {
        crate::assets::store::file(conn, id)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let file_name: String = asset
        .file_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
        .collect();
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}
