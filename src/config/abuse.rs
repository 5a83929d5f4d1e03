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
    /// Thanks-page views one client address may make, and its burst; `None` is off.
    pub thanks_rate_per_ip: Option<(Rate, NonZeroU32)>,
    /// Changes through manage links one client address may make, and its burst; `None` is off.
    pub manage_rate_per_ip: Option<(Rate, NonZeroU32)>,
    /// Cancellations (`/kuendigen`) one client address may declare, and its burst; `None` is off.
    pub cancel_rate_per_ip: Option<(Rate, NonZeroU32)>,
    /// Cancellations one network (IPv4 /24, IPv6 /48) may declare; `None` is off. There is no
    /// limit for the whole service: the button must work for everyone during an attack.
    pub cancel_rate_per_network: Option<Rate>,
    /// How long a request's body may take to arrive after its headers.
    pub body_timeout: std::time::Duration,
    /// Bytes of unfinished request bodies the process holds at most, and one client at most.
    pub body_budget: (usize, usize),
    /// Connections one client may have open (a trusted proxy's are not counted).
    pub connections_per_client: usize,
}

/// In demo mode no money moves and the checkout listens on loopback: a blogger trying out the
/// jar may start this many checkouts a minute before the limiter speaks up.
pub const DEMO_DONATE_RATE: &str = "30/1m";
const DEMO_DONATE_BURST: u32 = 30;

/// `demo`: the per-client donate limit defaults to [`DEMO_DONATE_RATE`] (explicit settings win).
pub(super) fn read(v: &Vars, demo: bool) -> Result<AbuseSettings, ConfigError> {
    let (donate_rate, donate_burst) = if demo {
        (DEMO_DONATE_RATE, DEMO_DONATE_BURST)
    } else {
        ("5/10m", 3)
    };
    let burst = |name, default| -> Result<NonZeroU32, ConfigError> {
        let n = v.num(name, default, 1..=1000)?;
        Ok(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
    };
    Ok(AbuseSettings {
        trusted_proxies: v.proxies("TRUSTED_PROXIES")?,
        donate_rate_per_ip: v
            .rate("DONATE_RATE_PER_IP", donate_rate)?
            .map(|r| burst("DONATE_BURST_PER_IP", donate_burst).map(|b| (r, b)))
            .transpose()?,
        donate_rate_global: v.rate("DONATE_RATE_GLOBAL", "60/1h")?,
        // A reader's thanks page refreshes itself a few times; a script polling it is throttled.
        thanks_rate_per_ip: v
            .rate("THANKS_RATE_PER_IP", "30/1m")?
            .map(|r| burst("THANKS_BURST_PER_IP", 10).map(|b| (r, b)))
            .transpose()?,
        // Each change is a durable write: a script replaying a manage form must not flood the disk.
        manage_rate_per_ip: v
            .rate("MANAGE_RATE_PER_IP", "10/1m")?
            .map(|r| burst("MANAGE_BURST_PER_IP", 5).map(|b| (r, b)))
            .transpose()?,
        // Each declaration is a stored row and may ask Stripe: a reader declares once, a script
        // replaying the form must not fill the disk.
        cancel_rate_per_ip: v
            .rate("CANCEL_RATE_PER_IP", "5/1h")?
            .map(|r| burst("CANCEL_BURST_PER_IP", 3).map(|b| (r, b)))
            .transpose()?,
        cancel_rate_per_network: v.rate("CANCEL_RATE_PER_NETWORK", "20/1h")?,
        body_timeout: std::time::Duration::from_secs(v.num("BODY_TIMEOUT_SECS", 5, 1..=120)?),
        // A webhook body is at most 256 KiB: a client may send four at once, the process 64.
        body_budget: (
            v.num("BODY_BUDGET_BYTES", 16 << 20, 64 << 10..=1 << 30)?,
            v.num("BODY_BUDGET_PER_CLIENT_BYTES", 1 << 20, 16 << 10..=1 << 30)?,
        ),
        connections_per_client: v.num("CONNECTIONS_PER_CLIENT", 32, 1..=100_000)?,
    })
}
