//! Email. Decisions render messages (`email_message!`) and write them to the outbox in their own transaction; the
//! outbox job hands them to the `Mailer`, which speaks SMTP, or writes `.eml` files when no SMTP server is
//! configured so a person trying Concord can read what would have been sent.

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Settings, SmtpSecurity};

/// A message ready for the outbox: rendered once, when the decision is made.
#[derive(Debug, Clone)]
pub struct Email {
    pub template: &'static str,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a notification could not be written with its decision.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error("email template did not render: {0}")]
    Render(#[from] askama::Error),
}

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|e| anyhow::Error::new(e).context("CONCORD_MAIL_FROM"))?;
        let transport = match &settings.smtp {
            None => Transport::Files(settings.mail_dir.clone()),
            Some(target) => {
                let builder = match target.security {
                    SmtpSecurity::Plain => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&target.host)
                    }
                    SmtpSecurity::Implicit => {
                        AsyncSmtpTransport::<Tokio1Executor>::relay(&target.host)
                            .map_err(|e| anyhow::Error::new(e).context("CONCORD_SMTP_URL"))?
                    }
                    SmtpSecurity::StartTls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&target.host)
                            .map_err(|e| anyhow::Error::new(e).context("CONCORD_SMTP_URL"))?
                    }
                };
                let mut builder = builder
                    .port(target.port)
                    .timeout(Some(std::time::Duration::from_secs(10)));
                if let Some((user, password)) = &target.credentials {
                    builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self { from, transport })
    }

    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "SMTP".into(),
            Transport::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// Hands one stored message to the transport.
    pub async fn deliver(&self, message: &Delivery<'_>) -> Result<(), DeliveryError> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|e| DeliveryError::Recipient(message.recipient.to_string(), e))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject)
            .message_id(Some(message.message_id.to_string()))
            .multipart(MultiPart::alternative_plain_html(
                message.text.to_string(),
                message.html.to_string(),
            ))?;
        match &self.transport {
            Transport::Smtp(transport) => transport.send(email).await.map(|_| ())?,
            Transport::Files(dir) => {
                let path = dir.join(format!("{}.eml", message.file_stem));
                std::fs::create_dir_all(dir)
                    .and_then(|_| std::fs::write(&path, email.formatted()))
                    .map_err(|e| DeliveryError::File(path.display().to_string(), e))?;
                tracing::info!(to = %message.recipient, subject = %message.subject, file = %path.display(), "email written");
            }
        }
        Ok(())
    }
}

/// A message as the outbox stored it, ready for the transport.
pub struct Delivery<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// Kept across retries, so a message delivered twice after a crash is recognisably the same.
    pub message_id: &'a str,
    /// The `.eml` file's name without the extension, when messages go to files.
    pub file_stem: String,
}

/// Why a message could not be handed over; its text is kept on the outbox row for the admin.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("recipient '{0}': {1}")]
    Recipient(String, lettre::address::AddressError),
    #[error("the message could not be built: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("{0}: {1}")]
    File(String, std::io::Error),
}

impl From<NotifyError> for crate::platform::http::AppError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::Database(e) => Self::from(e),
            NotifyError::Render(e) => Self::caused("an email did not render", e),
        }
    }
}

/// What every message needs: the program's name and where the install lives.
#[derive(Debug, Clone)]
pub struct Frame {
    pub program_name: String,
    pub base_url: String,
}

impl Frame {
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// Declares a message type: its three templates and a `render` into an `Email`.
macro_rules! email_message {
    ($message:ident, $name:tt, $subject:tt, $text:tt, $html:tt) => {
        impl $message {
            pub fn render(&self, recipient: &str) -> askama::Result<$crate::platform::mail::Email> {
                #[derive(askama::Template)]
                #[template(path = $subject)]
                struct Subject<'a> {
                    m: &'a $message,
                }
                #[derive(askama::Template)]
                #[template(path = $text)]
                struct Text<'a> {
                    m: &'a $message,
                }
                #[derive(askama::Template)]
                #[template(path = $html)]
                struct Html<'a> {
                    m: &'a $message,
                }
                Ok($crate::platform::mail::Email {
                    template: $name,
                    recipient: recipient.to_string(),
                    subject: askama::Template::render(&Subject { m: self })?
                        .trim()
                        .to_string(),
                    text: askama::Template::render(&Text { m: self })?,
                    html: askama::Template::render(&Html { m: self })?,
                })
            }
        }
    };
}
pub(crate) use email_message;
