//! Settings, parsed once at start-up from the environment (and `.env`, via dotenvy).
//!
//! Every variable is read through [`Settings::from_vars`], which takes a lookup function so that
//! tests can build settings from a map instead of mutating the process environment. A missing or
//! invalid value is a [`ConfigError`] naming the variable; `main` prints it and exits.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use std::num::NonZeroU32;

use crate::domain::Currency;
use crate::limits::Rate;

/// A configuration problem, always naming the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Which checkout provider takes the reader's money.
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
}

impl PaymentSettings {
    /// Whether events must carry `livemode: true`. The key's prefix decides; demo is test mode.
    pub fn livemode(&self) -> bool {
        match self {
            PaymentSettings::Demo => false,
            PaymentSettings::Stripe(s) => s.secret_key.expose_secret().starts_with("sk_live_"),
        }
    }

    pub fn is_demo(&self) -> bool {
        matches!(self, PaymentSettings::Demo)
    }
}

/// Price and limits of a donation. The amount is always computed here, never taken from the client.
#[derive(Debug, Clone)]
pub struct Pricing {
    pub coffee_price_cents: i64,
    pub currency: Currency,
    pub max_coffees: u32,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    /// How long a write waits for SQLite's lock before the request fails (webhooks: 503).
    pub database_busy_timeout: Duration,
    pub bind_addr: String,
    /// `None` means "derive from the address actually bound" (so port 0 works in tests).
    pub public_url: Option<String>,
    pub payment: PaymentSettings,
    /// Every accepted `whsec_…` secret. Empty with the demo provider: one is generated at start.
    pub webhook_secrets: Vec<SecretString>,
    pub webhook_tolerance: Duration,
    pub pricing: Pricing,
    pub site_name: String,
    pub blog_url: Option<String>,
    pub app_env: AppEnv,
    pub log_format: LogFormat,
    /// How often the reconciliation job asks Stripe for missed events; zero turns it off.
    pub reconcile_interval: Duration,
    /// `plink_…` ids whose sessions are recorded although we did not create them.
    pub payment_links: Vec<String>,
    /// An optional goal shown as a progress bar: a number of coffees and what it is for.
    pub goal: Option<Goal>,
    /// Origins allowed to frame `/widget` (`frame-ancestors`); `*` allows any.
    pub embed_origins: Vec<String>,
    /// Enables `/admin` and `/api/admin`; `None` makes every admin URL a 404.
    pub admin_token: Option<SecretString>,
    /// Signs donors' manage links and admin sessions. `None`: generated once and kept in the
    /// database, so links survive restarts.
    pub signing_secret: Option<SecretString>,
    pub moderation: Moderation,
    /// Lower-cased words that hold a public entry for review.
    pub blocked_words: Vec<String>,
    pub privacy_url: Option<String>,
    pub imprint_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` we believe. Anyone else's is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Checkout sessions one client address may start, and its burst; `None` is off.
    pub donate_rate_per_ip: Option<(Rate, NonZeroU32)>,
    /// Checkout sessions the whole service may start; `None` is off.
    pub donate_rate_global: Option<Rate>,
    /// The longest any request may take before it is answered 503.
    pub request_timeout: Duration,
}

/// Which public entries wait for the blogger's approval before their name and message show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    Off,
    /// Entries with a URL, an e-mail address or a blocked word.
    Links,
    All,
}

#[derive(Debug, Clone)]
pub struct Goal {
    pub coffees: u32,
    pub label: Option<String>,
}

impl Settings {
    /// Reads `.env` (if present) and the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is worth stopping for.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::new(".env", e.to_string())),
        }
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Builds settings from any variable lookup. Empty values count as unset.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let bind_addr = var("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        if bind_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::new(
                "BIND_ADDR",
                "expected host:port, e.g. 127.0.0.1:8080",
            ));
        }
        let public_url = var("PUBLIC_URL")
            .map(|u| parse_url("PUBLIC_URL", &u))
            .transpose()?;
        let blog_url = var("BLOG_URL").map(|u| parse_url("BLOG_URL", &u)).transpose()?;

        let secret_key = var("STRIPE_SECRET_KEY");
        let provider = var("PAYMENT_PROVIDER").unwrap_or_else(|| match secret_key {
            Some(_) => "stripe".into(),
            None => "demo".into(),
        });
        let payment = match provider.as_str() {
            "demo" => PaymentSettings::Demo,
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
                let api_base = var("STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com".into());
                PaymentSettings::Stripe(StripeSettings {
                    secret_key: SecretString::from(key),
                    api_base: parse_url("STRIPE_API_BASE", &api_base)?,
                    timeout: Duration::from_secs(parse_num(
                        "STRIPE_TIMEOUT_SECS",
                        var("STRIPE_TIMEOUT_SECS"),
                        10,
                        1..=120,
                    )?),
                })
            }
            _ => return Err(ConfigError::new("PAYMENT_PROVIDER", "expected stripe or demo")),
        };

        let webhook_secrets: Vec<SecretString> = var("STRIPE_WEBHOOK_SECRET")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| SecretString::from(s.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        if webhook_secrets
            .iter()
            .any(|s| !s.expose_secret().starts_with("whsec_"))
        {
            return Err(ConfigError::new(
                "STRIPE_WEBHOOK_SECRET",
                "every secret must start with whsec_",
            ));
        }
        if !payment.is_demo() && webhook_secrets.is_empty() {
            return Err(ConfigError::new(
                "STRIPE_WEBHOOK_SECRET",
                "required with Stripe (from the dashboard or `stripe listen`)",
            ));
        }

        let app_env = match var("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(_) => return Err(ConfigError::new("APP_ENV", "expected development or production")),
        };
        if app_env == AppEnv::Production && payment.is_demo() {
            return Err(ConfigError::new(
                "PAYMENT_PROVIDER",
                "the demo provider is refused with APP_ENV=production; set STRIPE_SECRET_KEY",
            ));
        }

        let log_format = match var("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("LOG_FORMAT", "expected pretty or json")),
        };

        let currency = var("CURRENCY").unwrap_or_else(|| "eur".into());
        let currency = Currency::parse(&currency)
            .map_err(|_| ConfigError::new("CURRENCY", "expected a three-letter ISO code such as eur"))?;
        let pricing = Pricing {
            coffee_price_cents: parse_num(
                "COFFEE_PRICE_CENTS",
                var("COFFEE_PRICE_CENTS"),
                500,
                50..=100_000,
            )?,
            currency,
            max_coffees: parse_num("MAX_COFFEES", var("MAX_COFFEES"), 10, 1..=100)?,
        };

        let reconcile_secs = parse_num(
            "RECONCILE_INTERVAL_SECS",
            var("RECONCILE_INTERVAL_SECS"),
            3600,
            0..=86_400 * 7,
        )?;
        let payment_links = var("STRIPE_PAYMENT_LINKS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if let Some(bad) = payment_links.iter().find(|l| !l.starts_with("plink_")) {
            return Err(ConfigError::new(
                "STRIPE_PAYMENT_LINKS",
                format!("{bad} is not a plink_… id"),
            ));
        }

        let goal = var("GOAL_COFFEES")
            .map(|raw| parse_num("GOAL_COFFEES", Some(raw), 1, 1..=1_000_000))
            .transpose()?
            .map(|coffees| Goal {
                coffees,
                label: var("GOAL_LABEL"),
            });
        let embed_origins: Vec<String> = var("EMBED_ORIGINS")
            .unwrap_or_else(|| "*".into())
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = embed_origins.iter().find(|o| !is_origin(o)) {
            return Err(ConfigError::new(
                "EMBED_ORIGINS",
                format!("{bad:?} is not * or an origin like https://blog.example.de"),
            ));
        }

        let admin_token = var("ADMIN_TOKEN").map(SecretString::from);
        if admin_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().chars().count() < 32)
        {
            return Err(ConfigError::new(
                "ADMIN_TOKEN",
                "must be at least 32 characters (try `openssl rand -hex 32`)",
            ));
        }
        let signing_secret = var("SIGNING_SECRET").map(SecretString::from);
        if signing_secret
            .as_ref()
            .is_some_and(|t| t.expose_secret().len() < 32)
        {
            return Err(ConfigError::new(
                "SIGNING_SECRET",
                "must be at least 32 characters",
            ));
        }
        let moderation = match var("MODERATION").as_deref() {
            None | Some("links") => Moderation::Links,
            Some("off") => Moderation::Off,
            Some("all") => Moderation::All,
            Some(_) => return Err(ConfigError::new("MODERATION", "expected off, links or all")),
        };
        let blocked_words = var("BLOCKED_WORDS")
            .map(|v| {
                v.split(',')
                    .map(|w| w.trim().to_lowercase())
                    .filter(|w| !w.is_empty())
                    .collect()
            })
            .unwrap_or_default();

        let trusted_proxies = var("TRUSTED_PROXIES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<ipnet::IpNet>()
                            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                            .map_err(|_| {
                                ConfigError::new(
                                    "TRUSTED_PROXIES",
                                    format!("{s:?} is not an IP address or CIDR range"),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();

        let rate = |name: &'static str, default: &str| {
            Rate::parse(&var(name).unwrap_or_else(|| default.into())).map_err(|m| ConfigError::new(name, m))
        };
        let burst = parse_num("DONATE_BURST_PER_IP", var("DONATE_BURST_PER_IP"), 3u32, 1..=1000)?;
        let donate_rate_per_ip = rate("DONATE_RATE_PER_IP", "5/10m")?
            .map(|r| (r, NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)));
        let donate_rate_global = rate("DONATE_RATE_GLOBAL", "60/1h")?;

        Ok(Settings {
            request_timeout: Duration::from_secs(parse_num(
                "REQUEST_TIMEOUT_SECS",
                var("REQUEST_TIMEOUT_SECS"),
                30,
                1..=600,
            )?),
            donate_rate_per_ip,
            donate_rate_global,
            trusted_proxies,
            admin_token,
            signing_secret,
            moderation,
            blocked_words,
            privacy_url: var("PRIVACY_URL")
                .map(|u| parse_url("PRIVACY_URL", &u))
                .transpose()?,
            imprint_url: var("IMPRINT_URL")
                .map(|u| parse_url("IMPRINT_URL", &u))
                .transpose()?,
            goal,
            embed_origins,
            database_url: var("DATABASE_URL").unwrap_or_else(|| "sqlite://kaffeekasse.db".into()),
            database_busy_timeout: Duration::from_millis(parse_num(
                "DATABASE_BUSY_TIMEOUT_MS",
                var("DATABASE_BUSY_TIMEOUT_MS"),
                5000,
                10..=60_000,
            )?),
            bind_addr,
            public_url,
            payment,
            webhook_secrets,
            webhook_tolerance: Duration::from_secs(parse_num(
                "STRIPE_WEBHOOK_TOLERANCE_SECS",
                var("STRIPE_WEBHOOK_TOLERANCE_SECS"),
                300,
                1..=86_400,
            )?),
            pricing,
            site_name: var("SITE_NAME").unwrap_or_else(|| "Kaffeekasse".into()),
            blog_url,
            app_env,
            log_format,
            reconcile_interval: Duration::from_secs(reconcile_secs),
            payment_links,
        })
    }
}

fn parse_num<T>(
    var: &'static str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = value else { return Ok(default) };
    let n: T = raw
        .parse()
        .map_err(|_| ConfigError::new(var, format!("{raw:?} is not a number")))?;
    if !range.contains(&n) {
        return Err(ConfigError::new(
            var,
            format!("{n} is out of range {}..={}", range.start(), range.end()),
        ));
    }
    Ok(n)
}

/// Accepts an absolute http(s) URL and drops a trailing slash, so paths can be appended.
fn parse_url(var: &'static str, raw: &str) -> Result<String, ConfigError> {
    let ok = (raw.starts_with("http://") || raw.starts_with("https://"))
        && raw.len() > "https://".len()
        && !raw.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`'));
    if !ok {
        return Err(ConfigError::new(
            var,
            "expected an absolute http:// or https:// URL",
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// `*`, or `http(s)://host[:port]` with nothing that could break out of a CSP header.
fn is_origin(raw: &str) -> bool {
    if raw == "*" {
        return true;
    }
    let Some(host) = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
    else {
        return false;
    };
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn no_configuration_means_demo_mode_with_defaults() {
        let s = settings(&[]).unwrap();
        assert!(s.payment.is_demo());
        assert_eq!(s.bind_addr, "127.0.0.1:8080");
        assert_eq!(s.pricing.coffee_price_cents, 500);
        assert_eq!(s.pricing.max_coffees, 10);
        assert_eq!(s.database_url, "sqlite://kaffeekasse.db");
    }

    #[test]
    fn a_stripe_key_switches_to_stripe_and_its_prefix_decides_livemode() {
        let s = settings(&[
            ("STRIPE_SECRET_KEY", "sk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a"),
        ])
        .unwrap();
        assert!(!s.payment.is_demo());
        assert!(s.payment.livemode());
    }

    #[test]
    fn stripe_without_a_webhook_secret_names_the_variable() {
        let err = settings(&[("STRIPE_SECRET_KEY", "sk_test_x")]).unwrap_err();
        assert_eq!(err.var, "STRIPE_WEBHOOK_SECRET");
    }

    #[test]
    fn production_refuses_the_demo_provider() {
        let err = settings(&[("APP_ENV", "production")]).unwrap_err();
        assert_eq!(err.var, "PAYMENT_PROVIDER");
    }

    #[test]
    fn invalid_numbers_name_their_variable() {
        assert_eq!(
            settings(&[("MAX_COFFEES", "lots")]).unwrap_err().var,
            "MAX_COFFEES"
        );
        assert_eq!(
            settings(&[("COFFEE_PRICE_CENTS", "0")]).unwrap_err().var,
            "COFFEE_PRICE_CENTS"
        );
        assert_eq!(
            settings(&[("PUBLIC_URL", "example.org")]).unwrap_err().var,
            "PUBLIC_URL"
        );
    }

    #[test]
    fn embed_origins_default_to_any_and_reject_header_injection() {
        assert_eq!(settings(&[]).unwrap().embed_origins, vec!["*"]);
        let s = settings(&[("EMBED_ORIGINS", "https://blog.example.de, http://localhost:4000")]).unwrap();
        assert_eq!(s.embed_origins.len(), 2);
        assert_eq!(
            settings(&[("EMBED_ORIGINS", "https://x.de; script-src *")])
                .unwrap_err()
                .var,
            "EMBED_ORIGINS"
        );
    }

    #[test]
    fn a_short_admin_token_stops_startup() {
        assert_eq!(
            settings(&[("ADMIN_TOKEN", "too-short")]).unwrap_err().var,
            "ADMIN_TOKEN"
        );
        let s = settings(&[("ADMIN_TOKEN", &"x".repeat(32))]).unwrap();
        assert!(s.admin_token.is_some());
        assert!(!format!("{s:?}").contains(&"x".repeat(32)));
    }

    #[test]
    fn moderation_defaults_to_links() {
        assert_eq!(settings(&[]).unwrap().moderation, Moderation::Links);
        assert_eq!(
            settings(&[("MODERATION", "all")]).unwrap().moderation,
            Moderation::All
        );
        assert_eq!(
            settings(&[("MODERATION", "maybe")]).unwrap_err().var,
            "MODERATION"
        );
    }

    #[test]
    fn a_goal_needs_a_positive_number_of_coffees() {
        let s = settings(&[("GOAL_COFFEES", "100"), ("GOAL_LABEL", "Neuer Laptop")]).unwrap();
        assert_eq!(s.goal.unwrap().coffees, 100);
        assert_eq!(
            settings(&[("GOAL_COFFEES", "0")]).unwrap_err().var,
            "GOAL_COFFEES"
        );
    }

    #[test]
    fn a_comma_separated_secret_list_is_accepted_and_never_debug_printed() {
        let s = settings(&[("STRIPE_WEBHOOK_SECRET", "whsec_one, whsec_two")]).unwrap();
        assert_eq!(s.webhook_secrets.len(), 2);
        assert!(!format!("{s:?}").contains("whsec_one"));
    }
}
