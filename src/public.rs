//! The public read model: what the wall, the API, the widget, the badge and the feed may show.
//!
//! The donor's choice is applied here, once: an anonymous donor's name and message never leave
//! this module, so no template or serializer can leak them by mistake.

use serde::Serialize;
use sqlx::SqlitePool;

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
        let public = row.visibility == "public" && !row.held;
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

pub async fn wall(pool: &SqlitePool, before: Option<&Cursor>, limit: u32) -> Result<Wall, sqlx::Error> {
    let (rows, next) = supporters::page(pool, before, limit).await?;
    let totals = supporters::totals(pool).await?;
    Ok(Wall {
        supporters: rows.into_iter().map(Supporter::from).collect(),
        next,
        totals,
    })
}

pub async fn totals(pool: &SqlitePool) -> Result<Totals, sqlx::Error> {
    supporters::totals(pool).await
}
