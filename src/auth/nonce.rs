//! The donate form's nonce, signed by the page that served it: `<random>-<issued, hex>-<mac>`.
//!
//! The nonce makes a double submit one checkout (it feeds the idempotency key). Signed, it also
//! shows that the request comes from a reader who loaded the form within [`VALID_FOR_SECS`]: such
//! requests may use the part of the global checkout budget that scripts cannot (`limits.rs`).
//! It stays within the idempotency key's alphabet (letters, digits, `-`) and 64 characters.

use super::signer::Signer;

/// How long after the page was served its nonce counts as signed.
pub const VALID_FOR_SECS: i64 = 6 * 3600;

const PURPOSE: &str = "form-nonce";

/// A fresh nonce for a form served at `now`.
pub fn issue(signer: &Signer, now: i64) -> String {
    let data = format!("{}-{:x}", crate::random::token(), now.max(0));
    let mac = signer.sign(PURPOSE, &data);
    format!("{data}-{}", &mac[..24])
}

/// Whether `nonce` is one that [`issue`] made within [`VALID_FOR_SECS`] before `now`.
pub fn is_signed(signer: &Signer, nonce: &str, now: i64) -> bool {
    let Some((data, mac)) = nonce.rsplit_once('-') else {
        return false;
    };
    let Some((_, issued)) = data.rsplit_once('-') else {
        return false;
    };
    let Ok(issued) = i64::from_str_radix(issued, 16) else {
        return false;
    };
    let fresh = (0..=VALID_FOR_SECS).contains(&(now - issued));
    // The MAC as issued (its first 24 hex digits), compared in constant time.
    fresh && mac.len() == 24 && {
        let full = signer.sign(PURPOSE, data);
        subtle::ConstantTimeEq::ct_eq(&full.as_bytes()[..24], mac.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn signer(key: &str) -> Signer {
        Signer::new(SecretString::from(key.to_owned()))
    }

    #[test]
    fn an_issued_nonce_is_signed_for_six_hours_and_fits_the_idempotency_key() {
        let s = signer("key");
        let nonce = issue(&s, 1_000_000);
        assert!(nonce.len() <= 64 && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        assert!(is_signed(&s, &nonce, 1_000_000));
        assert!(is_signed(&s, &nonce, 1_000_000 + VALID_FOR_SECS));
        assert!(!is_signed(&s, &nonce, 1_000_000 + VALID_FOR_SECS + 1), "too old");
        assert!(!is_signed(&s, &nonce, 999_999), "from the future");
        assert!(!is_signed(&signer("other"), &nonce, 1_000_000), "another jar's");
    }

    #[test]
    fn forged_or_unsigned_nonces_are_not_signed() {
        let s = signer("key");
        let nonce = issue(&s, 1_000_000);
        let (data, _) = nonce.rsplit_once('-').unwrap();
        for forged in [
            format!("{data}-{}", "0".repeat(24)),
            format!("{data}-"),
            "plainrandomtoken0123456789".to_owned(),
            nonce.replacen('-', "x", 1),
            String::new(),
        ] {
            assert!(!is_signed(&s, &forged, 1_000_000), "{forged}");
        }
    }
}
