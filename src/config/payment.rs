//! Which checkout provider takes the reader's money: Stripe, or the built-in demo.

use std::time::Duration;

use secrecy::SecretString;

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
    /// Live mode (a `sk_live_`/`rk_live_` key) or test mode (`sk_test_`/`rk_test_`).
    pub livemode: bool,
    /// Base URL of Stripe's API; tests point it at a local mock.
    pub api_base: String,
    /// Per-attempt timeout for calls to Stripe.
    pub timeout: Duration,
    /// How often the reconciliation job asks Stripe for missed events; zero turns it off.
    pub reconcile_interval: Duration,
    /// After the account's prefix on card statements: `KAFFEEKASSE* KAFFEE`.
    pub statement_descriptor_suffix: String,
}

impl StripeSettings {
    /// A live key's events carry `livemode: true`; a test key's do not.
    pub fn livemode(&self) -> bool {
        self.livemode
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

/// The mode of a Stripe secret key, from its prefix: secret (`sk_`) and restricted (`rk_`) keys,
/// live or test. `None`: not a secret key (a publishable `pk_` key, a typo).
pub fn key_livemode(key: &str) -> Option<bool> {
    match key.get(..8) {
        Some("sk_live_" | "rk_live_") => Some(true),
        Some("sk_test_" | "rk_test_") => Some(false),
        _ => None,
    }
}

/// Stripe's rules for a statement descriptor suffix: Latin letters, digits, spaces and simple
/// punctuation, at least one letter, none of `< > \ ' " *`. With the account's prefix (2 to 10
/// characters), `* ` and the suffix, the whole must fit 22 characters, so 18 at most.
pub fn valid_descriptor_suffix(suffix: &str) -> Result<(), &'static str> {
    if !(1..=18).contains(&suffix.chars().count()) {
        return Err("must be 1 to 18 characters (the whole descriptor, prefix* suffix, is at most 22)");
    }
    if !suffix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " .,-_&/#+:!?()".contains(c))
    {
        return Err("may hold only Latin letters, digits, spaces and . , - _ & / # + : ! ? ( )");
    }
    if !suffix.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err("needs at least one letter");
    }
    Ok(())
}

/// `PAYMENT_PROVIDER` and, for Stripe, its key, API base, timeout, reconciliation interval and
/// statement descriptor.
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
            let livemode = key_livemode(&key).ok_or_else(|| {
                ConfigError::new(
                    "STRIPE_SECRET_KEY",
                    "must be a secret or restricted key: sk_live_, rk_live_, sk_test_ or rk_test_",
                )
            })?;
            let suffix = v
                .get("STATEMENT_DESCRIPTOR_SUFFIX")
                .unwrap_or_else(|| "KAFFEE".into());
            valid_descriptor_suffix(&suffix)
                .map_err(|why| ConfigError::new("STATEMENT_DESCRIPTOR_SUFFIX", why))?;
            Ok(PaymentSettings::Stripe(StripeSettings {
                secret_key: SecretString::from(key),
                livemode,
                api_base: v
                    .url("STRIPE_API_BASE")?
                    .unwrap_or_else(|| "https://api.stripe.com".into()),
                timeout: Duration::from_secs(v.num("STRIPE_TIMEOUT_SECS", 10, 1..=120)?),
                reconcile_interval: Duration::from_secs(v.num(
                    "RECONCILE_INTERVAL_SECS",
                    3600,
                    0..=86_400 * 7,
                )?),
                statement_descriptor_suffix: suffix,
            }))
        }
        _ => Err(ConfigError::new("PAYMENT_PROVIDER", "expected stripe or demo")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_and_restricted_keys_carry_their_mode_and_nothing_else_is_a_key() {
        assert_eq!(key_livemode("sk_live_abc"), Some(true));
        assert_eq!(key_livemode("rk_live_abc"), Some(true));
        assert_eq!(key_livemode("sk_test_abc"), Some(false));
        assert_eq!(key_livemode("rk_test_abc"), Some(false));
        for bad in ["pk_live_abc", "rk_abc", "sk_abc", "whsec_abc", "", "sk_live"] {
            assert_eq!(key_livemode(bad), None, "{bad}");
        }
    }

    #[test]
    fn statement_descriptor_suffixes_follow_stripes_rules() {
        for good in ["KAFFEE", "Blog Kaffee", "A1", "x"] {
            assert!(valid_descriptor_suffix(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1234",
            "Café",
            "KAFFEE*",
            "<b>",
            "it's",
            "\"quoted\"",
            "back\\slash",
            &"K".repeat(19),
        ] {
            assert!(valid_descriptor_suffix(bad).is_err(), "{bad}");
        }
        assert!(valid_descriptor_suffix(&"K".repeat(18)).is_ok());
    }
}
