//! The statements of a batch of webhook writes: one read of every row the batch refers to, and
//! multi-row writes of what its decisions left in the [`Workspace`].
//!
//! Each statement is sent to SQLite's thread once per batch, not once per event, and each is
//! prepared once and then cached by sqlx (`sqlx::query` caches by text). So that a batch of any
//! size uses the same few texts, the id lists go in as one JSON array (`json_each`), and the
//! multi-row writes come in shapes of 1, 8 and 64 rows: a chunk of 5 rows uses the 8-row shape,
//! its last 3 rows left unbound (NULL) and skipped by `WHERE column1 IS NOT NULL`.

use std::sync::LazyLock;

use sqlx::{FromRow, Row, SqliteConnection};

use super::donations::{COLUMNS, DonationRow, Q};
use super::workspace::{Held, LedgerRow, NoticeRow, Wants, Workspace};

/// Every donation any of `?1` (a JSON array of ids) finds; the event ids of `?2` the ledger
/// holds; the ids of `?1` and of those donations that deferred events wait for; and when the
/// longest-waiting deferred event came. Each row says which of these it is (`what`). The
/// waiting ids are found from `deferred_keys`, which is small (and mostly empty), rather than
/// from the donations: that costs nothing while no event is deferred.
static READ: LazyLock<String> = LazyLock::new(|| {
    let matching = "d.id IN k OR d.checkout_session_id IN k OR d.payment_intent_id IN k OR d.charge_id IN k";
    format!(
        "WITH k(v) AS (SELECT value FROM json_each(?1)) \
         SELECT 'donation' AS what, rowid AS seq, {COLUMNS} FROM donations d WHERE {matching}; \
         SELECT 'event' AS what, id FROM stripe_events WHERE id IN (SELECT value FROM json_each(?2)); \
         WITH k(v) AS (SELECT value FROM json_each(?1)) \
         SELECT 'waiting' AS what, w.key FROM deferred_keys w WHERE w.key IN k OR EXISTS (\
           SELECT 1 FROM donations d WHERE (d.id = w.key OR d.checkout_session_id = w.key \
           OR d.payment_intent_id = w.key OR d.charge_id = w.key) AND ({matching})); \
         SELECT 'oldest' AS what, MIN(received_at) AS at FROM stripe_events WHERE status = 'deferred'"
    )
});

/// [`READ`] beginning the transaction, for a batch that starts with it: one round trip less.
static BEGIN_AND_READ: LazyLock<String> = LazyLock::new(|| format!("BEGIN IMMEDIATE; {}", READ.as_str()));

/// Reads what the staged writes `wants` refer to, in one round trip (`begin`: and begins the
/// transaction first).
pub(super) async fn read(
    conn: &mut SqliteConnection,
    wants: &[&Wants],
    begin: bool,
) -> Result<Workspace, sqlx::Error> {
    let keys: Vec<&str> = wants.iter().flat_map(|w| &w.keys).map(String::as_str).collect();
    let events: Vec<&str> = wants.iter().filter_map(|w| w.event_id.as_deref()).collect();
    let json = |ids: &[&str]| serde_json::to_string(ids).map_err(|e| sqlx::Error::Encode(Box::new(e)));
    let sql = if begin { &BEGIN_AND_READ } else { &READ };
    let rows = sqlx::query(sql.as_str())
        .bind(json(&keys)?)
        .bind(json(&events)?)
        .fetch_all(conn)
        .await?;
    let mut workspace = Workspace::default();
    for row in rows {
        match row.try_get::<&str, _>("what")? {
            "donation" => {
                let seq: i64 = row.try_get("seq")?;
                workspace.hold_stored(DonationRow::from_row(&row)?, seq);
            }
            "event" => workspace.known_event(row.try_get("id")?),
            "waiting" => workspace.waiting_for(row.try_get("key")?),
            _ => workspace.oldest_deferred = row.try_get("at")?,
        }
    }
    Ok(workspace)
}

