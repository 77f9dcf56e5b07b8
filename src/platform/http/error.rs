//! One error type for the web layer. It renders `templates/error.html` for people and `{"error": {"code",
//! "message"}}` for machines (through `ApiError`). A database error is never shown as "not found": it is a 500
//! with a request id to quote, and its detail goes to the log; a database that is away (down, locked, read-only)
//! is a 503, since the request itself was fine.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::platform::http::PageContext;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("We could not find that page.")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    #[error("Sign in to continue.")]
    LoginRequired { next: String },
    #[error("This form has expired or did not come from Concord. Go back, reload the page and try again.")]
    Csrf,
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    /// A field of a machine request is missing or wrong; `code` is `missing_field` or `invalid_field`.
    #[error("{field}: {message}")]
    Invalid {
        code: &'static str,
        field: String,
        message: String,
    },
    #[error("The request body is larger than {0} KiB.")]
    PayloadTooLarge(usize),
    #[error("The service is busy or its database is not answering. Try again in a moment.")]
    Unavailable(String),
    #[error("Something went wrong on our side.")]
    Database(diesel::result::Error),
    /// Anything else that went wrong on our side, with its cause chain for the log (never shown).
    #[error("Something went wrong on our side.")]
    Internal(anyhow::Error),
}

/// A database that is down, locked by another process or read-only is a 503 ("try again"), not a 500: the request
/// was fine and nothing was lost.
impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        if database_unavailable(&e) {
            AppError::Unavailable(e.to_string())
        } else {
            AppError::Database(e)
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e)
    }
}

impl From<crate::platform::db::Unreachable> for AppError {
    fn from(e: crate::platform::db::Unreachable) -> Self {
        match e {
            crate::platform::db::Unreachable::Pool(e) => AppError::Unavailable(e.to_string()),
            crate::platform::db::Unreachable::Join(e) => {
                AppError::Internal(anyhow::Error::new(e).context("a blocking task failed"))
            }
        }
    }
}

/// True for the errors that say the database cannot be reached or written just now, on either backend, including a
/// transaction PostgreSQL aborted to break a deadlock or a serialization conflict: trying again succeeds.
pub fn database_unavailable(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)
        | Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            [
                "database is locked",
                "readonly database",
                "disk I/O error",
                "unable to open database file",
                "terminating connection",
                "server closed the connection",
                "no connection to the server",
                "does not allow connections",
                "is not currently accepting connections",
                "deadlock detected",
            ]
            .iter()
            .any(|sign| message.contains(sign))
        }
        _ => false,
    }
}

impl AppError {
    /// An internal error described in words, for a state that should not happen and has no error value.
    pub fn internal(
        detail: impl std::fmt::Display + std::fmt::Debug + Send + Sync + 'static,
    ) -> Self {
        AppError::Internal(anyhow::Error::msg(detail))
    }

    /// An internal error with its cause kept: `what` says what was being done, `cause` why it failed.
    pub fn caused(
        what: &'static str,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AppError::Internal(anyhow::Error::new(cause).context(what))
    }

