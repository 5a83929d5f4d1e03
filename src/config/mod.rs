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

#[cfg(test)]
mod tests;
mod vars;

use vars::Vars;

/// A configuration problem, always naming the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(var: &'static str, message: impl Into<String>) -> Self {
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
        let v = Vars::new(&lookup);
        let bind_addr = v.get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        if bind_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::new(
                "BIND_ADDR",
                "expected host:port, e.g. 127.0.0.1:8080",
            ));
        }
        let payment = payment(&v)?;
        let webhook_secrets = webhook_secrets(&v, &payment)?;
        let app_env = match v.get("APP_ENV").as_deref() {
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
        let log_format = match v.get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("LOG_FORMAT", "expected pretty or json")),
        };
        let currency = Currency::parse(&v.get("CURRENCY").unwrap_or_else(|| "eur".into()))
            .map_err(|_| ConfigError::new("CURRENCY", "expected a three-letter ISO code such as eur"))?;
        let (admin_token, signing_secret) = (v.secret("ADMIN_TOKEN")?, v.secret("SIGNING_SECRET")?);
        let burst = v.num("DONATE_BURST_PER_IP", 3u32, 1..=1000)?;

        Ok(Settings {
            database_url: v
                .get("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://kaffeekasse.db".into()),
            database_busy_timeout: Duration::from_millis(v.num(
                "DATABASE_BUSY_TIMEOUT_MS",
                5000,
                10..=60_000,
            )?),
            bind_addr,
            public_url: v.url("PUBLIC_URL")?,
            payment,
            webhook_secrets,
            webhook_tolerance: Duration::from_secs(v.num(
                "STRIPE_WEBHOOK_TOLERANCE_SECS",
                300,
                1..=86_400,
            )?),
            pricing: Pricing {
                coffee_price_cents: v.num("COFFEE_PRICE_CENTS", 500, 50..=100_000)?,
                currency,
                max_coffees: v.num("MAX_COFFEES", 10, 1..=100)?,
            },
            site_name: v.get("SITE_NAME").unwrap_or_else(|| "Kaffeekasse".into()),
            blog_url: v.url("BLOG_URL")?,
            app_env,
            log_format,
            reconcile_interval: Duration::from_secs(v.num(
                "RECONCILE_INTERVAL_SECS",
                3600,
                0..=86_400 * 7,
            )?),
            payment_links: v.list_checked(
                "STRIPE_PAYMENT_LINKS",
                |l| l.starts_with("plink_"),
                "is not a plink_… id",
            )?,
            goal: v
                .get("GOAL_COFFEES")
                .map(|_| v.num("GOAL_COFFEES", 1, 1..=1_000_000))
                .transpose()?
                .map(|coffees| Goal {
                    coffees,
                    label: v.get("GOAL_LABEL"),
                }),
            embed_origins: match v.list_checked(
                "EMBED_ORIGINS",
                vars::is_origin,
                "is not * or an origin like https://blog.example.de",
            )? {
                origins if origins.is_empty() => vec!["*".to_owned()],
                origins => origins,
            },
            admin_token,
            signing_secret,
            moderation: match v.get("MODERATION").as_deref() {
                None | Some("links") => Moderation::Links,
                Some("off") => Moderation::Off,
                Some("all") => Moderation::All,
                Some(_) => return Err(ConfigError::new("MODERATION", "expected off, links or all")),
            },
            blocked_words: v
                .list("BLOCKED_WORDS")
                .into_iter()
                .map(|w| w.to_lowercase())
                .collect(),
            privacy_url: v.url("PRIVACY_URL")?,
            imprint_url: v.url("IMPRINT_URL")?,
            trusted_proxies: v.proxies("TRUSTED_PROXIES")?,
            donate_rate_per_ip: v
                .rate("DONATE_RATE_PER_IP", "5/10m")?
                .map(|r| (r, NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))),
            donate_rate_global: v.rate("DONATE_RATE_GLOBAL", "60/1h")?,
            request_timeout: Duration::from_secs(v.num("REQUEST_TIMEOUT_SECS", 30, 1..=600)?),
        })
    }
}

/// `PAYMENT_PROVIDER` and, for Stripe, its key, API base and timeout.
fn payment(v: &Vars) -> Result<PaymentSettings, ConfigError> {
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
            }))
        }
        _ => Err(ConfigError::new("PAYMENT_PROVIDER", "expected stripe or demo")),
    }
}

/// `STRIPE_WEBHOOK_SECRET`: a comma-separated list during a rotation; required with Stripe.
fn webhook_secrets(v: &Vars, payment: &PaymentSettings) -> Result<Vec<SecretString>, ConfigError> {
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
    Ok(secrets)
}
