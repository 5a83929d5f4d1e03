//! The blogger's credentials: `ADMIN_TOKEN` as a bearer token (API) or, in the browser, a session
//! cookie obtained by entering it once at `/admin/login`.
//!
//! A session cookie is `<expiry>.<id>.<signature>`. The signature's key is derived from
//! `SIGNING_SECRET` *and* `ADMIN_TOKEN`, so changing either ends every session; the id must also
//! still be in the `admin_sessions` table, so logging out (one session, or all) ends it on the
//! server, not only in the browser.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::lockout::Lockout;
use super::signer::Signer;

pub const SESSION_COOKIE: &str = "kaffeekasse_admin";
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// What the server keeps of a browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub expires_at: i64,
}

pub struct AdminAuth {
    token: SecretString,
    signer: Signer,
    /// `Secure` cookies when the public URL is https.
    secure: bool,
    pub lockout: Lockout,
}

impl AdminAuth {
    pub fn new(token: SecretString, signer: &Signer, secure: bool) -> Self {
        let token_digest = Sha256::digest(token.expose_secret().as_bytes());
        AdminAuth {
            signer: signer.derive("admin-session-key", &token_digest),
            token,
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

    /// A new session: its cookie value and what the server keeps of it.
    pub fn new_session(&self, now: i64) -> (String, Session) {
        let ttl = i64::try_from(SESSION_TTL.as_secs()).unwrap_or(i64::MAX);
        let session = Session {
            id: crate::random::token(),
            expires_at: now.saturating_add(ttl),
        };
        let data = format!("{}.{}", session.expires_at, session.id);
        let value = format!("{data}.{}", self.signer.sign("admin-session", &data));
        (value, session)
    }

    /// The session id in a cookie value, if we signed it (with the current token) and it has
    /// not expired. Whether the server still knows the id is for the caller to check.
    pub fn session_id<'a>(&self, value: &'a str, now: i64) -> Option<&'a str> {
        let (data, sig) = value.rsplit_once('.')?;
        let (expiry, id) = data.split_once('.')?;
        let live = expiry.parse::<i64>().is_ok_and(|e| e > now);
        (live && self.signer.verify("admin-session", data, sig)).then_some(id)
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

    fn auth_with(token: &str) -> AdminAuth {
        let signer = Signer::new(SecretString::from("s".repeat(32)));
        AdminAuth::new(SecretString::from(token.to_owned()), &signer, true)
    }

    fn auth() -> AdminAuth {
        auth_with(&"t".repeat(40))
    }

    #[test]
    fn only_the_exact_token_matches() {
        let a = auth();
        assert!(a.token_matches(&"t".repeat(40)));
        assert!(!a.token_matches(&"t".repeat(39)));
        assert!(!a.token_matches(""));
    }

    #[test]
    fn sessions_last_twelve_hours_and_cannot_be_forged() {
        let a = auth();
        let (value, session) = a.new_session(1000);
        assert_eq!(session.expires_at, 1000 + 12 * 3600);
        assert_eq!(a.session_id(&value, 1001), Some(session.id.as_str()));
        assert_eq!(
            a.session_id(&value, 1000 + 12 * 3600 - 1),
            Some(session.id.as_str())
        );
        assert_eq!(a.session_id(&value, 1000 + 12 * 3600), None, "expired");
        let (data, sig) = value.rsplit_once('.').unwrap();
        let longer = format!("9999999999{}", &data[data.find('.').unwrap()..]);
        assert_eq!(a.session_id(&format!("{longer}.{sig}"), 1001), None);
        assert_eq!(a.session_id("garbage", 1001), None);
        assert_eq!(a.session_id("1.2", 1001), None);
    }

    #[test]
    fn a_new_admin_token_ends_every_session() {
        let (value, _) = auth_with(&"t".repeat(40)).new_session(1000);
        assert!(auth_with(&"t".repeat(40)).session_id(&value, 1001).is_some());
        assert_eq!(auth_with(&"u".repeat(40)).session_id(&value, 1001), None);
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let a = auth();
        let (s, _) = a.new_session(1000);
        let (other, _) = a.new_session(1000);
        assert!(a.csrf_valid(&s, &a.csrf_token(&s)));
        assert!(!a.csrf_valid(&other, &a.csrf_token(&s)));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_on_https() {
        let c = auth().session_cookie("v".into());
        assert_eq!(
            (c.http_only(), c.same_site(), c.secure()),
            (Some(true), Some(SameSite::Strict), Some(true))
        );
        assert_eq!(c.max_age(), Some(actix_web::cookie::time::Duration::hours(12)));
    }
}
