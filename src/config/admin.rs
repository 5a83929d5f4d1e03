//! The blogger's keys: the admin token and the secret that signs links and sessions.

use secrecy::SecretString;

use super::ConfigError;
use super::vars::Vars;

#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Enables `/admin` and `/api/admin`; `None` makes every admin URL a 404.
    pub token: Option<SecretString>,
    /// Signs donors' manage links and admin sessions. `None`: generated once and kept in the
    /// database, so links survive restarts.
    pub signing_secret: Option<SecretString>,
    /// Enables `/metrics` for a bearer of this token; `None` makes it a 404.
    pub metrics_token: Option<SecretString>,
}

pub(super) fn read(v: &Vars) -> Result<AdminSettings, ConfigError> {
    Ok(AdminSettings {
        token: v.secret("ADMIN_TOKEN")?,
        signing_secret: v.secret("SIGNING_SECRET")?,
        metrics_token: v.secret("METRICS_TOKEN")?,
    })
}
