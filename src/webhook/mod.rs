//! Stripe webhooks: verifying the signature, parsing leniently, applying to donations.

pub mod apply;
pub mod event;
mod recover;
pub mod signature;
