//! Stripe's webhook: the endpoint's signing secrets and the accepted clock difference.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use super::payment::PaymentSettings;
use super::vars::Vars;

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Every accepted `whsec_…` secret. Empty with the demo provider until start-up generates one.
    pub secrets: Vec<SecretString>,
    pub tolerance: Duration,
}

impl WebhookSettings {
    pub fn tolerance_secs(&self) -> i64 {
        i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX)
    }
}

/// `STRIPE_WEBHOOK_SECRET`: a comma-separated list during a rotation; required with Stripe.
pub(super) fn read(v: &Vars, payment: &PaymentSettings) -> Result<WebhookSettings, ConfigError> {
    let secrets: Vec<SecretString> = v
        .list("STRIPE_WEBHOOK_SECRET")
        .into_iter()
        .map(SecretString::from)
        .collect();
    if secrets.iter().any(|s| !s.expose_secret().starts_with("whsec_")) {
        return Err(ConfigError::new(
            "STRIPE_WEBHOOK_SECRET",
            "every secret must start with whsec_",
        ));
    }
    if !payment.is_demo() && secrets.is_empty() {
        return Err(ConfigError::new(
            "STRIPE_WEBHOOK_SECRET",
            "required with Stripe (from the dashboard or `stripe listen`)",
        ));
    }
    Ok(WebhookSettings {
        secrets,
        tolerance: Duration::from_secs(v.num("STRIPE_WEBHOOK_TOLERANCE_SECS", 300, 1..=86_400)?),
    })
}
