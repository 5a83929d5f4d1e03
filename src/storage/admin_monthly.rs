//! The blogger's figures for monthly coffees: what runs now, what it brings each month, and
//! which ended in each of the last twelve months, voluntarily or not.

use sqlx::SqlitePool;

/// One calendar month's ended monthly coffees.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EndedMonth {
    /// `2026-11`.
    pub month: String,
    /// Cancelled by the supporter.
    pub voluntary: i64,
    /// Failed payments, disputes, or ended without a reason.
    pub involuntary: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MonthlyFigures {
    /// Monthly coffees running now.
    pub active: i64,
    /// What they bring each month, in cents (the sum of their monthly amounts), without those
    /// cancelled at the end of the paid month: they bring nothing more.
    pub recurring_cents: i64,
    /// The last twelve months, newest first, each present even with none.
    pub ended: Vec<EndedMonth>,
}

/// The figures at `now`: running means not ended, paid at least once, and paid through
/// `running_since` or later (now less `MONTHLY_GRACE_DAYS`).
pub async fn figures(pool: &SqlitePool, now: i64, running_since: i64) -> Result<MonthlyFigures, sqlx::Error> {
    let (active, recurring_cents): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN cancel_at_period_end THEN 0 ELSE expected_amount_cents END), 0) \
         FROM donations INDEXED BY donations_monthly \
         WHERE interval = 'month' AND ended_at IS NULL AND paid_through >= ?1 AND status = 'paid'",
    )
    .bind(running_since)
    .fetch_one(pool)
    .await?;
    let months = last_twelve_months(now);
    let since = months.last().map_or(now, |(_, start)| *start);
    // Only monthly coffees that ever paid: a checkout that never completed did not "end".
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT strftime('%Y-%m', ended_at, 'unixepoch') AS month, \
         SUM(ended_reason = 'cancelled'), SUM(ended_reason != 'cancelled') \
         FROM donations INDEXED BY donations_interval WHERE interval = 'month' AND ended_at >= ?1 \
         AND paid_at IS NOT NULL GROUP BY month",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let ended = months
        .into_iter()
        .map(|(month, _)| {
            let (voluntary, involuntary) = rows
                .iter()
                .find(|(m, _, _)| *m == month)
                .map_or((0, 0), |(_, v, i)| (*v, *i));
            EndedMonth {
                month,
                voluntary,
                involuntary,
            }
        })
        .collect();
    Ok(MonthlyFigures {
        active,
        recurring_cents,
        ended,
    })
}

/// The twelve calendar months up to `now`'s (UTC), newest first: each `YYYY-MM` and its start.
fn last_twelve_months(now: i64) -> Vec<(String, i64)> {
    let today = time::OffsetDateTime::from_unix_timestamp(now)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    let (mut year, mut month) = (today.year(), today.month());
    let mut out = Vec::with_capacity(12);
    for _ in 0..12 {
        let start = time::Date::from_calendar_date(year, month, 1)
            .map(|d| d.midnight().assume_utc().unix_timestamp())
            .unwrap_or(0);
        out.push((format!("{year:04}-{:02}", u8::from(month)), start));
        if month == time::Month::January {
            year -= 1;
        }
        month = month.previous();
    }
    out
}

/// The newest declarations, for the admin.
pub async fn recent(
    pool: &SqlitePool,
    limit: i64,
) -> Result<Vec<super::cancellations::CancellationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM cancellations ORDER BY created_at DESC LIMIT ?1",
        super::cancellations::COLUMNS
    )))
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_months_back_across_the_new_year() {
        let months = last_twelve_months(1_801_000_000); // 2027-01-26
        assert_eq!(months.len(), 12);
        assert_eq!(months[0].0, "2027-01");
        assert_eq!(months[1].0, "2026-12");
        assert_eq!(months[11].0, "2026-02");
        assert_eq!(months[11].1, 1_769_904_000);
    }
}
