//! Stripe's webhook signature scheme, implemented here rather than through async-stripe so that
//! several secrets (rotation) are accepted at once.
//!
//! The `Stripe-Signature` header is `t=<unix time>,v1=<hex hmac>[,v1=…][,v0=…]`. The signed payload
//! is `"<t>.<raw body>"`, HMAC-SHA256 with the endpoint secret (the whole `whsec_…` string, as
//! Stripe's own libraries use it). Any `v1` matching any secret is accepted; `v0` is ignored.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header")]
    Malformed,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("no signature matches any configured secret")]
    Mismatch,
}

/// A header longer than this is refused before any work: Stripe's own are about 150 bytes (one
/// `t`, a `v1` per secret during a rotation, a `v0` in test mode).
pub const MAX_HEADER_BYTES: usize = 4096;
/// Likewise for the number of `key=value` entries.
pub const MAX_ENTRIES: usize = 16;

/// The parts of a `Stripe-Signature` header we use.
#[derive(Debug, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    /// The timestamp as sent: the signature covers these bytes, not our rendering of the number.
    pub timestamp_text: String,
    /// Every `v1` signature: 32 bytes each.
    pub v1: Vec<[u8; 32]>,
}

impl SignatureHeader {
    /// Parses the header. Its size and entry count are bounded first, and every `v1` must be 64
    /// hex digits, so a hostile header costs a bounded, small amount of work and no HMAC.
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        if header.len() > MAX_HEADER_BYTES {
            return Err(SignatureError::Malformed);
        }
        let mut timestamp: Option<(i64, &str)> = None;
        let mut v1 = Vec::new();
        for (n, item) in header.split(',').enumerate() {
            if n >= MAX_ENTRIES {
                return Err(SignatureError::Malformed);
            }
            let (key, value) = item.trim().split_once('=').ok_or(SignatureError::Malformed)?;
            match key {
                "t" => {
                    let t = value.parse::<i64>().map_err(|_| SignatureError::Malformed)?;
                    timestamp = Some((t, value));
                }
                "v1" => {
                    let mut sig = [0u8; 32];
                    hex::decode_to_slice(value, &mut sig).map_err(|_| SignatureError::Malformed)?;
                    v1.push(sig);
                }
                // v0 and future schemes are ignored, as Stripe documents.
                _ => {}
            }
        }
        let (timestamp, timestamp_text) = timestamp.ok_or(SignatureError::Malformed)?;
        if v1.is_empty() {
            return Err(SignatureError::Malformed);
        }
        Ok(SignatureHeader {
            timestamp,
            timestamp_text: timestamp_text.to_owned(),
            v1,
        })
    }
}

/// Checks `header` against `body`. `now` and `tolerance_secs` bound the timestamp both ways.
/// The MAC is computed once per secret and compared with every candidate in constant time.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let header = SignatureHeader::parse(header.ok_or(SignatureError::Missing)?)?;
    // Checked: a timestamp near i64::MIN or MAX is stale, not an overflow.
    let skew = now.checked_sub(header.timestamp).and_then(i64::checked_abs);
    if skew.is_none_or(|s| s > tolerance_secs) {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        let expected = mac(secret, &header.timestamp_text, body).finalize().into_bytes();
        // Not short-circuiting: every candidate is compared, in constant time.
        let matched = header.v1.iter().fold(subtle::Choice::from(0), |any, candidate| {
            any | expected.ct_eq(candidate)
        });
        if bool::from(matched) {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// Builds a header exactly as Stripe would, signing with every secret given (as Stripe does
/// during a rotation). Used by the demo checkout and the tests.
pub fn sign(body: &[u8], secrets: &[&SecretString], timestamp: i64) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let sig = hex::encode(mac(secret, &timestamp.to_string(), body).finalize().into_bytes());
        header.push_str(",v1=");
        header.push_str(&sig);
    }
    header
}

