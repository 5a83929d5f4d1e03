//! HMAC-SHA256 signatures with the service's signing secret, for tokens we hand out and take back.
//! Each use has its own purpose string, so a signature for one can never pass as another.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

#[derive(Clone)]
pub struct Signer {
    key: SecretString,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([REDACTED])")
    }
}

impl Signer {
    pub fn new(key: SecretString) -> Self {
        Signer { key }
    }

    fn mac(&self, purpose: &str, data: &str) -> Hmac<Sha256> {
        let mut mac = match Hmac::<Sha256>::new_from_slice(self.key.expose_secret().as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        mac
    }

    pub fn sign(&self, purpose: &str, data: &str) -> String {
        hex::encode(self.mac(purpose, data).finalize().into_bytes())
    }

    /// Constant-time check of a hex signature.
    pub fn verify(&self, purpose: &str, data: &str, signature: &str) -> bool {
        hex::decode(signature).is_ok_and(|sig| self.mac(purpose, data).verify_slice(&sig).is_ok())
    }

    /// A signer whose key is derived from this one's and `material`: when either changes, every
    /// signature it made stops verifying.
    pub fn derive(&self, purpose: &str, material: &[u8]) -> Signer {
        let mut mac = self.mac(purpose, "");
        mac.update(material);
        Signer::new(SecretString::from(hex::encode(mac.finalize().into_bytes())))
    }

    /// A keyed hash of an e-mail address (trimmed, lower-cased): it matches the same address
    /// again without keeping it, and is worthless without the key.
    pub fn email_hash(&self, email: &str) -> String {
        let mut hash = self.sign("email", &email.trim().to_lowercase());
        hash.truncate(32);
        hash
    }

    /// The donor's manage link token for one donation: `<donation id>.<signature>`.
    pub fn manage_token(&self, donation_id: &str) -> String {
        format!("{donation_id}.{}", self.sign("manage", donation_id))
    }

    /// The donation id a manage token is for, if the token is genuine.
    pub fn open_manage_token<'a>(&self, token: &'a str) -> Option<&'a str> {
        let (id, sig) = token.rsplit_once('.')?;
        self.verify("manage", id, sig).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(k: &str) -> Signer {
        Signer::new(SecretString::from(k.to_owned()))
    }

    #[test]
    fn manage_tokens_open_only_unchanged_and_with_the_same_key() {
        let s = signer("k1-0123456789abcdef0123456789abcdef");
        let token = s.manage_token("don-1");
        assert_eq!(s.open_manage_token(&token), Some("don-1"));
        assert_eq!(s.open_manage_token(&token.replace("don-1", "don-2")), None);
        let mut flipped = token.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == '0' { '1' } else { '0' });
        assert_eq!(s.open_manage_token(&flipped), None);
        assert_eq!(
            signer("k2-0123456789abcdef0123456789abcdef").open_manage_token(&token),
            None
        );
        assert_eq!(s.open_manage_token("no-dot"), None);
    }

    #[test]
    fn a_derived_signer_changes_with_its_material_and_its_parent() {
        let parent = signer("parent-key");
        let a = parent.derive("session", b"token-1");
        let sig = a.sign("p", "x");
        assert!(parent.derive("session", b"token-1").verify("p", "x", &sig));
        assert!(!parent.derive("session", b"token-2").verify("p", "x", &sig));
        assert!(!parent.derive("other", b"token-1").verify("p", "x", &sig));
        assert!(
            !signer("other-parent")
                .derive("session", b"token-1")
                .verify("p", "x", &sig)
        );
        assert!(!parent.verify("p", "x", &sig), "not the parent's own signature");
    }

    #[test]
    fn a_signature_for_one_purpose_is_not_valid_for_another() {
        let s = signer("k");
        let sig = s.sign("manage", "x");
        assert!(s.verify("manage", "x", &sig));
        assert!(!s.verify("admin-session", "x", &sig));
    }

    #[test]
    fn an_email_hash_ignores_case_and_spaces_and_depends_on_the_key() {
        let s = signer("k");
        assert_eq!(
            s.email_hash(" Anna@Example.org "),
            s.email_hash("anna@example.org")
        );
        assert_ne!(s.email_hash("anna@example.org"), s.email_hash("anne@example.org"));
        assert_ne!(
            s.email_hash("anna@example.org"),
            signer("j").email_hash("anna@example.org")
        );
        assert_eq!(s.email_hash("a@b.c").len(), 32);
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let shown = format!("{:?}", signer("k1-0123456789abcdef0123456789abcdef"));
        assert_eq!(shown, "Signer([REDACTED])");
    }
}
