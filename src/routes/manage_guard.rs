//! Who may act on a manage page: the signed token is the key (no account), and changes must
//! come from our own pages, within the client's limit.

use actix_web::HttpRequest;

use super::client_ip::client_key;
use super::error::PageError;
use super::origin::same_origin;
use crate::state::State;
use crate::storage::admin::{self, AdminRow};

/// The donation behind a genuine, still valid token.
pub(super) async fn entry(state: &State, token: &str) -> Result<AdminRow, PageError> {
    let id = state.signer.open_manage_token(token).ok_or(PageError::NotFound)?;
    admin::find(state.db.pool(), id)
        .await?
        .filter(|row| row.erased_at.is_none())
        .ok_or(PageError::NotFound)
}

/// For changes: the request must come from our own pages, within the client's limit, and the
/// token must be live.
pub(super) async fn guarded(req: &HttpRequest, state: &State, token: &str) -> Result<AdminRow, PageError> {
    if !same_origin(req, &state.public_url) {
        return Err(PageError::Forbidden);
    }
    if let Some(limiter) = &state.limits.manage {
        let client = client_key(req, &state.abuse.trusted_proxies);
        limiter.check(client).map_err(|wait| PageError::Throttled {
            retry_after_secs: wait.as_secs() + 1,
        })?;
    }
    entry(state, token).await
}
