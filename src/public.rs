//! The public read model: what the wall, the API, the widget, the badge and the feed may show.
//!
//! The donor's choice is applied here, once: an anonymous donor's name and message never leave
//! this module, so no template or serializer can leak them by mistake.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::storage::Db;
use crate::storage::supporters::{self, Cursor, Totals, WallRow};

/// One entry on the wall, as the public may see it.
#[derive(Debug, Clone, Serialize)]
pub struct Supporter {
    pub id: String,
    /// `None` for anonymous donors (and public donors who gave no name).
    pub name: Option<String>,
    /// `None` for anonymous donors.
    pub message: Option<String>,
    pub coffees: i64,
    pub amount_cents: i64,
    pub currency: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

impl From<WallRow> for Supporter {
    fn from(row: WallRow) -> Self {
        // Held entries wait for the blogger's approval; until then they look anonymous.
        let public = row.visibility.is_public() && !row.held;
        Supporter {
            id: row.id,
            name: row.name.filter(|_| public),
            message: row.message.filter(|_| public),
            coffees: row.coffees,
            amount_cents: row.net_cents,
            currency: row.currency,
            created_at: time::OffsetDateTime::from_unix_timestamp(row.created_at)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        }
    }
}

pub struct Wall {
    pub supporters: Vec<Supporter>,
    pub next: Option<Cursor>,
    pub totals: Totals,
}

pub const DEFAULT_PAGE: u32 = 20;
pub const MAX_PAGE: u32 = 100;

/// A page of the wall with the totals. The newest pages (no cursor) are served from `cache`
/// until this process commits a write, or for `CACHE_TTL` at most (writes by another process,
/// such as `kaffeekasse replay`, show up within that time).
pub async fn wall(
    cache: &WallCache,
    db: &Db,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Arc<Wall>, sqlx::Error> {
    let version = db.write_version();
    if before.is_none()
        && let Some(hit) = cache.get(limit, version)
    {
        return Ok(hit);
    }
    let (rows, next) = supporters::page(db.pool(), before, limit).await?;
    let totals = supporters::totals(db.pool()).await?;
    let wall = Arc::new(Wall {
        supporters: rows.into_iter().map(Supporter::from).collect(),
        next,
        totals,
    });
    if before.is_none() {
        cache.put(limit, version, Arc::clone(&wall));
    }
    Ok(wall)
}

pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// A cached page: the write version it was read at, when, and the page.
type CachedPage = (u64, Instant, Arc<Wall>);

/// The newest page of the wall per page size.
#[derive(Default)]
pub struct WallCache {
    pages: Mutex<HashMap<u32, CachedPage>>,
}

impl WallCache {
    fn get(&self, limit: u32, version: u64) -> Option<Arc<Wall>> {
        let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        let (v, at, wall) = pages.get(&limit)?;
        (*v == version && at.elapsed() < CACHE_TTL).then(|| Arc::clone(wall))
    }

    fn put(&self, limit: u32, version: u64, wall: Arc<Wall>) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        pages.insert(limit, (version, Instant::now(), wall));
    }
}
