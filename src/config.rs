//! Settings read from the environment once at start and validated there, so a bad value stops the server with a
//! message naming the variable instead of failing later on first use. Defaults serve the embedded case: SQLite in
//! the working directory, listening on 127.0.0.1:8080.

use crate::domain::refusal::Refusal;

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
    pub fn parse(raw: &str) -> Result<Self, crate::domain::refusal::Refusal> {
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
    /// Where mail goes: an SMTP server, or (when unset) `.eml` files in `mail_dir`.
    pub smtp: Option<SmtpTarget>,
    /// The From of every message, e.g. `Acme Partners <partners@acme.example>`.
    pub mail_from: String,
    pub mail_dir: std::path::PathBuf,
    /// Where Concord keeps files: partners' uploads go to `uploads/` below it.
    pub data_dir: std::path::PathBuf,
    /// Delivery attempts before an outbox message is declared dead.
    pub outbox_max_attempts: i64,
    /// Whether `serve` runs the periodic jobs (outbox delivery...). Tests switch it off and run jobs by hand.
    pub run_jobs: bool,
    /// Behind a reverse proxy, the visitor's address comes from `X-Forwarded-For`; otherwise from the socket, so
    /// nobody can pick the address their clicks are counted under.
    pub behind_proxy: bool,
    /// The secret mixed into visitors' IP hashes, kept outside the database (`CONCORD_IP_SALT`, or the file named by
    /// `CONCORD_IP_SALT_FILE`), so the database alone cannot turn hashes back into addresses. `None`: a salt kept
    /// in the database.
    pub ip_salt: Option<String>,
    /// Whether webhook endpoints may be loopback, private or link-local addresses (receivers on the same network).
    pub webhook_allow_private: bool,
    /// Stripe Connect payouts; `None` when no secret key is set (the manual payout rail is used).
    pub stripe: Option<StripeSettings>,
}

#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: String,
    /// Where the Stripe API lives, ending in `/`: Stripe's own, or a Stripe-compatible server in tests.
    pub api_base: String,
    /// Verifies `POST /webhooks/stripe`; `None` refuses every webhook.
    pub webhook_secret: Option<String>,
    /// How long one Stripe call may take; a payout's lease is twice this.
    pub timeout_secs: u64,
}

pub const STRIPE_API_BASE: &str = "https://api.stripe.com/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS: a local relay or a test sink.
    Plain,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS, which must succeed (`?tls=starttls`).
    StartTls,
}

#[derive(Clone, PartialEq, Eq)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(user, _)| user),
            )
            .finish()
    }
}