fn mac(secret: &SecretString, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret.expose_secret().as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn matches_stripes_reference_computation() {
        // HMAC-SHA256("whsec_test", "1700000000.{}") computed independently with openssl:
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
        let header = sign(b"{}", &[&secret("whsec_test")], 1_700_000_000);
        assert_eq!(
            header,
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn accepts_any_v1_against_any_secret_and_ignores_v0() {
        let body = b"{\"id\":\"evt_1\"}";
        let sig = sign(body, &[&secret("whsec_new")], 100);
        let wrong = "0".repeat(64);
        let header = format!(
            "t=100,v0=deadbeef,v1={wrong},{}",
            sig.trim_start_matches("t=100,")
        );
        let secrets = [secret("whsec_old"), secret("whsec_new")];
        assert_eq!(verify(Some(&header), body, &secrets, 100, 300), Ok(()));
    }

    #[test]
    fn rejects_tampering_wrong_secret_staleness_and_bad_headers() {
        let body = b"{}";
        let secrets = [secret("whsec_a")];
        let good = sign(body, &[&secrets[0]], 1000);
        assert_eq!(
            verify(Some(&good), b"{ }", &secrets, 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), body, &[secret("whsec_b")], 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), body, &secrets, 1301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some(&good), body, &secrets, 699, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(None, body, &secrets, 1000, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("t=1000"), body, &secrets, 1000, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("v1=00"), body, &secrets, 1000, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=x,v1=00"), body, &secrets, 1000, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=1000,v1=zz"), body, &secrets, 1000, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn only_64_hex_digit_signatures_are_accepted() {
        let body = b"{}";
        let secrets = [secret("whsec_a")];
        let good = sign(body, &[&secrets[0]], 1000);
        let sig = good.trim_start_matches("t=1000,v1=");
        for bad in [&sig[..62], &format!("{sig}00"), "00", ""] {
            assert_eq!(
                verify(Some(&format!("t=1000,v1={bad}")), body, &secrets, 1000, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(verify(Some(&good), body, &secrets, 1000, 300), Ok(()));
    }

    #[test]
    fn oversized_headers_are_refused_before_any_hmac() {
        let body = b"{}";
        let secrets = [secret("whsec_a")];
        let good = sign(body, &[&secrets[0]], 1000);
        let zeros = format!(",v1={}", "0".repeat(64));
        let flood = format!("t=1000{}", zeros.repeat(20_000));
        assert_eq!(
            verify(Some(&flood), body, &secrets, 1000, 300),
            Err(SignatureError::Malformed)
        );
        // 16 entries are fine, 17 are not, even with the right signature among them.
        let fifteen = format!("{good}{}", zeros.repeat(14));
        assert_eq!(fifteen.split(',').count(), 16);
        assert_eq!(verify(Some(&fifteen), body, &secrets, 1000, 300), Ok(()));
        let seventeen = format!("{fifteen}{zeros}");
        assert_eq!(
            verify(Some(&seventeen), body, &secrets, 1000, 300),
            Err(SignatureError::Malformed)
        );
        let long = format!("{good},v0={}", "a".repeat(MAX_HEADER_BYTES));
        assert_eq!(
            verify(Some(&long), body, &secrets, 1000, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn extreme_timestamps_are_stale_not_an_overflow() {
        let body = b"{}";
        let secrets = [secret("whsec_a")];
        for t in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let header = sign(body, &[&secrets[0]], t);
            assert_eq!(
                verify(Some(&header), body, &secrets, 1000, 300),
                Err(SignatureError::Stale),
                "{t}"
            );
        }
    }

    #[test]
    fn the_tolerance_includes_its_boundary_both_ways() {
        let body = b"{}";
        let secrets = [secret("whsec_a")];
        let header = sign(body, &[&secrets[0]], 1000);
        assert_eq!(verify(Some(&header), body, &secrets, 1300, 300), Ok(()));
        assert_eq!(verify(Some(&header), body, &secrets, 700, 300), Ok(()));
        assert_eq!(
            verify(Some(&header), body, &secrets, 1301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some(&header), body, &secrets, 699, 300),
            Err(SignatureError::Stale)
        );
    }

    proptest! {
        #[test]
        fn the_header_parser_never_panics(raw in any::<Vec<u8>>()) {
            let text = String::from_utf8_lossy(&raw);
            let _ = SignatureHeader::parse(&text);
            let _ = verify(Some(&text), &raw, &[secret("whsec_x")], 0, 300);
        }

        #[test]
        fn a_signed_body_verifies_and_any_change_does_not(body in any::<Vec<u8>>(), flip in any::<usize>()) {
            let s = secret("whsec_prop");
            let header = sign(&body, &[&s], 42);
            prop_assert!(verify(Some(&header), &body, std::slice::from_ref(&s), 42, 300).is_ok());
            if !body.is_empty() {
                let mut tampered = body.clone();
                let i = flip % tampered.len();
                tampered[i] ^= 0x01;
                prop_assert!(verify(Some(&header), &tampered, &[s], 42, 300).is_err());
            }
        }
    }

    #[test]
    fn a_header_of_exactly_the_limit_is_read() {
        let body = b"{}";
        let secrets = [secret("whsec_a")];
        let good = sign(body, &[&secrets[0]], 1000);
        let pad = MAX_HEADER_BYTES - good.len() - ",v0=".len();
        let exact = format!("{good},v0={}", "a".repeat(pad));
        assert_eq!(exact.len(), MAX_HEADER_BYTES);
        assert_eq!(verify(Some(&exact), body, &secrets, 1000, 300), Ok(()));
        let over = format!("{exact}a");
        assert_eq!(
            verify(Some(&over), body, &secrets, 1000, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_matching_signature_sent_twice_still_matches() {
        let body = b"{}";
        let secrets = [secret("whsec_a")];
        let good = sign(body, &[&secrets[0]], 1000);
        let v1 = good.split("v1=").nth(1).unwrap();
        let twice = format!("{good},v1={v1}");
        assert_eq!(verify(Some(&twice), body, &secrets, 1000, 300), Ok(()));
    }
}
