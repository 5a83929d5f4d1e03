//! Kaffeekasse: a self-hosted tip jar. See ARCHITECTURE.md for how the modules fit together.

pub mod auth;
pub mod budget;
pub mod cancel;
pub mod cli;
pub mod client_key;
pub mod config;
pub mod domain;
pub mod i18n;
pub mod inflight;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod payments;
pub mod public;
pub mod query;
pub mod random;
pub mod reconcile;
pub mod retention;
pub mod routes;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod webhook;
