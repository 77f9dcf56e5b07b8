//! The few Stripe Connect calls Concord makes, through async-stripe: an Express account per org, its onboarding
//! link, its state, and transfers. Transfers always carry an idempotency key derived from the payout's id, so
//! asking again after a crash returns the first transfer instead of making a second one.

use std::collections::HashMap;

use stripe::StripeRequest;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError};
use stripe_connect::account::{CreateAccount, CreateAccountType, RetrieveAccount};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_connect::transfer::CreateTransfer;

use crate::config::StripeSettings;

#[derive(Clone)]
pub struct Stripe {
    client: Client,
}

/// What Stripe says about a connected account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    /// Requirements currently due ("external_account", "individual.dob.day"...).
    pub currently_due: Vec<String>,
}

/// A call Stripe answered with an error, or that did not reach Stripe. `message` is for people.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    pub message: String,
    /// Stripe answered (4xx): retrying the same request cannot succeed. Otherwise the call may be retried.
    pub definitive: bool,
}

impl From<StripeError> for CallError {
    fn from(error: StripeError) -> Self {
        match error {
            StripeError::Stripe(api, status) => CallError {
                message: format!(
                    "Stripe: {} (HTTP {status})",
                    api.message
                        .clone()
                        .unwrap_or_else(|| "request refused".into())
                ),
                definitive: (400..500).contains(&status) && status != 409 && status != 429,
            },
            other => CallError {
                message: format!("Stripe could not be reached: {other}"),
                definitive: false,
            },
        }
    }
}

impl Stripe {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        let client = ClientBuilder::new(settings.secret_key.clone())
            .url(settings.api_base.clone())
            .timeout(std::time::Duration::from_secs(settings.timeout_secs))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the Stripe client: {e}"))?;
        Ok(Self { client })
    }

    /// Creates an Express account for an org, with the org's id in its metadata.
    pub async fn create_account(
        &self,
        org_id: i64,
        email: &str,
        country: &str,
    ) -> Result<String, CallError> {
        let mut request = CreateAccount::new()
            .type_(CreateAccountType::Express)
            .email(email)
            .metadata(HashMap::from([(
                "concord_org_id".to_string(),
                org_id.to_string(),
            )]));
        if country.len() == 2 {
            request = request.country(country.to_uppercase());
        }
        let key =
            IdempotencyKey::new(format!("concord-account-{org_id}")).expect("short, non-empty key");
        let account = request
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await?;
        Ok(account.id.to_string())
    }

    /// The link that takes the partner through Stripe's onboarding.
    pub async fn onboarding_link(
        &self,
        account_id: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> Result<String, CallError> {
        let link = CreateAccountLink::new(account_id, CreateAccountLinkType::AccountOnboarding)
            .refresh_url(refresh_url)
            .return_url(return_url)
            .send(&self.client)
            .await?;
        Ok(link.url)
    }

    pub async fn account_state(&self, account_id: &str) -> Result<AccountState, CallError> {
        let account = RetrieveAccount::new(account_id).send(&self.client).await?;
        Ok(AccountState {
            payouts_enabled: account.payouts_enabled.unwrap_or(false),
            details_submitted: account.details_submitted.unwrap_or(false),
            currently_due: account
                .requirements
                .and_then(|r| r.currently_due)
                .unwrap_or_default(),
        })
    }

    /// Transfers a payout to the org's account. The idempotency key is the payout's id: the same payout asked
    /// again returns the transfer Stripe made the first time.
    pub async fn transfer(
        &self,
        payout_id: i64,
        amount_minor: i64,
        currency: &str,
        destination: &str,
    ) -> Result<String, CallError> {
        let currency: stripe_types::Currency = currency
            .to_lowercase()
            .parse()
            .expect("parsing a currency never fails");
        let name = format!("concord-payout-{payout_id}");
        let key = IdempotencyKey::new(&name).expect("short, non-empty key");
        let transfer = CreateTransfer::new(currency, destination)
            .amount(amount_minor)
            .transfer_group(name.clone())
            .description(format!("Concord payout #{payout_id}"))
            .metadata(HashMap::from([(
                "concord_payout_id".to_string(),
                payout_id.to_string(),
            )]))
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await?;
        Ok(transfer.id.to_string())
    }
}
