//! Stripe webhooks: verifying the signature, parsing leniently, interpreting (pure), and
//! applying in one transaction.

pub mod apply;
mod batch;
pub mod event;
pub mod interpret;
mod merge;
mod objects;
mod outcome;
pub mod signature;
mod write;
