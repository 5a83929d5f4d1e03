//! Every SQL statement lives in this module, one file per table or concern.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`, so a committed transaction is on disk before
//! we acknowledge a webhook. Every write goes through [`Db::write`], which hands it to the one
//! writer task (`writer.rs`): it owns the write connection and commits queued writes in batches.

pub mod admin;
pub mod admin_monthly;
pub mod backup;
pub mod cancellations;
pub mod deferred;
pub mod donations;
pub mod events;
pub mod invoices;
pub mod ledger;
pub mod lock;
pub mod lookups;
pub mod ops;
pub mod outbox;
pub mod restore;
pub mod retention;
pub mod sessions;
pub mod state;
pub mod subscriptions;
pub mod supporters;

mod announce;
mod batch_sql;
mod db;
mod files;
mod group;
mod job;
mod transaction;
mod workspace;
mod writer;

pub use announce::Announcement;
pub use db::{Db, JobFuture, StagedWrites, connect};
pub use workspace::{Decided, Wants, Workspace};

/// Whether the database answers a trivial query (for `/readyz`).
pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(db.pool()).await.map(|_| ())
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