    /// Stable machine-readable code for JSON errors.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::Forbidden(_) => "forbidden",
            AppError::LoginRequired { .. } | AppError::Unauthorized(_) => "unauthorized",
            AppError::Csrf => "csrf_failed",
            AppError::TooManyRequests(_) => "rate_limited",
            AppError::BadRequest(_) => "bad_request",
            AppError::Unavailable(_) => "unavailable",
            AppError::Invalid { code, .. } => code,
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::Database(_) | AppError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self.status_code() {
            StatusCode::NOT_FOUND => "Page not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            StatusCode::BAD_REQUEST => "Something is wrong with the request",
            StatusCode::UNAUTHORIZED => "Sign in required",
            StatusCode::UNPROCESSABLE_ENTITY => "Something is wrong with the request",
            StatusCode::PAYLOAD_TOO_LARGE => "Too large",
            StatusCode::SERVICE_UNAVAILABLE => "Temporarily unavailable",
            _ => "Server error",
        }
    }

    fn log(&self) {
        match self {
            AppError::Database(e) => tracing::error!(error = %e, "database error"),
            // `{:#}` prints the whole chain: "cannot store a proof file: No space left on device".
            AppError::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            AppError::Unavailable(e) => tracing::warn!(error = %e, "unavailable"),
            _ => {}
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    ctx: PageContext,
    status: u16,
    title: &'a str,
    message: String,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        if let AppError::LoginRequired { next } = self {
            let target = format!("/login?next={}", crate::platform::http::url_encode(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish();
        }
        let page = ErrorPage {
            ctx: PageContext::bare(),
            status: self.status_code().as_u16(),
            title: self.title(),
            message: self.to_string(),
        };
        match page.render() {
            Ok(html) => HttpResponse::build(self.status_code())
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(e) => {
                tracing::error!(error = %e, "error page did not render");
                HttpResponse::build(self.status_code())
                    .content_type("text/plain; charset=utf-8")
                    .body(self.to_string())
            }
        }
    }
}

/// The same errors as JSON, for `/api/` and other machine endpoints.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError(AppError::from(e))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            AppError::LoginRequired { .. } => StatusCode::UNAUTHORIZED,
            other => other.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let mut error = serde_json::json!({ "code": self.0.code(), "message": self.0.to_string() });
        if let AppError::Invalid { field, .. } = &self.0 {
            error["field"] = serde_json::Value::String(field.clone());
        }
        HttpResponse::build(self.status_code()).json(serde_json::json!({ "error": error }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(response: HttpResponse) -> String {
        String::from_utf8(response.into_body().try_into_bytes().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn a_database_error_is_a_500_page_never_a_not_found() {
        let error = AppError::Database(diesel::result::Error::NotFound);
        assert_eq!(error.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        let html = body_of(error.error_response());
        assert!(html.contains("<title>Server error"), "{html}");
        assert!(html.contains("Something went wrong on our side."));
        assert!(!html.to_lowercase().contains("not found"));
    }

    #[test]
    fn every_status_renders_from_the_template() {
        for (error, status, title) in [
            (AppError::NotFound, 404, "Page not found"),
            (AppError::Forbidden("No.".into()), 403, "Not allowed"),
            (
                AppError::TooManyRequests("Slow down.".into()),
                429,
                "Too many attempts",
            ),
            (AppError::internal("boom"), 500, "Server error"),
        ] {
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status);
            let html = body_of(response);
            assert!(html.contains(&format!("<title>{title}")), "{html}");
            assert!(!html.contains("boom"), "internal detail stays in the log");
        }
    }

    #[test]
    fn outages_and_aborted_transactions_are_503s_other_database_errors_500s() {
        use diesel::result::{DatabaseErrorKind, Error};
        let error = |kind, message: &str| Error::DatabaseError(kind, Box::new(message.to_string()));
        for retryable in [
            error(DatabaseErrorKind::Unknown, "database is locked"),
            error(DatabaseErrorKind::Unknown, "deadlock detected"),
            error(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize access",
            ),
            error(DatabaseErrorKind::ClosedConnection, "gone"),
        ] {
            assert_eq!(
                AppError::from(retryable).status_code(),
                StatusCode::SERVICE_UNAVAILABLE
            );
        }
        let broken = error(DatabaseErrorKind::Unknown, "no such column: x");
        assert_eq!(
            AppError::from(broken).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn api_errors_carry_a_stable_code() {
        let response = ApiError(AppError::TooManyRequests("Slow down.".into())).error_response();
        assert_eq!(response.status().as_u16(), 429);
        let json: serde_json::Value = serde_json::from_str(&body_of(response)).unwrap();
        assert_eq!(json["error"]["code"], "rate_limited");
        assert_eq!(json["error"]["message"], "Slow down.");
        let login = ApiError(AppError::LoginRequired { next: "/x".into() });
        assert_eq!(login.status_code(), StatusCode::UNAUTHORIZED);
    }
}