/// Writes what the decisions left in `workspace`: new donations, changed donations, ledger rows,
/// what deferred events wait for, notifications (in this order: each refers to the one before).
pub(super) async fn write(conn: &mut SqliteConnection, workspace: &Workspace) -> Result<(), sqlx::Error> {
    let mut new: Vec<&Held> = workspace.held.iter().filter(|h| h.new.is_some()).collect();
    new.sort_by_key(|h| h.seq);
    let changed: Vec<&Held> = workspace
        .held
        .iter()
        .filter(|h| h.new.is_none() && h.updated_at.is_some())
        .collect();
    let largest = SHAPES[SHAPES.len() - 1];
    let (new_rows, events) = (new.len(), workspace.ledger.len());
    if new_rows > 0 && events > 0 && new_rows.max(events) <= largest {
        // The common batch (new donations and their events) in one round trip, not two.
        new_with_events(conn, &new, &workspace.ledger).await?;
    } else {
        rows(conn, &INSERT_DONATIONS, &new, bind_new).await?;
        rows(conn, &INSERT_EVENTS, &workspace.ledger, bind_event).await?;
    }
    rows(conn, &UPDATE_DONATIONS, &changed, bind_changed).await?;
    rows(conn, &INSERT_DEFERRED, &workspace.deferred, |q, (key, event)| {
        q.bind(key.as_str()).bind(event.as_str())
    })
    .await?;
    rows(conn, &INSERT_NOTICES, &workspace.notices, bind_notice).await
}

/// New donations and ledger rows (at most the largest shape of each) as one query of two
/// statements. Their parameters run on from the first statement into the second, so the rows a
/// shape holds beyond those given are bound to NULL explicitly.
async fn new_with_events(
    conn: &mut SqliteConnection,
    new: &[&Held],
    ledger: &[LedgerRow],
) -> Result<(), sqlx::Error> {
    let shape = shape_for(new.len().max(ledger.len()));
    let unused = |given: usize, columns: usize| (SHAPES[shape] - given) * columns;
    let query = new
        .iter()
        .fold(sqlx::query(NEW_WITH_EVENTS.0[shape].as_str()), bind_new);
    let query = nulls(query, unused(new.len(), DONATION_COLUMNS));
    let query = ledger.iter().fold(query, bind_event);
    nulls(query, unused(ledger.len(), EVENT_COLUMNS))
        .execute(conn)
        .await
        .map(drop)
}

