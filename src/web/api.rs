//! The JSON API for machines, under `/api/v1`, authenticated with a program API key (`Authorization: Bearer`).
//! Errors are `{"error": {"code", "message"}}` with stable codes.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;

use super::State;
use crate::ledger::rules::EntryKind;
use crate::platform::auth::token::hash_token;
use crate::platform::db::{self, DbConn};
use crate::platform::http::{db, ApiError, AppError};
use crate::programs::api_keys::ApiKey;

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
            .route("/refunds", web::post().to(record_refund))
            .route("/partners/{id}/balance", web::get().to(partner_balance))
            .route("/commissions", web::get().to(list_commissions)),
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
            let PresentedKey(key_hash) = PresentedKey::of(&req)?;
            let state = req
                .app_data::<State>()
                .expect("AppState is registered")
                .clone();
            let key = db(&state.pool, move |conn| active_key(conn, &key_hash)).await?;
            Ok(ApiClient(key))
        })
    }
}

/// The hash of the API key a caller sent, not checked yet: the conversion writer checks it in its own transaction.
pub struct PresentedKey(String);

impl PresentedKey {
    fn of(req: &HttpRequest) -> Result<Self, AppError> {
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
        Ok(PresentedKey(hash_token(presented)))
    }
}

impl FromRequest for PresentedKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(PresentedKey::of(req).map_err(ApiError))
    }
}

fn active_key(conn: &mut DbConn, key_hash: &str) -> Result<ApiKey, AppError> {
    crate::programs::api_keys::find_active_by_hash(conn, key_hash)?
        .ok_or_else(|| AppError::Unauthorized("That API key is unknown or revoked.".into()))
}

#[derive(Serialize)]
struct ProgramView {
    name: String,
    currency: String,
}

