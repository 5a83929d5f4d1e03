use super::*;
use crate::client_key::ClientKey;
use prometheus_client::metrics::counter::Counter;

fn key(ip: &str) -> ClientKey {
    ClientKey::from(ip.parse::<std::net::IpAddr>().unwrap())
}

fn rate(raw: &str) -> Rate {
    Rate::parse(raw).unwrap().unwrap()
}

#[test]
fn a_client_gets_its_burst_then_waits_and_others_are_unaffected() {
    let limits = DonateLimits::new(Some((rate("5/10m"), NonZeroU32::new(3).unwrap())), None);
    for _ in 0..3 {
        assert!(limits.check(key("192.0.2.1"), false).is_ok());
    }
    let wait = limits.check(key("192.0.2.1"), false).unwrap_err();
    assert!(
        wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
    assert!(limits.check(key("192.0.2.2"), false).is_ok());
}

#[test]
fn a_bucket_refills_one_cell_per_interval() {
    let limiter = ClientLimiter::new(rate("6/1m"), NonZeroU32::new(2).unwrap());
    let (c, t0) = (key("192.0.2.1"), Instant::now());
    let ok = || Ok(());
    assert!(limiter.check_then(c, t0, ok).is_ok());
    assert!(limiter.check_then(c, t0, ok).is_ok());
    assert_eq!(limiter.check_then(c, t0, ok), Err(Duration::from_secs(10)));
    assert_eq!(
        limiter.check_then(c, t0 + Duration::from_secs(4), ok),
        Err(Duration::from_secs(6))
    );
    assert!(limiter.check_then(c, t0 + Duration::from_secs(10), ok).is_ok());
    assert!(limiter.check_then(c, t0 + Duration::from_secs(10), ok).is_err());
}

#[test]
fn a_refusal_elsewhere_takes_nothing_from_the_client() {
    let limiter = ClientLimiter::new(rate("1/1h"), NonZeroU32::MIN);
    let (c, now) = (key("192.0.2.1"), Instant::now());
    for _ in 0..5 {
        assert_eq!(
            limiter.check_then(c, now, || Err(Duration::from_secs(7))),
            Err(Duration::from_secs(7))
        );
    }
    assert!(
        limiter.check_then(c, now, || Ok(())).is_ok(),
        "still a full bucket"
    );
    assert!(limiter.check_then(c, now, || Ok(())).is_err());
}

#[test]
fn the_global_bucket_stops_everyone_without_charging_their_own_buckets() {
    let per_client = Some((rate("1/1h"), NonZeroU32::MIN));
    let limits = DonateLimits::new(per_client, Some(rate("2/1h")));
    assert!(limits.check(key("192.0.2.1"), false).is_ok());
    assert!(limits.check(key("198.51.100.2"), false).is_ok());
    assert!(
        limits.check(key("203.0.113.3"), false).is_err(),
        "the jar's bucket is empty"
    );
    let own = limits.per_client.as_ref().unwrap();
    assert!(
        own.check(key("203.0.113.3")).is_ok(),
        "the refused reader's own bucket is still full"
    );
}

#[test]
fn one_ipv6_64_is_one_client() {
    let limits = DonateLimits::new(Some((rate("1/1h"), NonZeroU32::MIN)), None);
    assert!(limits.check(key("2001:db8:0:1::1"), false).is_ok());
    assert!(limits.check(key("2001:db8:0:1::2"), false).is_err());
    assert!(limits.check(key("2001:db8:0:2::1"), false).is_ok());
}

#[test]
fn idle_clients_are_forgotten_and_the_table_is_capped() {
    let limiter = ClientLimiter::new(rate("1/1s"), NonZeroU32::MIN);
    let now = Instant::now();
    for i in 0..(MAX_CLIENTS as u32 + 10) {
        let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(i));
        assert!(limiter.check_then(ClientKey::from(ip), now, || Ok(())).is_ok());
    }
    assert!(
        limiter.tracked() <= MAX_CLIENTS && limiter.tracked() > MAX_CLIENTS * 8 / 10,
        "{}",
        limiter.tracked()
    );
    let later = ClientLimiter::new(rate("1/1s"), NonZeroU32::MIN);
    assert!(later.check_then(key("192.0.2.1"), now, || Ok(())).is_ok());
    later.forget_idle(now + Duration::from_secs(2));
    assert_eq!(later.tracked(), 0);
}

