//! The SQLite file, and how it is read and written.

use std::time::Duration;

use super::ConfigError;
use super::vars::Vars;

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    /// How long a write waits for another process's lock before it fails (webhooks: 503).
    pub busy_timeout: Duration,
    /// Connections for reads; writes have their own one.
    pub read_connections: u32,
    /// How many queued writes the writer commits together (`1`: one commit each).
    pub batch_max: usize,
    /// How long a checkout that never paid keeps its name and message, and a failed or ignored
    /// event its payload (storage limitation, GDPR Art. 5(1)(e)).
    pub abandoned_retention: Duration,
}

pub(super) fn read(v: &Vars) -> Result<DatabaseSettings, ConfigError> {
    Ok(DatabaseSettings {
        url: v
            .get("DATABASE_URL")
            .unwrap_or_else(|| "sqlite://kaffeekasse.db".into()),
        busy_timeout: Duration::from_millis(v.num("DATABASE_BUSY_TIMEOUT_MS", 5000, 10..=60_000)?),
        read_connections: v.num("DATABASE_READ_CONNECTIONS", 4, 1..=64)?,
        batch_max: v.num("WEBHOOK_BATCH_MAX", 64, 1..=1024)?,
        abandoned_retention: Duration::from_secs(
            // At least past Stripe's three days of webhook retries.
            86_400 * v.num::<u64>("ABANDONED_RETENTION_DAYS", 30, 4..=3650)?,
        ),
    })
}
