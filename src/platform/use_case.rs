//! How a context's use case fails, one type for all of them: the thing asked about is not there, the request was
//! understood and refused (as a whole, or because of one form field; the text is for the person who asked), or
//! something below failed, with its cause kept for the log. Contexts name it after themselves (`DealError`,
//! `MdfError`, `PartnerWriteError`) so a signature still says whose rules refused.

use crate::platform::db::DatabaseFailure;
use crate::platform::http::AppError;
use crate::platform::mail::NotifyError;

#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// Not there, or not the asker's to see: a 404, never a hint which.
    #[error("We could not find that.")]
    NotFound,
    /// Understood and refused; the text is for the person who asked.
    #[error("{0}")]
    Refused(String),
    /// Refused because of one form field; the page shows the message next to it.
    #[error("{1}")]
    Field(&'static str, String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// Anything else that failed on our side (a file that could not be stored), with its cause.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl DatabaseFailure for UseCaseError {
    fn database_error(&self) -> Option<&diesel::result::Error> {
        match self {
            UseCaseError::Database(e) | UseCaseError::Notify(NotifyError::Database(e)) => Some(e),
            _ => None,
        }
    }
}

impl From<UseCaseError> for AppError {
    fn from(error: UseCaseError) -> Self {
        match error {
            UseCaseError::NotFound => Self::NotFound,
            UseCaseError::Refused(message) | UseCaseError::Field(_, message) => {
                Self::BadRequest(message)
            }
            UseCaseError::Database(e) => e.into(),
            UseCaseError::Notify(e) => e.into(),
            UseCaseError::Internal(e) => Self::Internal(e),
        }
    }
}
