//! Settings read from the environment once at start and validated there, so a bad value stops the server with a
//! message naming the variable instead of failing later on first use. Defaults serve the embedded case: SQLite in
//! the working directory, listening on 127.0.0.1:8080.

use std::collections::HashMap;
use std::net::SocketAddr;

use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What the driver is given: a file path for SQLite, the whole URL for PostgreSQL.
    pub connect: String,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://concord.db".into());
            }
            return Ok(Self {
                backend: Backend::Sqlite,
                connect: path.to_string(),
            });
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw).map_err(|e| format!("not a valid PostgreSQL URL ({e})"))?;
            return Ok(Self {
                backend: Backend::Postgres,
                connect: raw.to_string(),
            });
        }
        Err("must start with sqlite:// or postgres://".into())
    }
}

#[derive(Clone)]
pub struct Settings {
    pub database: DatabaseUrl,
    pub bind: SocketAddr,
    /// Absolute URL of this install without a trailing slash, used for links in logs and emails.
    pub base_url: String,
    /// 64 or more bytes; `None` means "use the key kept in the database".
    pub session_key: Option<Vec<u8>>,
    pub cookie_secure: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database", &self.database.backend)
            .field("bind", &self.bind)
            .field("base_url", &self.base_url)
            .field("session_key", &self.session_key.as_ref().map(|_| "<set>"))
            .field("cookie_secure", &self.cookie_secure)
            .finish()
    }
}

/// A configuration problem, displayed as one line that names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

fn bad(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    /// Reads settings from a map of variables; `from_env` passes the process environment.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let database = DatabaseUrl::parse(get("DATABASE_URL").unwrap_or("sqlite://concord.db"))
            .map_err(|m| bad("DATABASE_URL", m))?;

        let bind_raw = get("CONCORD_BIND").unwrap_or("127.0.0.1:8080");
        let bind: SocketAddr = bind_raw.parse().map_err(|_| {
            bad(
                "CONCORD_BIND",
                format!("'{bind_raw}' is not an address like 127.0.0.1:8080"),
            )
        })?;

        let base_url = match get("CONCORD_BASE_URL") {
            Some(raw) => {
                let url = Url::parse(raw)
                    .map_err(|e| bad("CONCORD_BASE_URL", format!("'{raw}' is not a URL ({e})")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(bad(
                        "CONCORD_BASE_URL",
                        format!("'{raw}' must be an http:// or https:// URL"),
                    ));
                }
                raw.trim_end_matches('/').to_string()
            }
            None => format!("http://{bind}"),
        };

        let session_key = match get("CONCORD_SESSION_KEY") {
            Some(raw) => {
                let key = hex::decode(raw)
                    .map_err(|_| bad("CONCORD_SESSION_KEY", "must be hexadecimal"))?;
                if key.len() < 64 {
                    return Err(bad(
                        "CONCORD_SESSION_KEY",
                        format!(
                            "must be at least 64 bytes (128 hex digits); got {} bytes",
                            key.len()
                        ),
                    ));
                }
                Some(key)
            }
            None => None,
        };

        let cookie_secure = match get("CONCORD_COOKIE_SECURE") {
            Some(raw) => parse_bool(raw)
                .ok_or_else(|| bad("CONCORD_COOKIE_SECURE", "must be true or false"))?,
            None => base_url.starts_with("https://"),
        };

        Ok(Self {
            database,
            bind,
            base_url,
            session_key,
            cookie_secure,
        })
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_map(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_serve_the_embedded_case() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database.backend, Backend::Sqlite);
        assert_eq!(s.database.connect, "concord.db");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.base_url, "http://127.0.0.1:8080");
        assert!(!s.cookie_secure);
    }

    #[test]
    fn backend_follows_the_scheme() {
        let s = settings(&[("DATABASE_URL", "postgres://u@127.0.0.1/db")]).unwrap();
        assert_eq!(s.database.backend, Backend::Postgres);
        let err = settings(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(err.to_string().starts_with("DATABASE_URL:"), "{err}");
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert!(settings(&[("CONCORD_BIND", "nope")])
            .unwrap_err()
            .to_string()
            .starts_with("CONCORD_BIND:"));
        assert!(settings(&[("CONCORD_SESSION_KEY", "abcd")])
            .unwrap_err()
            .to_string()
            .contains("64 bytes"));
        assert!(settings(&[("CONCORD_BASE_URL", "ftp://x")])
            .unwrap_err()
            .to_string()
            .starts_with("CONCORD_BASE_URL:"));
    }

    #[test]
    fn https_base_url_makes_cookies_secure_by_default() {
        let s = settings(&[("CONCORD_BASE_URL", "https://partners.example.com/")]).unwrap();
        assert!(s.cookie_secure);
        assert_eq!(s.base_url, "https://partners.example.com");
        let s = settings(&[
            ("CONCORD_BASE_URL", "https://p.example.com"),
            ("CONCORD_COOKIE_SECURE", "false"),
        ])
        .unwrap();
        assert!(!s.cookie_secure);
    }
}