#[test]
fn a_busy_client_is_remembered_when_idle_ones_are_forgotten() {
    // Instants only go forward from now: going back past the machine's uptime would panic.
    let limiter = ClientLimiter::new(rate("1/1h"), NonZeroU32::MIN);
    let (t0, two_hours) = (Instant::now(), Duration::from_secs(7200));
    let (busy, idle) = (key("192.0.2.1"), key("192.0.2.2"));
    assert!(limiter.check_then(idle, t0, || Ok(())).is_ok());
    assert!(limiter.check_then(busy, t0 + two_hours, || Ok(())).is_ok());
    limiter.forget_idle(t0 + two_hours);
    assert_eq!(limiter.tracked(), 1, "only the idle client is forgotten");
    assert!(
        limiter.check_then(busy, t0 + two_hours, || Ok(())).is_err(),
        "the busy client still waits"
    );
}

#[test]
fn the_table_never_holds_more_than_its_cap_and_idle_clients_make_room_first() {
    let limiter = ClientLimiter::new(rate("1/1s"), NonZeroU32::MIN);
    let now = Instant::now();
    let client = |i: u32| ClientKey::from(std::net::IpAddr::V4(std::net::Ipv4Addr::from(i)));
    for i in 0..(MAX_CLIENTS as u32 + 10) {
        assert!(limiter.check_then(client(i), now, || Ok(())).is_ok());
        assert!(limiter.tracked() <= MAX_CLIENTS, "{} tracked", limiter.tracked());
    }
    // A full table whose buckets have all but one refilled seconds later: the next client finds
    // room by forgetting them, and the one still waiting is kept.
    let full = ClientLimiter::new(rate("1/1s"), NonZeroU32::MIN);
    for i in 0..MAX_CLIENTS as u32 - 1 {
        assert!(full.check_then(client(i), now, || Ok(())).is_ok());
    }
    let waiting = key("198.51.100.7");
    assert!(
        full.check_then(waiting, now + Duration::from_secs(10), || Ok(()))
            .is_ok()
    );
    assert_eq!(full.tracked(), MAX_CLIENTS);
    let later = now + Duration::from_secs(5);
    assert!(full.check_then(client(u32::MAX), later, || Ok(())).is_ok());
    assert_eq!(full.tracked(), 2);
    assert!(
        full.check_then(waiting, later, || Ok(())).is_err(),
        "still waiting"
    );
}

#[test]
fn the_shared_budget_admits_its_count_then_refuses_and_counts_refusals() {
    let refused = Counter::default();
    let shared = GlobalLimiter::new(rate("2/1h")).counting_refusals(refused.clone());
    assert!(shared.admit());
    assert!(shared.admit());
    assert_eq!(refused.get(), 0, "admissions are not refusals");
    assert!(!shared.admit());
    assert!(!shared.admit());
    assert_eq!(refused.get(), 2);
    let limiter = ClientLimiter::new(rate("10/1h"), NonZeroU32::new(10).unwrap());
    assert!(!limiter.check_with(key("192.0.2.1"), &shared));
    assert!(
        limiter.check(key("192.0.2.1")).is_ok(),
        "its own bucket untouched"
    );
}

#[test]
fn an_empty_global_bucket_is_reported_once_per_window() {
    let limits = DonateLimits::new(None, Some(rate("1/1h")));
    let warned = || *limits.warned.lock().unwrap();
    assert!(limits.check(key("192.0.2.1"), false).is_ok());
    assert_eq!(warned(), None, "nothing to report while there is room");
    assert!(limits.check(key("198.51.100.2"), false).is_err());
    let first = warned().expect("the empty bucket is reported");
    assert!(limits.check(key("203.0.113.3"), false).is_err());
    assert_eq!(warned(), Some(first), "not again within the window");
    assert_eq!(limits.global_refused.get(), 2);
}

