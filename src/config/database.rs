//! The SQLite file.

use std::time::Duration;

use super::ConfigError;
use super::vars::Vars;

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    /// How long a write waits for SQLite's lock before the request fails (webhooks: 503).
    pub busy_timeout: Duration,
}

pub(super) fn read(v: &Vars) -> Result<DatabaseSettings, ConfigError> {
    Ok(DatabaseSettings {
        url: v
            .get("DATABASE_URL")
            .unwrap_or_else(|| "sqlite://kaffeekasse.db".into()),
        busy_timeout: Duration::from_millis(v.num("DATABASE_BUSY_TIMEOUT_MS", 5000, 10..=60_000)?),
    })
}
