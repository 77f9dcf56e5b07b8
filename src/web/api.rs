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
            .route("/program", web::get().to(program))
            .route("/conversions", web::post().to(record_conversion))
            .route("/refunds", web::post().to(record_refund)),
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

/// The largest body the API reads.
const MAX_BODY: usize = 64 * 1024;

/// Reads a JSON body of at most `MAX_BODY` bytes: 413 beyond it, 422 for what is not JSON.
async fn json_body(mut payload: web::Payload) -> Result<serde_json::Value, ApiError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(AppError::PayloadTooLarge(MAX_BODY / 1024).into());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| {
        AppError::Invalid {
            code: "invalid_json",
            field: "body".into(),
            message: format!("the body is not valid JSON ({e})"),
        }
        .into()
    })
}

fn problem(p: crate::domain::conversion_request::FieldProblem) -> ApiError {
    AppError::Invalid {
        code: p.code,
        field: p.field.to_string(),
        message: p.message,
    }
    .into()
}

#[derive(Serialize)]
struct ConversionView {
    id: i64,
    external_id: String,
    kind: String,
    amount: i64,
    currency: String,
    partner_id: Option<i64>,
    attributed_by: Option<String>,
    /// Filled by the commission engine; null until it has computed one.
    commission: Option<serde_json::Value>,
    review_status: String,
    flags: Vec<String>,
}

impl From<crate::db::conversions::Conversion> for ConversionView {
    fn from(c: crate::db::conversions::Conversion) -> Self {
        let flags = c.flag_list().into_iter().map(str::to_string).collect();
        Self {
            id: c.id,
            external_id: c.external_id,
            kind: c.kind,
            amount: c.amount_minor,
            currency: c.currency,
            partner_id: c.partner_org_id,
            attributed_by: c.attributed_by,
            commission: None,
            review_status: c.review_status,
            flags,
        }
    }
}

/// `POST /api/v1/conversions`: 201 when recorded, 200 with the same body when the external id was seen before.
async fn record_conversion(
    _client: ApiClient,
    state: State,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(payload).await?;
    let program = db(&state.pool, crate::db::programs::current).await?;
    let request = crate::domain::conversion_request::parse_conversion(&body, program.currency())
        .map_err(problem)?;
    let input = crate::db::conversions::ConversionInput {
        external_id: request.external_id,
        kind: request.kind,
        amount_minor: request.amount_minor,
        currency: request.currency.code().to_string(),
        click_id: request.click_id,
        customer_id: request.customer_id,
        coupon_key: request.coupon.as_ref().map(|c| c.to_ascii_lowercase()),
        coupon_code: request.coupon,
        product: request.product,
        customer_email: request.customer_email,
        occurred_at: request.occurred_at.unwrap_or_else(crate::db::now),
    };
    let (conversion, created) = db(&state.pool, move |conn| {
        crate::db::conversions::record(conn, &program, &input)
    })
    .await?;
    let status = if created {
        actix_web::http::StatusCode::CREATED
    } else {
        actix_web::http::StatusCode::OK
    };
    Ok(HttpResponse::build(status)
        .json(serde_json::json!({ "conversion": ConversionView::from(conversion) })))
}

/// `POST /api/v1/refunds`: records a refund once per `refund_id`.
async fn record_refund(
    _client: ApiClient,
    state: State,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use crate::db::conversions::RefundError;
    let body = json_body(payload).await?;
    let request = crate::domain::conversion_request::parse_refund(&body).map_err(problem)?;
    let external_id = request.external_id.clone();
    let outcome = db(&state.pool, move |conn| {
        let program = crate::db::programs::current(conn)?;
        Ok::<_, AppError>(crate::db::conversions::refund(
            conn,
            program.id,
            &request.refund_id,
            &request.external_id,
            request.amount_minor,
        ))
    })
    .await?;
    let invalid = |field: &str, message: String| -> ApiError {
        AppError::Invalid {
            code: "invalid_field",
            field: field.into(),
            message,
        }
        .into()
    };
    let (refund, created) = match outcome {
        Ok(done) => done,
        Err(RefundError::UnknownSale(id)) => {
            return Err(AppError::Invalid {
                code: "unknown_conversion",
                field: "external_id".into(),
                message: format!("no sale with the external_id '{id}'"),
            }
            .into())
        }
        Err(e @ RefundError::NotASale(_)) => return Err(invalid("external_id", e.to_string())),
        Err(e @ RefundError::TooLarge { .. }) => return Err(invalid("amount", e.to_string())),
        Err(RefundError::Database(e)) => return Err(e.into()),
    };
    let status = if created {
        actix_web::http::StatusCode::CREATED
    } else {
        actix_web::http::StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(serde_json::json!({
        "refund": { "id": refund.id, "refund_id": refund.refund_id, "external_id": external_id, "amount": refund.amount_minor }
    })))
}
