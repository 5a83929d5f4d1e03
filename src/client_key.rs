//! Who a client is, for rate limits and the admin lockout.
//!
//! An IPv6 subscriber usually gets a whole /64 (often more), so keying IPv6 clients per address
//! would hand one attacker 2^64 fresh buckets. IPv6 clients are therefore keyed by their /64, and
//! IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) by their IPv4 address.

use std::net::{IpAddr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey(IpAddr);

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                ClientKey(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
        }
    }
}

impl ClientKey {
    pub fn is_ipv6(self) -> bool {
        self.0.is_ipv6()
    }

    /// The network this client is in, as a key of its own: the address cut to `v4_bits` or
    /// `v6_bits` (an IPv4 /24, an IPv6 /48 or /32), for limits one network must not exceed
    /// however many addresses it has.
    pub fn network(self, v4_bits: u8, v6_bits: u8) -> ClientKey {
        let mask = |bits: u8, width: u32| match bits {
            0 => 0,
            b => u128::MAX << (width - u32::from(b).min(width)),
        };
        match self.0 {
            IpAddr::V4(v4) => {
                let kept = u32::from(v4) & (mask(v4_bits, 32) as u32);
                ClientKey(IpAddr::V4(kept.into()))
            }
            IpAddr::V6(v6) => ClientKey(IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask(v6_bits, 128)))),
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V6(net) => write!(f, "{net}/64"),
            IpAddr::V4(ip) => write!(f, "{ip}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> ClientKey {
        ClientKey::from(ip.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn ipv6_clients_share_their_64_and_ipv4_stays_per_address() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        assert_eq!(key("192.0.2.1").to_string(), "192.0.2.1");
    }

    #[test]
    fn a_network_key_is_the_address_cut_to_its_prefix() {
        assert_eq!(
            key("2001:db8:1:2::1").network(24, 48),
            key("2001:db8:1:ffff::9").network(24, 48)
        );
        assert_ne!(
            key("2001:db8:1:2::1").network(24, 48),
            key("2001:db8:2:2::1").network(24, 48)
        );
        assert_eq!(
            key("2001:db8:1::1").network(24, 32),
            key("2001:db8:ffff::1").network(24, 32)
        );
        assert_eq!(
            key("192.0.2.1").network(24, 48),
            key("192.0.2.254").network(24, 48)
        );
        assert_ne!(key("192.0.2.1").network(24, 48), key("192.0.3.1").network(24, 48));
        assert_ne!(
            key("192.0.2.1").network(24, 48),
            key("192.0.2.1"),
            "a key of its own"
        );
    }

    #[test]
    fn an_ipv4_mapped_address_is_its_ipv4_address() {
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_ne!(key("::ffff:192.0.2.1"), key("::ffff:192.0.2.2"));
    }
}
