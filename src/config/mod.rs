//! Settings, parsed once at start-up from the environment (and `.env`, via dotenvy), grouped by
//! who uses them: one section (and one file) each for the server, the database, the payment
//! provider, the webhook, the site, the admin, abuse resistance, and the jar's rules.
//!
//! Every variable is read through [`Settings::from_vars`], which takes a lookup function so that
//! tests can build settings from a map instead of mutating the process environment. A missing or
//! invalid value is a [`ConfigError`] naming the variable; `main` prints it and exits.

mod abuse;
mod admin;
mod database;
mod error;
mod notify;
mod payment;
mod rate;
mod rules;
mod server;
mod site;
#[cfg(test)]
mod tests;
mod vars;
mod webhook;

pub use abuse::AbuseSettings;
pub use admin::AdminSettings;
pub use database::DatabaseSettings;
pub use error::ConfigError;
pub use notify::{Email, NotifySettings, NotifyWebhook, Ntfy};
pub use payment::{PaymentSettings, StripeSettings};
pub use rate::Rate;
pub use server::{AppEnv, LogFormat, ServerSettings};
pub use site::{Goal, SiteSettings};
pub use webhook::WebhookSettings;

use crate::domain::Rules;
use vars::Vars;

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub payment: PaymentSettings,
    pub webhook: WebhookSettings,
    pub site: SiteSettings,
    pub admin: AdminSettings,
    pub abuse: AbuseSettings,
    pub notify: NotifySettings,
    /// Prices, Payment Links and moderation: what the webhook and the handlers decide by.
    pub rules: Rules,
}

/// Settings that would expose the jar on the open internet in an unsafe way stop start-up.
fn refuse_unsafe(v: &Vars, server: &ServerSettings, payment: &PaymentSettings) -> Result<(), ConfigError> {
    if server.app_env == AppEnv::Production {
        if payment.is_demo() {
            return Err(ConfigError::new(
                "PAYMENT_PROVIDER",
                "the demo provider is refused with APP_ENV=production; set STRIPE_SECRET_KEY",
            ));
        }
        if !server
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
        {
            return Err(ConfigError::new(
                "PUBLIC_URL",
                "APP_ENV=production needs an https:// PUBLIC_URL (admin cookies and manage links travel over it)",
            ));
        }
        // https means a TLS proxy in front. Without believing its X-Forwarded-For every reader is
        // the proxy: one shared rate limit, and five wrong guesses lock out every admin login.
        if v.get("TRUSTED_PROXIES").is_none() {
            return Err(ConfigError::new(
                "TRUSTED_PROXIES",
                "APP_ENV=production needs the TLS proxy's address (e.g. 127.0.0.1 or 172.16.0.0/12), or none if clients connect directly",
            ));
        }
    }
    // The demo checkout lets anyone record "paid" coffees. Reachable from other machines only on
    // purpose, never because a Stripe key was mistyped or forgotten.
    let loopback = server
        .bind_addr
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if payment.is_demo() && !loopback && v.get("PAYMENT_PROVIDER").as_deref() != Some("demo") {
        return Err(ConfigError::new(
            "BIND_ADDR",
            "the demo checkout listens only on loopback (127.0.0.1); set STRIPE_SECRET_KEY, or PAYMENT_PROVIDER=demo to expose the demo on purpose",
        ));
    }
    Ok(())
}

/// A missing .env is normal; a malformed one is worth stopping for.
fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(ConfigError::new(".env", e.to_string())),
    }
}

impl Settings {
    /// Reads `.env` (if present) and the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        load_dotenv()?;
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`Settings::from_env`], with some variables given here instead (a one-off key).
    pub fn from_env_with(overrides: &[(&str, String)]) -> Result<Self, ConfigError> {
        load_dotenv()?;
        Self::from_vars(|name| {
            overrides
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(name).ok())
        })
    }

    /// Only the database section, for a command that needs nothing else (`backup`): it must work
    /// with just `DATABASE_URL`, even where `APP_ENV=production` would demand Stripe keys.
    pub fn database_from_env() -> Result<DatabaseSettings, ConfigError> {
        load_dotenv()?;
        let lookup = |name: &str| std::env::var(name).ok();
        database::read(&Vars::new(&lookup))
    }

    /// Builds settings from any variable lookup. Empty values count as unset.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let v = Vars::new(&lookup);
        let server = server::read(&v)?;
        let payment = payment::read(&v)?;
        refuse_unsafe(&v, &server, &payment)?;
        Ok(Settings {
            database: database::read(&v)?,
            webhook: webhook::read(&v, &payment)?,
            site: site::read(&v)?,
            admin: admin::read(&v)?,
            abuse: abuse::read(&v, payment.is_demo())?,
            notify: notify::read(&v)?,
            rules: rules::read(&v)?,
            server,
            payment,
        })
    }
}
