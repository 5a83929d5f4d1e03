//! The client's address: the peer, unless the peer is a trusted proxy. Then `X-Forwarded-For` is
//! walked from the right (each proxy appends the address it saw) past the trusted proxies; the
//! first untrusted address is the client. An entry that is not an address stops the walk at the
//! last trusted hop, so a client can neither invent an address nor hide behind garbage.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;

use crate::client_key::ClientKey;

/// The key for this request's client in rate limits and the lockout.
pub fn client_key(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> ClientKey {
    ClientKey::from(client_ip(req, trusted))
}

pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| {
            a.ip().to_canonical()
        });
    if !is_trusted(&peer) {
        return peer;
    }
    // Entries are read one by one: a stray byte the client put in its own entry must not hide the
    // address a proxy appended after it.
    let hops = req
        .headers()
        .get_all("X-Forwarded-For")
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .collect::<Vec<_>>();
    let mut last_trusted = peer;
    for hop in hops.iter().rev() {
        match std::str::from_utf8(hop).ok().and_then(parse_hop) {
            Some(ip) if is_trusted(&ip) => last_trusted = ip,
            Some(ip) => return ip,
            None => return last_trusted,
        }
    }
    last_trusted
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:5678`.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    let ip = raw
        .parse::<IpAddr>()
        .ok()
        .or_else(|| raw.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| raw.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn client(peer: &str, xff: &[&str], trusted: &[&str]) -> String {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        for x in xff {
            r = r.append_header(("X-Forwarded-For", *x));
        }
        let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        client_ip(&r.to_http_request(), &trusted).to_string()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let proxies = ["10.0.0.0/8"];
        assert_eq!(client("203.0.113.9:1", &["1.2.3.4"], &proxies), "203.0.113.9");
        assert_eq!(client("10.0.0.2:1", &["1.2.3.4, 10.0.0.7"], &proxies), "1.2.3.4");
        assert_eq!(
            client("10.0.0.2:1", &["6.6.6.6, 1.2.3.4"], &proxies),
            "1.2.3.4",
            "a client cannot spoof by prepending"
        );
        assert_eq!(client("10.0.0.2:1", &[], &proxies), "10.0.0.2");
        assert_eq!(
            client("10.0.0.2:1", &["6.6.6.6", "1.2.3.4"], &proxies),
            "1.2.3.4",
            "headers in order"
        );
    }

    #[test]
    fn ports_and_brackets_are_stripped_and_mapped_addresses_normalised() {
        let proxies = ["10.0.0.0/8"];
        assert_eq!(
            client("10.0.0.2:1", &["1.2.3.4, 203.0.113.7:4444"], &proxies),
            "203.0.113.7"
        );
        assert_eq!(
            client("10.0.0.2:1", &["[2001:db8::7]:443"], &proxies),
            "2001:db8::7"
        );
        assert_eq!(client("10.0.0.2:1", &["[2001:db8::7]"], &proxies), "2001:db8::7");
        assert_eq!(
            client("10.0.0.2:1", &["::ffff:203.0.113.8"], &proxies),
            "203.0.113.8"
        );
        assert_eq!(
            client("[::ffff:10.0.0.2]:1", &["203.0.113.9"], &proxies),
            "203.0.113.9",
            "a mapped proxy is trusted"
        );
    }

    #[test]
    fn an_entry_that_is_not_an_address_stops_at_the_last_trusted_hop() {
        let proxies = ["10.0.0.0/8"];
        assert_eq!(client("10.0.0.2:1", &["1.2.3.4, unknown"], &proxies), "10.0.0.2");
        assert_eq!(
            client("10.0.0.2:1", &["1.2.3.4, _hidden, 10.0.0.9"], &proxies),
            "10.0.0.9"
        );
        assert_eq!(
            client("10.0.0.2:1", &["1.2.3.4, "], &proxies),
            "10.0.0.2",
            "an empty entry"
        );
    }

    #[test]
    fn a_stray_byte_in_the_client_s_own_entry_does_not_hide_what_the_proxy_appended() {
        let mut r = TestRequest::default().peer_addr("10.0.0.2:1".parse().unwrap());
        let value = actix_web::http::header::HeaderValue::from_bytes(b"1.2.3.4\xff, 203.0.113.5").unwrap();
        r = r.append_header(("X-Forwarded-For", value));
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(&r.to_http_request(), &trusted).to_string(),
            "203.0.113.5"
        );
    }
}
