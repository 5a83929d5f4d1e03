//! Card-testing defence for `POST /donate`: a token bucket per client address and one for the
//! whole service (governor's GCRA). Past either, the request is refused before Stripe is called,
//! so a burst of attempts costs the blogger no Stripe fees.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::config::Rate;

/// Refills `rate.count` cells per `rate.period`, holding at most `burst`.
fn quota(rate: Rate, burst: NonZeroU32) -> Option<Quota> {
    Quota::with_period(rate.period / rate.count.get()).map(|q| q.allow_burst(burst))
}

pub struct DonateLimits {
    per_client: Option<DefaultKeyedRateLimiter<IpAddr>>,
    global: Option<DefaultDirectRateLimiter>,
    clock: DefaultClock,
}

impl DonateLimits {
    pub fn new(per_client: Option<(Rate, NonZeroU32)>, global: Option<Rate>) -> Self {
        DonateLimits {
            per_client: per_client
                .and_then(|(r, burst)| quota(r, burst))
                .map(DefaultKeyedRateLimiter::keyed),
            global: global
                .and_then(|r| quota(r, r.count))
                .map(DefaultDirectRateLimiter::direct),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one attempt from `client`'s bucket and then the global one; `Err` says how long
    /// to wait. The client's own bucket goes first, so one abuser cannot drain the global one.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let now = self.clock.now();
        if let Some(limiter) = &self.per_client {
            limiter
                .check_key(&client)
                .map_err(|not_until| not_until.wait_time_from(now))?;
        }
        if let Some(limiter) = &self.global {
            limiter
                .check()
                .map_err(|not_until| not_until.wait_time_from(now))?;
        }
        Ok(())
    }

    /// Forgets clients whose buckets are full again, so memory stays bounded.
    pub fn forget_idle_clients(&self) {
        if let Some(limiter) = &self.per_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_unaffected() {
        let rate = Rate::parse("5/10m").unwrap().unwrap();
        let limits = DonateLimits::new(Some((rate, NonZeroU32::new(3).unwrap())), None);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limits.check(a).is_ok());
        }
        let wait = limits.check(a).unwrap_err();
        assert!(
            wait > Duration::from_secs(60) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert!(limits.check(b).is_ok());
    }

    #[test]
    fn the_global_bucket_stops_everyone() {
        let limits = DonateLimits::new(None, Rate::parse("2/1h").unwrap());
        assert!(limits.check("192.0.2.1".parse().unwrap()).is_ok());
        assert!(limits.check("192.0.2.2".parse().unwrap()).is_ok());
        assert!(limits.check("192.0.2.3".parse().unwrap()).is_err());
    }
}
