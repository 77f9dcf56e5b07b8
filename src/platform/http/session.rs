//! A typed view of the cookie session: the session token that names a server-side session, the CSRF token, and
//! flash messages carried across a redirect.

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};
use std::future::{ready, Ready};

use crate::platform::auth::token::new_token;

const SESSION_TOKEN: &str = "sid";
const CSRF_TOKEN: &str = "csrf";
const FLASHES: &str = "flash";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlashLevel {
    Success,
    Error,
    Info,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub level: FlashLevel,
    pub text: String,
}

impl Flash {
    pub fn css_class(&self) -> &'static str {
        match self.level {
            FlashLevel::Success => "flash success",
            FlashLevel::Error => "flash error",
            FlashLevel::Info => "flash info",
        }
    }
}

pub struct TypedSession(Session);

impl TypedSession {
    pub fn session_token(&self) -> Option<String> {
        self.0.get(SESSION_TOKEN).ok().flatten()
    }

    /// Starts a fresh cookie session for a newly signed-in user: a new cookie value (no fixation), a new CSRF
    /// token, and the token of the server-side session.
    pub fn begin(&self, session_token: &str) {
        self.0.renew();
        self.0.remove(CSRF_TOKEN);
        let _ = self.0.insert(SESSION_TOKEN, session_token);
    }

    /// Forgets everything but leaves room for a flash message to the signed-out visitor.
    pub fn end(&self) {
        self.0.clear();
        self.0.renew();
    }

    /// The CSRF token of this session, created on first use.
    pub fn csrf_token(&self) -> String {
        if let Some(token) = self.0.get::<String>(CSRF_TOKEN).ok().flatten() {
            return token;
        }
        let token = new_token();
        let _ = self.0.insert(CSRF_TOKEN, &token);
        token
    }

    pub fn existing_csrf_token(&self) -> Option<String> {
        self.0.get(CSRF_TOKEN).ok().flatten()
    }

    pub fn flash(&self, level: FlashLevel, text: impl Into<String>) {
        let mut flashes: Vec<Flash> = self.0.get(FLASHES).ok().flatten().unwrap_or_default();
        flashes.push(Flash {
            level,
            text: text.into(),
        });
        let _ = self.0.insert(FLASHES, flashes);
    }

    pub fn success(&self, text: impl Into<String>) {
        self.flash(FlashLevel::Success, text)
    }

    pub fn error(&self, text: impl Into<String>) {
        self.flash(FlashLevel::Error, text)
    }

    pub fn take_flashes(&self) -> Vec<Flash> {
        self.0
            .remove_as::<Vec<Flash>>(FLASHES)
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}

impl TypedSession {
    pub fn of(req: &HttpRequest) -> Self {
        TypedSession(req.get_session())
    }
}
