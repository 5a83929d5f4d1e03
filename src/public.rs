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
    /// A monthly coffee that is running: one entry however many months it has paid.
    pub monthly: bool,
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
            monthly: row.monthly,
        }
    }
}

pub struct Wall {
    pub supporters: Vec<Supporter>,
    pub next: Option<Cursor>,
    pub totals: Totals,
    /// Monthly coffees running now.
    pub monthly_supporters: i64,
}

pub const DEFAULT_PAGE: u32 = 20;
pub const MAX_PAGE: u32 = 100;

/// A page of the wall with the totals, from `cache` while the wall is unchanged.
///
/// The cache is invalidated by the commit that changes the wall (its version, kept by triggers),
/// not by a timer. When a page is out of date, one request reloads it while the others are
/// served the previous version, so a busy wall never has every request recompute at once.
/// Writes by another process (say `kaffeekasse replay`) are not seen by this one's writer: a
/// page older than [`OUTSIDE_WRITES`] is reloaded as well.
pub async fn wall(
    cache: &WallCache,
    db: &Db,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Arc<Wall>, sqlx::Error> {
    let grace = cache.monthly_grace_secs();
    let key = (limit, before.cloned());
    let version = db.wall_version();
    let stale = match cache.lookup(&key, version) {
        Lookup::Fresh(wall) | Lookup::BeingReloaded(wall) => return Ok(wall),
        Lookup::ReloadIt(stale) => stale,
    };
    match load(db, before, limit, grace).await {
        Ok(wall) => {
            let wall = Arc::new(wall);
            cache.put(key, version, Arc::clone(&wall));
            Ok(wall)
        }
        Err(e) => {
            cache.release(&key);
            // A page a moment old beats an error page.
            stale.ok_or(e)
        }
    }
}

async fn load(db: &Db, before: Option<&Cursor>, limit: u32, grace_secs: i64) -> Result<Wall, sqlx::Error> {
    // The running flag moves with the clock, not only with writes: a page is at most
    // `OUTSIDE_WRITES` old, so a badge outlives its month by that much at most.
    let running_since = crate::storage::now() - grace_secs;
    let (rows, next) = supporters::page(db.pool(), before, limit, running_since).await?;
    let totals = supporters::totals(db.pool()).await?;
    let monthly_supporters = supporters::monthly_supporters(db.pool(), running_since).await?;
    Ok(Wall {
        supporters: rows.into_iter().map(Supporter::from).collect(),
        next,
        totals,
        monthly_supporters,
    })
}

/// How long a page may be served without reloading, for writes of other processes.
pub const OUTSIDE_WRITES: Duration = Duration::from_secs(5);
/// A reload that has not finished in this time (its request was dropped) is taken over.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(2);
/// Pages kept at most; the least recently used goes first.
const CAPACITY: usize = 64;

type Key = (u32, Option<Cursor>);

struct Entry {
    version: u64,
    loaded: Instant,
    used: Instant,
    wall: Arc<Wall>,
    reloading_since: Option<Instant>,
}

enum Lookup {
    Fresh(Arc<Wall>),
    /// Out of date, and another request is reloading it: serve this.
    BeingReloaded(Arc<Wall>),
    /// This request should reload it; the previous version, if any, for when that fails.
    ReloadIt(Option<Arc<Wall>>),
}

/// Recently served wall pages, by page size and cursor.
#[derive(Default)]
pub struct WallCache {
    pages: Mutex<HashMap<Key, Entry>>,
    /// `MONTHLY_GRACE_DAYS`, in seconds: how long a monthly coffee runs past its paid month.
    grace_secs: i64,
}

impl WallCache {
    pub fn new(monthly_grace_secs: i64) -> WallCache {
        WallCache {
            pages: Mutex::default(),
            grace_secs: monthly_grace_secs,
        }
    }

    fn monthly_grace_secs(&self) -> i64 {
        self.grace_secs
    }

    fn lookup(&self, key: &Key, version: u64) -> Lookup {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = pages.get_mut(key) else {
            return Lookup::ReloadIt(None);
        };
        let now = Instant::now();
        entry.used = now;
        if entry.version == version && entry.loaded.elapsed() < OUTSIDE_WRITES {
            return Lookup::Fresh(Arc::clone(&entry.wall));
        }
        match entry.reloading_since {
            Some(since) if since.elapsed() < RELOAD_TIMEOUT => Lookup::BeingReloaded(Arc::clone(&entry.wall)),
            _ => {
                entry.reloading_since = Some(now);
                Lookup::ReloadIt(Some(Arc::clone(&entry.wall)))
            }
        }
    }

    fn put(&self, key: Key, version: u64, wall: Arc<Wall>) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= CAPACITY
            && !pages.contains_key(&key)
            && let Some(oldest) = pages.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone())
        {
            pages.remove(&oldest);
        }
        let now = Instant::now();
        pages.insert(
            key,
            Entry {
                version,
                loaded: now,
                used: now,
                wall,
                reloading_since: None,
            },
        );
    }

    fn release(&self, key: &Key) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = pages.get_mut(key) {
            entry.reloading_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(n: i64) -> Arc<Wall> {
        Arc::new(Wall {
            supporters: Vec::new(),
            next: None,
            monthly_supporters: 0,
            totals: Totals {
                supporters: n,
                coffees: n,
                amount_cents: n,
            },
        })
    }

    fn totals(l: Lookup) -> (&'static str, Option<i64>) {
        match l {
            Lookup::Fresh(w) => ("fresh", Some(w.totals.supporters)),
            Lookup::BeingReloaded(w) => ("stale", Some(w.totals.supporters)),
            Lookup::ReloadIt(w) => ("reload", w.map(|w| w.totals.supporters)),
        }
    }

    #[test]
    fn one_request_reloads_an_outdated_page_while_the_others_get_the_previous_one() {
        let cache = WallCache::default();
        let key = (20, None);
        assert_eq!(totals(cache.lookup(&key, 1)), ("reload", None));
        cache.put(key.clone(), 1, wall(1));
        assert_eq!(totals(cache.lookup(&key, 1)), ("fresh", Some(1)));
        // A commit changed the wall: the first asker reloads, everyone else is served version 1.
        assert_eq!(totals(cache.lookup(&key, 2)), ("reload", Some(1)));
        assert_eq!(totals(cache.lookup(&key, 2)), ("stale", Some(1)));
        assert_eq!(totals(cache.lookup(&key, 2)), ("stale", Some(1)));
        cache.put(key.clone(), 2, wall(2));
        assert_eq!(totals(cache.lookup(&key, 2)), ("fresh", Some(2)));
    }

    #[test]
    fn a_failed_reload_lets_the_next_request_try() {
        let cache = WallCache::default();
        let key = (20, None);
        cache.put(key.clone(), 1, wall(1));
        assert_eq!(totals(cache.lookup(&key, 2)).0, "reload");
        cache.release(&key);
        assert_eq!(totals(cache.lookup(&key, 2)).0, "reload");
    }

    #[test]
    fn pages_are_kept_per_cursor_and_the_least_recently_used_goes_first() {
        let cache = WallCache::default();
        for seq in 0..CAPACITY as i64 {
            let key = (20, Some(Cursor { created_at: 1, seq }));
            cache.put(key, 1, wall(seq));
        }
        let first = (
            20,
            Some(Cursor {
                created_at: 1,
                seq: 0,
            }),
        );
        assert_eq!(
            totals(cache.lookup(&first, 1)),
            ("fresh", Some(0)),
            "used again: now the newest"
        );
        cache.put((20, None), 1, wall(99));
        let second = (
            20,
            Some(Cursor {
                created_at: 1,
                seq: 1,
            }),
        );
        assert_eq!(
            totals(cache.lookup(&second, 1)).0,
            "reload",
            "the least recently used was dropped"
        );
        assert_eq!(totals(cache.lookup(&first, 1)).0, "fresh");
    }
}
