//! Signed tokens and admin access: the donor's manage link, the admin session, CSRF, lockout.

pub mod admin;
pub mod lockout;
pub mod nonce;
pub mod signer;

use anyhow::Context;
use secrecy::SecretString;

use crate::storage::{self, Db};
use signer::Signer;

/// The service's signer: `SIGNING_SECRET`, or the one generated on first start and kept in the
/// database (so manage links survive restarts). The CLI uses it too, to hash e-mail addresses
/// exactly as the service does.
pub async fn service_signer(configured: Option<SecretString>, db: &Db) -> anyhow::Result<Signer> {
    Ok(Signer::new(match configured {
        Some(secret) => secret,
        None => SecretString::from(signing_secret(db).await?),
    }))
}

/// The signing secret generated on first start and kept in the database.
async fn signing_secret(db: &Db) -> anyhow::Result<String> {
    let candidate = crate::random::secret();
    db.write(move |conn| {
        Box::pin(async move { storage::state::get_or_insert(conn, "signing_secret", &candidate).await })
    })
    .await
    .context("storing the generated signing secret")
}
