//! Stripe webhooks: verifying the signature, parsing leniently, interpreting (pure), and
//! applying in one transaction.

mod applied;
pub mod apply;
mod batch;
mod billing;
mod context;
pub mod event;
pub mod interpret;
mod merge;
mod monthly;
mod monthly_apply;
mod monthly_merge;
mod objects;
mod outcome;
pub mod signature;
mod step;
mod write;