/// The program this key belongs to: lets an integration check its key and settings.
async fn program(_client: ApiClient, state: State) -> Result<HttpResponse, ApiError> {
    let program = db(&state.pool, crate::programs::current).await?;
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

fn problem(p: crate::affiliate::conversions::request::FieldProblem) -> ApiError {
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

impl From<crate::affiliate::conversions::Conversion> for ConversionView {
    fn from(c: crate::affiliate::conversions::Conversion) -> Self {
        let flags = c.flag_list().into_iter().map(str::to_string).collect();
        Self {
            id: c.id,
            external_id: c.external_id,
            kind: c.kind.to_string(),
            amount: c.amount_minor,
            currency: c.currency,
            partner_id: c.partner_org_id,
            attributed_by: c.attributed_by,
            commission: None,
            review_status: c.review_status.to_string(),
            flags,
        }
    }
}

/// `POST /api/v1/conversions`: 201 when recorded, 200 with the same body when the external id was seen before.
/// Recorded by the conversion writer (group commit), which answers once the conversion is committed.
async fn record_conversion(
    key: PresentedKey,
    state: State,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(payload).await?;
    // The conversion's click is found by its id: it has to be stored first.
    state.tracking.settle().await;
    let recorded = state
        .conversions
        .submit(ConversionJob {
            key_hash: key.0,
            body,
        })
        .await?;
    let mut view = ConversionView::from(recorded.conversion);
    view.commission = recorded
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::Commission)
        .map(|e| serde_json::to_value(EntryView::from(e)).expect("serialisable"));
    let status = if recorded.created {
        actix_web::http::StatusCode::CREATED
    } else {
        actix_web::http::StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(serde_json::json!({ "conversion": view })))
}

/// A conversion as the API received it.
pub struct ConversionJob {
    key_hash: String,
    body: serde_json::Value,
}

pub struct RecordedConversion {
    conversion: crate::affiliate::conversions::Conversion,
    entries: Vec<crate::ledger::store::LedgerEntry>,
    created: bool,
}

/// The conversion writer's work for one request, inside its batch's transaction: the key, the request's fields, the
/// recording (attribution, fraud checks, commission) and the ledger entries to show.
pub fn record_conversion_job(
    conn: &mut DbConn,
    job: ConversionJob,
) -> Result<RecordedConversion, AppError> {
    active_key(conn, &job.key_hash)?;
    let program = crate::programs::current(conn)?;
    let request = crate::affiliate::conversions::request::parse_conversion(
        &job.body,
        program.currency(),
        db::now(),
    )
    .map_err(|p| problem(p).0)?;
    let input = crate::affiliate::conversions::ConversionInput {
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
        occurred_at: request.occurred_at.unwrap_or_else(db::now),
    };
    let (conversion, created) = crate::affiliate::conversions::record(conn, &program, &input)?;
    let entries = crate::ledger::store::for_conversion(conn, conversion.id)?;
    Ok(RecordedConversion {
        conversion,
        entries,
        created,
    })
}

/// `POST /api/v1/refunds`: records a refund once per `refund_id`.
async fn record_refund(
    _client: ApiClient,
    state: State,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use crate::affiliate::conversions::RefundError;
    let body = json_body(payload).await?;
    let request = crate::affiliate::conversions::request::parse_refund(&body).map_err(problem)?;
    let external_id = request.external_id.clone();
    let outcome = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, AppError>(crate::affiliate::conversions::refund(
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

#[derive(Serialize)]
struct EntryView {
    id: i64,
    partner_id: i64,
    kind: String,
    status: String,
    amount: i64,
    currency: String,
    available_at: String,
    conversion_id: Option<i64>,
    explanation: String,
}

impl From<&crate::ledger::store::LedgerEntry> for EntryView {
    fn from(e: &crate::ledger::store::LedgerEntry) -> Self {
        Self {
            id: e.id,
            partner_id: e.partner_org_id,
            kind: e.kind.to_string(),
            status: e.status.to_string(),
            amount: e.amount_minor,
            currency: e.currency.clone(),
            available_at: e.available_at.and_utc().to_rfc3339(),
            conversion_id: e.conversion_id,
            explanation: e.explanation.clone(),
        }
    }
}

/// `GET /api/v1/partners/{id}/balance`: per currency, pending, approved (available), paid.
async fn partner_balance(
    _client: ApiClient,
    state: State,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let partner_id = path.into_inner();
    let balances = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::partners::store::find(conn, program.id, partner_id)?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>(crate::ledger::store::balances(conn, partner_id)?)
    })
    .await?;
    let balances: Vec<serde_json::Value> = balances
        .iter()
        .map(|b| serde_json::json!({ "currency": b.currency, "pending": b.pending, "approved": b.approved, "available": b.available(), "paid": b.paid }))
        .collect();
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "partner_id": partner_id, "balances": balances })))
}

#[derive(serde::Deserialize)]
struct CommissionQuery {
    partner_id: Option<i64>,
    status: Option<String>,
    since: Option<String>,
    cursor: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/commissions`: ledger entries, newest first, `limit` (1-200, default 50) at a time; follow
/// `next_cursor` for the next page.
async fn list_commissions(
    _client: ApiClient,
    state: State,
    query: web::Query<CommissionQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let invalid = |field: &str, message: &str| -> ApiError {
        AppError::Invalid {
            code: "invalid_field",
            field: field.into(),
            message: message.into(),
        }
        .into()
    };
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<crate::ledger::rules::EntryStatus>()
                .map_err(|_| invalid("status", "must be pending, approved, paid or void"))?,
        ),
    };
    let from = match query.since.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| invalid("since", "must be an RFC 3339 time"))?
                .naive_utc(),
        ),
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(invalid("limit", "must be from 1 to 200"));
    }
    let filter = crate::ledger::store::EntryFilter {
        partner_org_id: query.partner_id,
        status,
        from,
        to: None,
        before_id: query.cursor,
    };
    let entries = db(&state.pool, move |conn| {
        crate::ledger::store::list(conn, &filter, crate::platform::db::Window::first(limit))
    })
    .await?;
    let next_cursor = if entries.len() as i64 == limit {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    let items: Vec<EntryView> = entries.iter().map(EntryView::from).collect();
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "commissions": items, "next_cursor": next_cursor })))
}
