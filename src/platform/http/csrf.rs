//! CSRF protection for every state-changing request a browser can make. Each session has a random token; every
//! POST form carries it as `csrf_token` (forms with file uploads put it in the action's query string, scripts send
//! an `X-CSRF-Token` header). A request without the right token is refused with a 403 before any handler runs, so
//! nothing changes. Machine endpoints (`/api/`, `/webhooks/`) authenticate otherwise and are exempt.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::web::Bytes;

use super::TypedSession;
use crate::platform::auth::token::same_secret;
use crate::platform::http::AppError;

pub const FIELD: &str = "csrf_token";
const HEADER: &str = "x-csrf-token";

fn exempt(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/webhooks/")
}

fn field_value(form: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(form)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned())
}

pub async fn verify(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && !exempt(req.path()) {
        let expected = TypedSession::of(req.request()).existing_csrf_token();
        let mut presented = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if presented.is_none() {
            presented = req
                .query_string()
                .as_bytes()
                .split(|b| *b == b'&')
                .find_map(field_value);
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if presented.is_none() && content_type.starts_with("application/x-www-form-urlencoded") {
            // Read the form to find the token, then put the body back for the handler.
            let body = match req.extract::<Bytes>().await {
                Ok(body) => body,
                Err(e) => return Ok(req.error_response(e).map_into_right_body()),
            };
            presented = field_value(&body);
            req.set_payload(actix_web::dev::Payload::from(body));
        }
        let valid = matches!((&expected, &presented), (Some(e), Some(p)) if same_secret(e, p));
        if !valid {
            tracing::warn!(
                path = req.path(),
                "refused a request without a valid CSRF token"
            );
            // A response, not an error, so the outer middleware (security headers) still sees it.
            return Ok(req.error_response(AppError::Csrf).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
