//! The blogger's credentials: `ADMIN_TOKEN` as a bearer token (API) or, in the browser, a signed
//! session cookie obtained by entering it once at `/admin/login`.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::lockout::Lockout;
use super::signer::Signer;

pub const SESSION_COOKIE: &str = "kaffeekasse_admin";
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

pub struct AdminAuth {
    token: SecretString,
    signer: Signer,
    /// `Secure` cookies when the public URL is https.
    secure: bool,
    pub lockout: Lockout,
}

impl AdminAuth {
    pub fn new(token: SecretString, signer: Signer, secure: bool) -> Self {
        AdminAuth {
            token,
            signer,
            secure,
            lockout: Lockout::default(),
        }
    }

    /// Constant-time comparison. Hashing first makes the time independent of the lengths too.
    pub fn token_matches(&self, candidate: &str) -> bool {
        let expected = Sha256::digest(self.token.expose_secret().as_bytes());
        let given = Sha256::digest(candidate.as_bytes());
        expected.ct_eq(&given).into()
    }

    /// A new session value: `<expiry>.<nonce>.<signature>`.
    pub fn new_session(&self, now: i64) -> String {
        let ttl = i64::try_from(SESSION_TTL.as_secs()).unwrap_or(i64::MAX);
        let data = format!("{}.{}", now.saturating_add(ttl), crate::random::token());
        format!("{data}.{}", self.signer.sign("admin-session", &data))
    }

    pub fn session_valid(&self, value: &str, now: i64) -> bool {
        let Some((data, sig)) = value.rsplit_once('.') else {
            return false;
        };
        let expiry = data.split('.').next().and_then(|e| e.parse::<i64>().ok());
        self.signer.verify("admin-session", data, sig) && expiry.is_some_and(|e| e > now)
    }

    /// The CSRF token for forms in a session: bound to that session, useless in any other.
    pub fn csrf_token(&self, session: &str) -> String {
        self.signer.sign("csrf", session)
    }

    pub fn csrf_valid(&self, session: &str, token: &str) -> bool {
        self.signer.verify("csrf", session, token)
    }

    pub fn session_cookie(&self, value: String) -> Cookie<'static> {
        Cookie::build(SESSION_COOKIE, value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.secure)
            .max_age(actix_web::cookie::time::Duration::seconds(
                i64::try_from(SESSION_TTL.as_secs()).unwrap_or(43_200),
            ))
            .finish()
    }

    pub fn logout_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.session_cookie(String::new());
        cookie.make_removal();
        cookie
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> AdminAuth {
        let signer = Signer::new(SecretString::from("s".repeat(32)));
        AdminAuth::new(SecretString::from("t".repeat(40)), signer, true)
    }

    #[test]
    fn only_the_exact_token_matches() {
        let a = auth();
        assert!(a.token_matches(&"t".repeat(40)));
        assert!(!a.token_matches(&"t".repeat(39)));
        assert!(!a.token_matches(""));
    }

    #[test]
    fn sessions_expire_and_cannot_be_forged() {
        let a = auth();
        let s = a.new_session(1000);
        assert!(a.session_valid(&s, 1001));
        assert!(!a.session_valid(&s, 1000 + 12 * 3600));
        let (data, sig) = s.rsplit_once('.').unwrap();
        let forged = format!("9999999999{}", &data[data.find('.').unwrap()..]);
        assert!(!a.session_valid(&format!("{forged}.{sig}"), 1001));
        assert!(a.csrf_valid(&s, &a.csrf_token(&s)));
        assert!(!a.csrf_valid(&a.new_session(1000), &a.csrf_token(&s)));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_on_https() {
        let c = auth().session_cookie("v".into());
        assert_eq!(
            (c.http_only(), c.same_site(), c.secure()),
            (Some(true), Some(SameSite::Strict), Some(true))
        );
        assert!(c.max_age().is_some());
    }
}