#[test]
fn every_limit_forgets_its_idle_clients() {
    let per_client = Some((rate("1/1m"), NonZeroU32::MIN));
    let abuse = AbuseSettings {
        trusted_proxies: Vec::new(),
        donate_rate_per_ip: per_client,
        donate_rate_global: None,
        thanks_rate_per_ip: per_client,
        manage_rate_per_ip: per_client,
        cancel_rate_per_ip: per_client,
        cancel_rate_per_network: None,
        body_timeout: std::time::Duration::from_secs(5),
        body_budget: (1 << 20, 1 << 16),
        connections_per_client: 8,
    };
    let limits = Limits::new(&abuse, &Metrics::new());
    let now = Instant::now();
    let all = [
        limits.donate.per_client.as_ref().unwrap(),
        limits.thanks.as_ref().unwrap(),
        limits.manage.as_ref().unwrap(),
        limits.cancel.per_client.as_ref().unwrap(),
        &limits.unknown_session_clients,
    ];
    for limiter in all {
        assert!(limiter.check_then(key("192.0.2.1"), now, || Ok(())).is_ok());
        assert_eq!(limiter.tracked(), 1);
    }
    limits.forget_idle(now + Duration::from_secs(3600));
    for limiter in all {
        assert_eq!(limiter.tracked(), 0);
    }
}

#[test]
fn twenty_thousand_addresses_of_one_48_take_a_sixth_of_the_global_budget() {
    let limits = DonateLimits::new(
        Some((rate("5/10m"), NonZeroU32::new(3).unwrap())),
        Some(rate("60/1h")),
    );
    let taken = (0..20_000u32)
        .filter(|i| {
            limits
                .check(key(&format!("2001:db8:66:{:x}::1", i % 65_536)), false)
                .is_ok()
        })
        .count();
    assert_eq!(taken, 5, "the /48's burst of a sixth of 60, halved");
    assert!(
        limits.check(key("2001:db8:77::1"), true).is_ok(),
        "a real reader elsewhere donates"
    );
    assert!(limits.check(key("192.0.2.1"), false).is_ok());
}

#[test]
fn a_flood_from_many_networks_leaves_the_reserved_third_to_readers_who_loaded_the_form() {
    let limits = DonateLimits::new(None, Some(rate("60/1h")));
    let scripted = (0..1_000u32)
        .filter(|i| {
            limits
                .check(key(&format!("10.{}.{}.1", i / 256, i % 256)), false)
                .is_ok()
        })
        .count();
    assert_eq!(scripted, 40, "the open two thirds");
    let readers = (0..30u32)
        .filter(|i| limits.check(key(&format!("172.16.{i}.1")), true).is_ok())
        .count();
    assert_eq!(readers, 20, "the reserved third");
}

#[test]
fn an_ipv6_32_holds_a_third_across_its_48s() {
    let limits = DonateLimits::new(None, Some(rate("60/1h")));
    let taken = (0..200u32)
        .filter(|i| limits.check(key(&format!("2001:db8:{i:x}::1")), false).is_ok())
        .count();
    assert_eq!(taken, 10, "the /32's burst of a third of 60, halved");
}

#[test]
fn without_a_global_bucket_each_network_is_held_and_a_flood_from_many_never_closes_it_for_others() {
    let limits = DonateLimits::without_global(None, Some(rate("20/1h")));
    let one_24 = (0..100u32)
        .filter(|i| limits.check(key(&format!("198.51.100.{i}")), false).is_ok())
        .count();
    assert_eq!(one_24, 10, "a /24's burst of 20, halved");
    let many_networks = (0..2_000u32)
        .filter(|i| {
            limits
                .check(key(&format!("10.{}.{}.1", i / 256, i % 256)), false)
                .is_ok()
        })
        .count();
    assert_eq!(many_networks, 2_000, "no jar-wide budget to use up");
    let one_32 = (0..200u32)
        .filter(|i| limits.check(key(&format!("2001:db8:{i:x}::1")), false).is_ok())
        .count();
    assert_eq!(one_32, 20, "an IPv6 /32 twice a /48's, halved");
}
