//! The JSON API for machines, under `/api/v1`, authenticated with a program API key (`Authorization: Bearer`).
//! Errors are `{"error": {"code", "message"}}` with stable codes.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;

use super::{db, State};
use crate::auth::token::hash_token;
use crate::db::api_keys::ApiKey;
use crate::error::{ApiError, AppError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(
                web::JsonConfig::default()
                    .error_handler(|err, _| ApiError(AppError::BadRequest(err.to_string())).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|err, _| ApiError(AppError::BadRequest(err.to_string())).into()),
            )
            .route("/program", web::get().to(program)),
    );
}

/// A caller that presented an active API key.
pub struct ApiClient(pub ApiKey);

impl FromRequest for ApiClient {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    AppError::Unauthorized(
                        "Send the program API key as 'Authorization: Bearer <key>'.".into(),
                    )
                })?;
            let key_hash = hash_token(presented);
            let state = req
                .app_data::<State>()
                .expect("AppState is registered")
                .clone();
            let key = db(&state.pool, move |conn| {
                crate::db::api_keys::find_active_by_hash(conn, &key_hash)
            })
            .await?;
            key.map(ApiClient).ok_or_else(|| {
                AppError::Unauthorized("That API key is unknown or revoked.".into()).into()
            })
        })
    }
}

#[derive(Serialize)]
struct ProgramView {
    name: String,
    currency: String,
}

/// The program this key belongs to: lets an integration check its key and settings.
async fn program(_client: ApiClient, state: State) -> Result<HttpResponse, ApiError> {
    let program = db(&state.pool, crate::db::programs::current).await?;
    Ok(HttpResponse::Ok().json(ProgramView {
        name: program.name,
        currency: program.currency,
    }))
}
