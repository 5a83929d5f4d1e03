//! Signed tokens and admin access: the donor's manage link, the admin session, CSRF, lockout.

pub mod admin;
pub mod lockout;
pub mod nonce;
pub mod signer;
