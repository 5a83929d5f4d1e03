//! The client's address: the peer, unless the peer is a trusted proxy, in which case the nearest
//! address in `X-Forwarded-For` that is not itself a trusted proxy.

use std::net::IpAddr;

use actix_web::HttpRequest;

pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    if !trusted.iter().any(|net| net.contains(&peer)) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("X-Forwarded-For")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // Proxies append, so the right end is nearest to us; walk left past our own proxies.
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.iter().any(|net| net.contains(ip)))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(format!("{peer}:1234").parse().unwrap());
        if let Some(x) = xff {
            r = r.insert_header(("X-Forwarded-For", x));
        }
        r.to_http_request()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(&req("203.0.113.9", Some("1.2.3.4")), &trusted).to_string(),
            "203.0.113.9"
        );
        assert_eq!(
            client_ip(&req("10.0.0.2", Some("1.2.3.4, 10.0.0.7")), &trusted).to_string(),
            "1.2.3.4"
        );
        assert_eq!(
            client_ip(&req("10.0.0.2", Some("6.6.6.6, 1.2.3.4")), &trusted).to_string(),
            "1.2.3.4",
            "a client cannot spoof by prepending"
        );
        assert_eq!(
            client_ip(&req("10.0.0.2", None), &trusted).to_string(),
            "10.0.0.2"
        );
    }
}
