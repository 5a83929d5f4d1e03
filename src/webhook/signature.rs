//! Stripe's webhook signature scheme, implemented here rather than through async-stripe so that
//! several secrets (rotation) are accepted at once.
//!
//! The `Stripe-Signature` header is `t=<unix time>,v1=<hex hmac>[,v1=…][,v0=…]`. The signed payload
//! is `"<t>.<raw body>"`, HMAC-SHA256 with the endpoint secret (the whole `whsec_…` string, as
//! Stripe's own libraries use it). Any `v1` matching any secret is accepted; `v0` is ignored.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

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

/// The parts of a `Stripe-Signature` header we use.
#[derive(Debug, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub v1: Vec<Vec<u8>>,
}

impl SignatureHeader {
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for item in header.split(',') {
            let (key, value) = item.trim().split_once('=').ok_or(SignatureError::Malformed)?;
            match key {
                "t" => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
                "v1" => v1.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
                // v0 and future schemes are ignored, as Stripe documents.
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        if v1.is_empty() {
            return Err(SignatureError::Malformed);
        }
        Ok(SignatureHeader { timestamp, v1 })
    }
}

/// Checks `header` against `body`. `now` and `tolerance_secs` bound the timestamp both ways.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let header = SignatureHeader::parse(header.ok_or(SignatureError::Missing)?)?;
    if (now - header.timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        for candidate in &header.v1 {
            // verify_slice compares in constant time.
            if mac(secret, header.timestamp, body)
                .verify_slice(candidate)
                .is_ok()
            {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// Builds a header exactly as Stripe would, signing with every secret given (as Stripe does
/// during a rotation). Used by the demo checkout and the tests.
pub fn sign(body: &[u8], secrets: &[&SecretString], timestamp: i64) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let sig = hex::encode(mac(secret, timestamp, body).finalize().into_bytes());
        header.push_str(",v1=");
        header.push_str(&sig);
    }
    header
}

fn mac(secret: &SecretString, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret.expose_secret().as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
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
        let header = format!("t=100,v0=deadbeef,v1=00ff,{}", sig.trim_start_matches("t=100,"));
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
}