fn nulls(query: Q<'_>, n: usize) -> Q<'_> {
    (0..n).fold(query, |q, _| q.bind(None::<i64>))
}

/// The smallest shape that holds `rows` rows (the largest, for more).
fn shape_for(rows: usize) -> usize {
    SHAPES.iter().position(|&n| n >= rows).unwrap_or(SHAPES.len() - 1)
}

/// The row counts of the prepared shapes, smallest first.
const SHAPES: [usize; 3] = [1, 8, 64];

/// One statement in each shape.
struct Shapes([String; 3]);

impl Shapes {
    /// `sql` with `{values}` replaced by `rows` rows of `columns` parameters each, for each shape.
    fn new(sql: &str, columns: usize) -> Shapes {
        Shapes(SHAPES.map(|rows| {
            let row = format!("({})", vec!["?"; columns].join(", "));
            sql.replace("{values}", &vec![row; rows].join(", "))
        }))
    }
}

/// Writes `items` in chunks of at most the largest shape, each chunk one statement.
async fn rows<T>(
    conn: &mut SqliteConnection,
    shapes: &'static Shapes,
    items: &[T],
    bind: impl for<'q> Fn(Q<'q>, &'q T) -> Q<'q>,
) -> Result<(), sqlx::Error> {
    for chunk in items.chunks(SHAPES[SHAPES.len() - 1]) {
        let shape = shape_for(chunk.len());
        let query = chunk.iter().fold(sqlx::query(shapes.0[shape].as_str()), &bind);
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

const INSERT_DONATIONS_SQL: &str = "INSERT INTO donations (id, provider, checkout_session_id, \
     payment_intent_id, charge_id, coffees, expected_amount_cents, amount_cents, currency, amount_mismatch, \
     name, message, visibility, consent_at, consent_version, held, livemode, created_at, updated_at, status, \
     checkout_state, refunded_cents, dispute_state, paid_at, charge_refunded_cents, refunds, disputes, \
     charge_amount, charge_currency) SELECT * FROM (VALUES {values}) WHERE column1 IS NOT NULL";
const DONATION_COLUMNS: usize = 29;

static INSERT_DONATIONS: LazyLock<Shapes> =
    LazyLock::new(|| Shapes::new(INSERT_DONATIONS_SQL, DONATION_COLUMNS));

static NEW_WITH_EVENTS: LazyLock<Shapes> = LazyLock::new(|| {
    let (donations, events) = (
        Shapes::new(INSERT_DONATIONS_SQL, DONATION_COLUMNS),
        Shapes::new(INSERT_EVENTS_SQL, EVENT_COLUMNS),
    );
    Shapes(std::array::from_fn(|i| {
        format!("{}; {}", donations.0[i], events.0[i])
    }))
});

fn bind_new<'q>(q: Q<'q>, h: &'q &Held) -> Q<'q> {
    let (r, Some(d)) = (&h.row, &h.new) else {
        return q;
    };
    let public = d.visibility.is_public();
    let q = q
        .bind(&r.id)
        .bind(d.provider)
        .bind(&d.checkout_session_id)
        .bind(&r.payment_intent_id)
        .bind(&r.charge_id)
        .bind(d.coffees)
        .bind(d.amount_cents)
        .bind(r.amount_cents)
        .bind(&r.currency)
        .bind(r.amount_mismatch)
        .bind(&d.name)
        .bind(&d.message)
        .bind(d.visibility.as_str())
        .bind(public.then_some(d.created_at))
        .bind(public.then_some(crate::i18n::CONSENT_VERSION))
        .bind(d.held)
        .bind(d.livemode)
        .bind(d.created_at)
        .bind(h.updated_at.unwrap_or(d.created_at));
    bind_state(q, r)
}

/// The columns an event changes, as `donations::UPDATE` writes them, by the row's id.
static UPDATE_DONATIONS: LazyLock<Shapes> = LazyLock::new(|| {
    Shapes::new(
        "UPDATE donations SET checkout_session_id = v.column2, payment_intent_id = v.column3, \
         charge_id = v.column4, amount_cents = v.column5, currency = v.column6, amount_mismatch = v.column7, \
         updated_at = v.column8, status = v.column9, checkout_state = v.column10, refunded_cents = v.column11, \
         dispute_state = v.column12, paid_at = v.column13, charge_refunded_cents = v.column14, \
         refunds = v.column15, disputes = v.column16, charge_amount = v.column17, charge_currency = v.column18 \
         FROM (SELECT * FROM (VALUES {values}) WHERE column1 IS NOT NULL) AS v WHERE donations.id = v.column1",
        18,
    )
});

fn bind_changed<'q>(q: Q<'q>, h: &'q &Held) -> Q<'q> {
    let r = &h.row;
    let q = q
        .bind(&r.id)
        .bind(&r.checkout_session_id)
        .bind(&r.payment_intent_id)
        .bind(&r.charge_id)
        .bind(r.amount_cents)
        .bind(&r.currency)
        .bind(r.amount_mismatch)
        .bind(h.updated_at);
    bind_state(q, r)
}

/// The state the facts decide: status through the charge (10 parameters).
fn bind_state<'q>(q: Q<'q>, r: &'q DonationRow) -> Q<'q> {
    q.bind(r.status.as_str())
        .bind(r.checkout_state.as_str())
        .bind(r.refunded_cents)
        .bind(r.dispute_state.as_str())
        .bind(r.paid_at)
        .bind(r.charge_refunded_cents)
        .bind(r.refunds.to_json())
        .bind(r.disputes.to_json())
        .bind(r.charge_amount)
        .bind(&r.charge_currency)
}

const INSERT_EVENTS_SQL: &str = "INSERT INTO stripe_events (id, type, created, livemode, api_version, \
     received_at, status, error, donation_id, payload) SELECT * FROM (VALUES {values}) WHERE column1 IS NOT NULL";
const EVENT_COLUMNS: usize = 10;

static INSERT_EVENTS: LazyLock<Shapes> = LazyLock::new(|| Shapes::new(INSERT_EVENTS_SQL, EVENT_COLUMNS));

fn bind_event<'q>(q: Q<'q>, e: &'q LedgerRow) -> Q<'q> {
    q.bind(&e.id)
        .bind(&e.kind)
        .bind(e.created)
        .bind(e.livemode)
        .bind(&e.api_version)
        .bind(e.received_at)
        .bind(e.status)
        .bind(&e.error)
        .bind(&e.donation_id)
        .bind(&e.payload)
}

static INSERT_DEFERRED: LazyLock<Shapes> = LazyLock::new(|| {
    Shapes::new(
        "INSERT OR IGNORE INTO deferred_keys (key, event_id) \
         SELECT * FROM (VALUES {values}) WHERE column1 IS NOT NULL",
        2,
    )
});

static INSERT_NOTICES: LazyLock<Shapes> = LazyLock::new(|| {
    Shapes::new(
        "INSERT INTO notifications (id, channel, kind, donation_id, created_at, next_attempt_at) \
         SELECT * FROM (VALUES {values}) WHERE column1 IS NOT NULL",
        6,
    )
});

fn bind_notice<'q>(q: Q<'q>, n: &'q NoticeRow) -> Q<'q> {
    q.bind(&n.id)
        .bind(n.channel.as_str())
        .bind(n.kind.as_str())
        .bind(&n.donation_id)
        .bind(n.at)
        .bind(n.at)
}
