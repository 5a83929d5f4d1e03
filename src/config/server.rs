//! Where and how the service listens.

use std::time::Duration;

use super::ConfigError;
use super::vars::Vars;

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

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub bind_addr: String,
    /// `None` means "derive from the address actually bound" (so port 0 works in tests).
    pub public_url: Option<String>,
    pub app_env: AppEnv,
    pub log_format: LogFormat,
    /// The longest any request may take before it is answered 503.
    pub request_timeout: Duration,
}

pub(super) fn read(v: &Vars) -> Result<ServerSettings, ConfigError> {
    let bind_addr = v.get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
    if bind_addr.parse::<std::net::SocketAddr>().is_err() {
        return Err(ConfigError::new(
            "BIND_ADDR",
            "expected host:port, e.g. 127.0.0.1:8080",
        ));
    }
    Ok(ServerSettings {
        bind_addr,
        public_url: v.url("PUBLIC_URL")?,
        app_env: match v.get("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(_) => return Err(ConfigError::new("APP_ENV", "expected development or production")),
        },
        log_format: match v.get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("LOG_FORMAT", "expected pretty or json")),
        },
        request_timeout: Duration::from_secs(v.num("REQUEST_TIMEOUT_SECS", 30, 1..=600)?),
    })
}
