//! Abuse resistance: which proxies to believe, and how many checkouts clients may start.

use std::num::NonZeroU32;

use super::ConfigError;
use super::rate::Rate;
use super::vars::Vars;

#[derive(Debug, Clone)]
pub struct AbuseSettings {
    /// Reverse proxies whose `X-Forwarded-For` we believe. Anyone else's is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Checkout sessions one client address may start, and its burst; `None` is off.
    pub donate_rate_per_ip: Option<(Rate, NonZeroU32)>,
    /// Checkout sessions the whole service may start; `None` is off.
    pub donate_rate_global: Option<Rate>,
}

pub(super) fn read(v: &Vars) -> Result<AbuseSettings, ConfigError> {
    let burst = v.num("DONATE_BURST_PER_IP", 3u32, 1..=1000)?;
    Ok(AbuseSettings {
        trusted_proxies: v.proxies("TRUSTED_PROXIES")?,
        donate_rate_per_ip: v
            .rate("DONATE_RATE_PER_IP", "5/10m")?
            .map(|r| (r, NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))),
        donate_rate_global: v.rate("DONATE_RATE_GLOBAL", "60/1h")?,
    })
}
