//! `/admin/assets`: partner content, uploaded files or links, with who may see them.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use futures_util::StreamExt;

use crate::assets::forms::{AssetForm, AssetInput};
use crate::assets::store::Asset;
use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::training::store::Course;
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

/// The largest file an admin may upload.
const MAX_FILE: usize = 10 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets", web::get().to(list))
        .route("/assets", web::post().to(create));
}

#[derive(Template)]
#[template(path = "admin/assets.html")]
struct AssetsPage {
    ctx: PageContext,
    assets: Vec<Asset>,
    courses: Vec<Course>,
    form: AssetForm,
    errors: FieldErrors,
}

async fn assets_page(
    ctx: PageContext,
    state: &State,
    form: AssetForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (assets, courses) = db(&state.pool, |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, diesel::result::Error>((
            crate::assets::store::list(conn, program.id)?,
            crate::training::store::list_courses(conn, program.id)?,
        ))
    })
    .await?;
    render(
        status,
        &AssetsPage {
            ctx,
            assets,
            courses,
            form,
            errors,
        },
    )
}

async fn list(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    assets_page(
        ctx,
        &state,
        AssetForm {
            min_tier_rank: "0".into(),
            ..Default::default()
        },
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

/// Reads the upload form. A file over the limit is reported as a field error, not a broken request.
async fn read_form(mut multipart: Multipart) -> Result<AssetForm, AppError> {
    let mut form = AssetForm::default();
    while let Some(field) = multipart.next().await {
        let mut field = field
            .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?;
        let name = field.name().unwrap_or("").to_string();
        let file_name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_string);
        let content_type = field
            .content_type()
            .map(|m| m.to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let mut bytes = Vec::new();
        let mut too_large = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk
                .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?;
            if bytes.len() + chunk.len() > MAX_FILE {
                too_large = true;
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&bytes).trim().to_string();
        match name.as_str() {
            "title" => form.title = text(),
            "description" => form.description = text(),
            "category" => form.category = text(),
            "min_tier_rank" => form.min_tier_rank = text(),
            "partner_kinds" => form.partner_kinds = text(),
            "required_course_id" => form.required_course_id = text(),
            "link_url" => form.link_url = text(),
            "file" if too_large => {
                form.file_refused = Some(format!(
                    "Files can be at most {} MiB.",
                    MAX_FILE / 1024 / 1024
                ))
            }
            "file" => {
                if let Some(file_name) = file_name.filter(|n| !n.is_empty() && !bytes.is_empty()) {
                    form.file = Some((file_name, content_type, bytes));
                }
            }
            _ => {}
        }
    }
    Ok(form)
}

async fn create(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    multipart: Multipart,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = read_form(multipart).await?;
    let asset = match AssetInput::try_from(&form) {
        Ok(asset) => asset,
        Err(errors) => {
            // The page keeps what was typed; a file is chosen again.
            let form = AssetForm { file: None, ..form };
            return assets_page(ctx, &state, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let actor = user.actor();
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::assets::create(conn, program.id, &asset.as_new_asset(), &actor)
    })
    .await?;
    session.success("Asset added.");
    Ok(redirect("/admin/assets"))
}