impl SmtpTarget {
    /// `smtp://host:port`, `smtps://user:pass@host:465`, `smtp://host:587?tls=starttls`.
    pub fn parse(raw: &str) -> Result<Self, crate::domain::refusal::Refusal> {
        let url = Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("needs a host, e.g. smtp://127.0.0.1:25")?
            .to_string();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_ascii_lowercase());
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtps", None) => SmtpSecurity::Implicit,
            ("smtp", None | Some("none") | Some("off")) => SmtpSecurity::Plain,
            ("smtp", Some("starttls") | Some("required")) => SmtpSecurity::StartTls,
            ("smtp" | "smtps", Some(other)) => {
                return Err(Refusal::new(format!(
                    "tls={other} is not one of starttls, none"
                )))
            }
            (scheme, _) => {
                return Err(Refusal::new(format!(
                    "scheme {scheme}:// is not smtp:// or smtps://"
                )))
            }
        };
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::Plain => 25,
            SmtpSecurity::Implicit => 465,
            SmtpSecurity::StartTls => 587,
        });
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = if url.username().is_empty() {
            None
        } else {
            Some((decode(url.username()), decode(url.password().unwrap_or(""))))
        };
        Ok(Self {
            host,
            port,
            security,
            credentials,
        })
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database", &self.database.backend)
            .field("bind", &self.bind)
            .field("base_url", &self.base_url)
            .field("session_key", &self.session_key.as_ref().map(|_| "<set>"))
            .field("cookie_secure", &self.cookie_secure)
            .field("smtp", &self.smtp)
            .field("mail_from", &self.mail_from)
            .field("mail_dir", &self.mail_dir)
            .field("data_dir", &self.data_dir)
            .field("outbox_max_attempts", &self.outbox_max_attempts)
            .field("run_jobs", &self.run_jobs)
            .field("behind_proxy", &self.behind_proxy)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("ip_salt", &self.ip_salt.as_ref().map(|_| "<set>"))
            .field(
                "stripe",
                &self
                    .stripe
                    .as_ref()
                    .map(|s| format!("<key set>, {}", s.api_base)),
            )
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
        let get = |name: &str| setting(vars, name);

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

        let session_key = get("CONCORD_SESSION_KEY").map(session_key).transpose()?;

        let cookie_secure = match get("CONCORD_COOKIE_SECURE") {
            Some(raw) => parse_bool(raw)
                .ok_or_else(|| bad("CONCORD_COOKIE_SECURE", "must be true or false"))?,
            None => base_url.starts_with("https://"),
        };

        let smtp = match get("CONCORD_SMTP_URL") {
            Some(raw) => Some(SmtpTarget::parse(raw).map_err(|m| bad("CONCORD_SMTP_URL", m))?),
            None => None,
        };
        let mail_from = get("CONCORD_MAIL_FROM")
            .unwrap_or("Concord <concord@localhost>")
            .to_string();
        mail_from.parse::<lettre::message::Mailbox>().map_err(|e| {
            bad(
                "CONCORD_MAIL_FROM",
                format!(
                    "'{mail_from}' is not an address like Partners <partners@example.com> ({e})"
                ),
            )
        })?;
        let mail_dir = std::path::PathBuf::from(get("CONCORD_MAIL_DIR").unwrap_or("mail"));
        let data_dir = std::path::PathBuf::from(get("CONCORD_DATA_DIR").unwrap_or("data"));
        let outbox_max_attempts = match get("CONCORD_OUTBOX_MAX_ATTEMPTS") {
            Some(raw) => whole_number("CONCORD_OUTBOX_MAX_ATTEMPTS", raw, 1..=100)?,
            None => 8,
        };
        let behind_proxy = match get("CONCORD_BEHIND_PROXY") {
            Some(raw) => {
                parse_bool(raw).ok_or_else(|| bad("CONCORD_BEHIND_PROXY", "must be on or off"))?
            }
            None => false,
        };
        let ip_salt = match (get("CONCORD_IP_SALT"), get("CONCORD_IP_SALT_FILE")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "CONCORD_IP_SALT",
                    "set CONCORD_IP_SALT or CONCORD_IP_SALT_FILE, not both",
                ))
            }
            (Some(raw), None) => Some(ip_salt("CONCORD_IP_SALT", raw)?),
            (None, Some(path)) => {
                let raw = std::fs::read_to_string(path)
                    .map_err(|e| bad("CONCORD_IP_SALT_FILE", format!("cannot read {path}: {e}")))?;
                Some(ip_salt("CONCORD_IP_SALT_FILE", &raw)?)
            }
            (None, None) => None,
        };
        let webhook_allow_private = match get("CONCORD_WEBHOOK_ALLOW_PRIVATE") {
            Some(raw) => parse_bool(raw)
                .ok_or_else(|| bad("CONCORD_WEBHOOK_ALLOW_PRIVATE", "must be on or off"))?,
            None => false,
        };
        let stripe = match get("CONCORD_STRIPE_SECRET_KEY") {
            Some(key) => Some(stripe_settings(key, vars)?),
            None => None,
        };
        let run_jobs = match get("CONCORD_JOBS") {
            Some(raw) => parse_bool(raw).ok_or_else(|| bad("CONCORD_JOBS", "must be on or off"))?,
            None => true,
        };

        Ok(Self {
            database,
            bind,
            base_url,
            session_key,
            cookie_secure,
            smtp,
            mail_from,
            mail_dir,
            data_dir,
            outbox_max_attempts,
            run_jobs,
            behind_proxy,
            ip_salt,
            webhook_allow_private,
            stripe,
        })
    }
}

/// A variable's value, trimmed; unset and blank are the same.
fn setting<'a>(vars: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// `CONCORD_SESSION_KEY`: hexadecimal, at least 64 bytes.
fn session_key(raw: &str) -> Result<Vec<u8>, ConfigError> {
    let key = hex::decode(raw).map_err(|_| bad("CONCORD_SESSION_KEY", "must be hexadecimal"))?;
    if key.len() < 64 {
        return Err(bad(
            "CONCORD_SESSION_KEY",
            format!(
                "must be at least 64 bytes (128 hex digits); got {} bytes",
                key.len()
            ),
        ));
    }
    Ok(key)
}

/// A whole-number setting within `range`.
fn whole_number(
    name: &'static str,
    raw: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            bad(
                name,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// Stripe Connect payouts, on when `CONCORD_STRIPE_SECRET_KEY` is set.
fn stripe_settings(
    secret_key: &str,
    vars: &HashMap<String, String>,
) -> Result<StripeSettings, ConfigError> {
    let get = |name: &str| setting(vars, name);
    let base = get("CONCORD_STRIPE_API_BASE").unwrap_or(STRIPE_API_BASE);
    url::Url::parse(base)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            bad(
                "CONCORD_STRIPE_API_BASE",
                format!("'{base}' is not an http(s) address"),
            )
        })?;
    let timeout_secs = match get("CONCORD_STRIPE_TIMEOUT_SECS") {
        Some(raw) => whole_number("CONCORD_STRIPE_TIMEOUT_SECS", raw, 1..=120)? as u64,
        None => 30,
    };
    Ok(StripeSettings {
        secret_key: secret_key.to_string(),
        api_base: format!("{}/", base.trim_end_matches('/')),
        webhook_secret: get("CONCORD_STRIPE_WEBHOOK_SECRET").map(str::to_string),
        timeout_secs,
    })
}

