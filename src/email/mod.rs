//! Email. Decisions write rendered messages to the outbox in their own transaction (`notify`); the outbox job hands
//! them to the `Mailer`, which speaks SMTP, or writes `.eml` files when no SMTP server is configured so a person
//! trying Concord can read what would have been sent.

pub mod messages;
pub mod notify;

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Settings, SmtpSecurity};
use crate::db::outbox::OutboxMessage;

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
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|e| format!("CONCORD_MAIL_FROM: {e}"))?;
        let transport = match &settings.smtp {
            None => Transport::Files(settings.mail_dir.clone()),
            Some(target) => {
                let builder = match target.security {
                    SmtpSecurity::Plain => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&target.host)
                    }
                    SmtpSecurity::Implicit => {
                        AsyncSmtpTransport::<Tokio1Executor>::relay(&target.host)
                            .map_err(|e| format!("CONCORD_SMTP_URL: {e}"))?
                    }
                    SmtpSecurity::StartTls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&target.host)
                            .map_err(|e| format!("CONCORD_SMTP_URL: {e}"))?
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

    /// Hands one outbox message to the transport. The error text is stored on the outbox row.
    pub async fn deliver(&self, message: &OutboxMessage) -> Result<(), String> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|e| format!("recipient '{}': {e}", message.recipient))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            .message_id(Some(message.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                message.body_text.clone(),
                message.body_html.clone(),
            ))
            .map_err(|e| e.to_string())?;
        match &self.transport {
            Transport::Smtp(transport) => transport
                .send(email)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = dir.join(format!("{:06}-{}.eml", message.id, message.template));
                std::fs::write(&path, email.formatted())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                tracing::info!(to = %message.recipient, subject = %message.subject, file = %path.display(), "email written");
                Ok(())
            }
        }
    }
}
