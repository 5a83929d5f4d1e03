//! Which checkout provider takes the reader's money: Stripe, or the built-in demo.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use super::vars::Vars;

#[derive(Debug, Clone)]
pub enum PaymentSettings {
    /// The built-in stand-in for Stripe: no money moves; webhooks are signed and sent locally.
    Demo,
    Stripe(StripeSettings),
}

#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: SecretString,
    /// Base URL of Stripe's API; tests point it at a local mock.
    pub api_base: String,
    /// Per-attempt timeout for calls to Stripe.
    pub timeout: Duration,
    /// How often the reconciliation job asks Stripe for missed events; zero turns it off.
    pub reconcile_interval: Duration,
}

impl StripeSettings {
    /// A live key's events carry `livemode: true`; a test key's do not.
    pub fn livemode(&self) -> bool {
        self.secret_key.expose_secret().starts_with("sk_live_")
    }
}

impl PaymentSettings {
    /// Whether events must carry `livemode: true`. The key's prefix decides; demo is test mode.
    pub fn livemode(&self) -> bool {
        match self {
            PaymentSettings::Demo => false,
            PaymentSettings::Stripe(s) => s.livemode(),
        }
    }

    pub fn is_demo(&self) -> bool {
        matches!(self, PaymentSettings::Demo)
    }

    pub fn stripe(&self) -> Option<&StripeSettings> {
        match self {
            PaymentSettings::Stripe(s) => Some(s),
            PaymentSettings::Demo => None,
        }
    }
}

/// `PAYMENT_PROVIDER` and, for Stripe, its key, API base, timeout and reconciliation interval.
pub(super) fn read(v: &Vars) -> Result<PaymentSettings, ConfigError> {
    let secret_key = v.get("STRIPE_SECRET_KEY");
    let provider = v.get("PAYMENT_PROVIDER").unwrap_or_else(|| match secret_key {
        Some(_) => "stripe".into(),
        None => "demo".into(),
    });
    match provider.as_str() {
        "demo" => Ok(PaymentSettings::Demo),
        "stripe" => {
            let key = secret_key.ok_or_else(|| {
                ConfigError::new("STRIPE_SECRET_KEY", "required when PAYMENT_PROVIDER=stripe")
            })?;
            if !(key.starts_with("sk_test_") || key.starts_with("sk_live_") || key.starts_with("rk_")) {
                return Err(ConfigError::new(
                    "STRIPE_SECRET_KEY",
                    "must start with sk_test_ or sk_live_",
                ));
            }
            Ok(PaymentSettings::Stripe(StripeSettings {
                secret_key: SecretString::from(key),
                api_base: v
                    .url("STRIPE_API_BASE")?
                    .unwrap_or_else(|| "https://api.stripe.com".into()),
                timeout: Duration::from_secs(v.num("STRIPE_TIMEOUT_SECS", 10, 1..=120)?),
                reconcile_interval: Duration::from_secs(v.num(
                    "RECONCILE_INTERVAL_SECS",
                    3600,
                    0..=86_400 * 7,
                )?),
            }))
        }
        _ => Err(ConfigError::new("PAYMENT_PROVIDER", "expected stripe or demo")),
    }
}