/// An IP salt: at least 32 characters once trimmed (a file may end with a newline).
fn ip_salt(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    let salt = raw.trim();
    if salt.chars().count() < 32 {
        return Err(bad(
            variable,
            "needs at least 32 characters, e.g. the output of `openssl rand -hex 32`",
        ));
    }
    Ok(salt.to_string())
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
    fn the_ip_salt_comes_from_the_environment_or_a_file_and_is_long() {
        assert!(settings(&[]).unwrap().ip_salt.is_none());
        let salt = "s".repeat(32);
        assert_eq!(
            settings(&[("CONCORD_IP_SALT", &salt)]).unwrap().ip_salt,
            Some(salt.clone())
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("salt");
        std::fs::write(&file, format!("{salt}\n")).unwrap();
        assert_eq!(
            settings(&[("CONCORD_IP_SALT_FILE", file.to_str().unwrap())])
                .unwrap()
                .ip_salt,
            Some(salt)
        );
        let short = settings(&[("CONCORD_IP_SALT", "short")]).unwrap_err();
        assert!(short.to_string().starts_with("CONCORD_IP_SALT:"), "{short}");
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
    fn smtp_urls_name_their_security() {
        let plain = SmtpTarget::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (
                plain.host.as_str(),
                plain.port,
                plain.security,
                plain.credentials.clone()
            ),
            ("127.0.0.1", 2525, SmtpSecurity::Plain, None)
        );
        let implicit = SmtpTarget::parse("smtps://mailer:s%40cret@smtp.example.com").unwrap();
        assert_eq!(implicit.port, 465);
        assert_eq!(implicit.security, SmtpSecurity::Implicit);
        assert_eq!(
            implicit.credentials,
            Some(("mailer".into(), "s@cret".into()))
        );
        let starttls = SmtpTarget::parse("smtp://smtp.example.com?tls=starttls").unwrap();
        assert_eq!(
            (starttls.port, starttls.security),
            (587, SmtpSecurity::StartTls)
        );
        assert!(settings(&[("CONCORD_SMTP_URL", "http://x")])
            .unwrap_err()
            .to_string()
            .starts_with("CONCORD_SMTP_URL:"));
        assert!(settings(&[("CONCORD_SMTP_URL", "smtp://x?tls=maybe")]).is_err());
        assert!(
            format!("{implicit:?}").contains("mailer") && !format!("{implicit:?}").contains("cret")
        );
    }

    #[test]
    fn mail_settings_are_checked() {
        assert!(settings(&[("CONCORD_MAIL_FROM", "not an address")])
            .unwrap_err()
            .to_string()
            .starts_with("CONCORD_MAIL_FROM:"));
        assert!(settings(&[("CONCORD_OUTBOX_MAX_ATTEMPTS", "0")]).is_err());
        let s =
            settings(&[("CONCORD_MAIL_FROM", "Acme Partners <partners@acme.example>")]).unwrap();
        assert_eq!(s.mail_dir, std::path::PathBuf::from("mail"));
        assert_eq!(s.data_dir, std::path::PathBuf::from("data"));
        assert_eq!(s.outbox_max_attempts, 8);
        assert!(s.smtp.is_none() && s.run_jobs);
    }

    #[test]
    fn stripe_is_on_with_a_secret_key_and_its_base_is_checked() {
        assert!(settings(&[]).unwrap().stripe.is_none());
        let s = settings(&[("CONCORD_STRIPE_SECRET_KEY", "sk_test_x")]).unwrap();
        let stripe = s.stripe.unwrap();
        assert_eq!(
            (stripe.api_base.as_str(), stripe.timeout_secs),
            (STRIPE_API_BASE, 30)
        );
        let fake = settings(&[
            ("CONCORD_STRIPE_SECRET_KEY", "sk_test_x"),
            ("CONCORD_STRIPE_API_BASE", "http://127.0.0.1:9999"),
        ])
        .unwrap();
        assert_eq!(fake.stripe.unwrap().api_base, "http://127.0.0.1:9999/");
        let bad = settings(&[
            ("CONCORD_STRIPE_SECRET_KEY", "sk_test_x"),
            ("CONCORD_STRIPE_API_BASE", "ftp://x"),
        ])
        .unwrap_err();
        assert_eq!(bad.variable, "CONCORD_STRIPE_API_BASE");
        let bad = settings(&[
            ("CONCORD_STRIPE_SECRET_KEY", "sk_test_x"),
            ("CONCORD_STRIPE_TIMEOUT_SECS", "0"),
        ])
        .unwrap_err();
        assert_eq!(bad.variable, "CONCORD_STRIPE_TIMEOUT_SECS");
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
