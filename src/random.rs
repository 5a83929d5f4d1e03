//! Unguessable values: ids, nonces and generated secrets.

use rand::{Rng, RngCore};

/// 24 random alphanumerics, like the tail of a Stripe id.
pub fn token() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// 32 random bytes, hex-encoded: a fresh secret.
pub fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_secrets_have_their_shape_and_differ() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        let s = secret();
        assert_eq!(s.len(), 64);
        assert!(s.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(s, secret());
    }
}
