//! Public reads: the supporter wall and its totals. Only `paid` (including partly refunded) and
//! not hidden donations are shown or counted; everything else is invisible here.

use sqlx::SqlitePool;

/// One row of the wall, before the donor's visibility choice is applied.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WallRow {
    /// SQLite's rowid: the insertion order, which breaks ties between equal timestamps.
    pub seq: i64,
    pub id: String,
    pub name: Option<String>,
    pub message: Option<String>,
    #[sqlx(try_from = "String")]
    pub visibility: crate::domain::Visibility,
    /// Waiting for the blogger's approval: shown as anonymous until then.
    pub held: bool,
    pub coffees: i64,
    pub net_cents: i64,
    pub currency: String,
    pub created_at: i64,
    /// A monthly coffee still running at the time of the read.
    pub monthly: bool,
}

/// A position in the wall: the last row seen. Rows strictly older come next.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub created_at: i64,
    pub seq: i64,
}

impl Cursor {
    /// `<created_at>.<seq>`: opaque to clients, but cheap and stable.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.seq)
    }

    pub fn decode(raw: &str) -> Option<Cursor> {
        let (t, seq) = raw.split_once('.')?;
        Some(Cursor {
            created_at: t.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Totals {
    pub supporters: i64,
    pub coffees: i64,
    pub amount_cents: i64,
}

/// Keyset pages are fetched with one row more than asked: if it arrives, there is a next page,
/// starting after the last row kept.
pub(super) fn split_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> Cursor,
) -> (Vec<T>, Option<Cursor>) {
    if rows.len() <= limit as usize {
        return (rows, None);
    }
    rows.truncate(limit as usize);
    let next = rows.last().map(cursor);
    (rows, next)
}

/// A page is a range on the partial index `donations_wall (created_at)` (whose entries end in the
/// rowid): `created_at <= ?1` bounds the range, so a page deep in the wall costs what the first
/// does. (`a < ?1 OR (a = ?1 AND rowid < ?2)` alone would make SQLite walk the index from the top.)
/// A monthly coffee is running while it has not ended and is paid through at least `?4` (now
/// less the grace period).
const PAGE: &str = "SELECT rowid AS seq, id, name, message, visibility, held, coffees, \
     amount_cents - refunded_cents AS net_cents, currency, created_at, \
     (interval = 'month' AND ended_at IS NULL AND COALESCE(paid_through, 0) >= ?4) AS monthly \
     FROM donations INDEXED BY donations_wall \
     WHERE status = 'paid' AND hidden = 0 AND created_at <= ?1 AND (created_at < ?1 OR rowid < ?2) \
     ORDER BY created_at DESC, rowid DESC LIMIT ?3";

/// Up to `limit` rows older than `before`, newest first, plus whether more exist. A monthly
/// coffee counts as running if paid through at least `running_since`.
pub async fn page(
    pool: &SqlitePool,
    before: Option<&Cursor>,
    limit: u32,
    running_since: i64,
) -> Result<(Vec<WallRow>, Option<Cursor>), sqlx::Error> {
    let (t, seq) = before.map_or((i64::MAX, i64::MAX), |c| (c.created_at, c.seq));
    let rows: Vec<WallRow> = sqlx::query_as(PAGE)
        .bind(t)
        .bind(seq)
        .bind(i64::from(limit) + 1)
        .bind(running_since)
        .fetch_all(pool)
        .await?;
    Ok(split_page(rows, limit, |r| Cursor {
        created_at: r.created_at,
        seq: r.seq,
    }))
}

/// Supporters, coffees and net amount (after refunds) of everything on the wall: one row, kept
/// by triggers (migrations/0005_wall_totals.sql).
pub async fn totals(pool: &SqlitePool) -> Result<Totals, sqlx::Error> {
    sqlx::query_as("SELECT supporters, coffees, amount_cents FROM wall_totals WHERE id = 1")
        .fetch_one(pool)
        .await
}

/// Monthly coffees on the wall that are running: not ended, paid through at least
/// `running_since` (now less the grace period).
pub async fn monthly_supporters(pool: &SqlitePool, running_since: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM donations INDEXED BY donations_monthly WHERE interval = 'month' \
         AND ended_at IS NULL AND paid_through >= ?1 AND status = 'paid' AND hidden = 0",
    )
    .bind(running_since)
    .fetch_one(pool)
    .await
}

/// The same totals computed from scratch, to check the maintained ones.
pub async fn totals_recomputed(pool: &SqlitePool) -> Result<Totals, sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*) AS supporters, COALESCE(SUM(coffees), 0) AS coffees, \
         COALESCE(SUM(amount_cents - refunded_cents), 0) AS amount_cents \
         FROM donations WHERE status = 'paid' AND hidden = 0",
    )
    .fetch_one(pool)
    .await
}

/// Changes whenever anything the wall shows may have changed (kept by the same triggers).
pub async fn version(conn: &mut sqlx::SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM wall_totals WHERE id = 1")
        .fetch_one(conn)
        .await
}

/// SQLite's plan for a page, one line per step: to check that pages stay index ranges.
pub async fn page_plan(pool: &SqlitePool) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {PAGE}")))
            .bind(1_700_000_000i64)
            .bind(1000i64)
            .bind(21i64)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(_, _, _, detail)| detail).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_cursor_round_trips_and_no_text_panics(t in any::<i64>(), seq in any::<i64>(), raw in ".{0,40}") {
            let c = Cursor { created_at: t, seq };
            proptest::prop_assert_eq!(Cursor::decode(&c.encode()), Some(c));
            let _ = Cursor::decode(&raw);
        }
    }

    use proptest::prelude::any;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            created_at: 1_700_000_000,
            seq: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "abc", "12", "x.1", "12.", "12.a b", "12.<script>", "1.2.3"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
