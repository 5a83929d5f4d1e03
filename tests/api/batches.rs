//! The webhook's batched write (read, decide in memory, write with multi-row statements): the
//! same random histories leave the same rows in batches of 64 as one event at a time, and a
//! batch statement that fails falls back to one event at a time, so a bad event fails alone.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use tempfile::TempDir;

use kaffeekasse::config::DatabaseSettings;
use kaffeekasse::domain::{Channel, Currency, Moderation, Pricing, Rules, Visibility};
use kaffeekasse::storage::donations::{self, NewDonation};
use kaffeekasse::storage::{self, Db};
use kaffeekasse::webhook::apply::{Ingested, Ledger, Outcome};
use kaffeekasse::webhook::event::Incoming;

use crate::helpers::{charge, dispute, event, fixture, session};

const LINK: &str = "plink_batch";
/// Donations we started (`0..OURS`), then Payment Link sessions nobody started here.
const OURS: usize = 3;
const PEOPLE: usize = 6;
const PRICE: i64 = 500;

/// A jar of its own: database, writer, ledger, nothing else running.
struct Jar {
    db: Db,
    ledger: Ledger,
    _dir: TempDir,
}

async fn jar(batch_max: usize) -> Jar {
    let dir = tempfile::tempdir().unwrap();
    let settings = DatabaseSettings {
        url: format!("sqlite://{}", dir.path().join("kasse.db").display()),
        busy_timeout: Duration::from_secs(5),
        read_connections: 1,
        batch_max,
        abandoned_retention: Duration::from_secs(30 * 86_400),
    };
    let db = storage::connect(&settings).await.unwrap();
    db.migrate().await.unwrap();
    let rules = Rules {
        pricing: Pricing {
            coffee_price_cents: PRICE,
            currency: Currency::parse("eur").unwrap(),
            max_coffees: 10,
        },
        payment_links: vec![LINK.to_owned()],
        moderation: Moderation::Links,
        blocked_words: vec![],
    };
    let ledger = Ledger::new(db.clone(), Arc::new(rules))
        .notifying(vec![Channel::Ntfy, Channel::Email], Default::default());
    for who in 0..OURS {
        let d = NewDonation {
            id: format!("don_{who}"),
            provider: "stripe",
            checkout_session_id: session_id(who),
            coffees: 1 + who as u32,
            amount_cents: amount(who),
            currency: "eur".into(),
            name: Some(format!("Leserin {who}")),
            message: None,
            visibility: if who == 0 {
                Visibility::Public
            } else {
                Visibility::Anonymous
            },
            held: false,
            livemode: false,
            created_at: 1_700_000_000,
            interval: kaffeekasse::domain::Interval::Once,
        };
        db.write(move |conn| Box::pin(async move { donations::insert(conn, &d).await }))
            .await
            .unwrap();
    }
    Jar {
        db,
        ledger,
        _dir: dir,
    }
}

fn ours(who: usize) -> bool {
    who < OURS
}

fn session_id(who: usize) -> String {
    match ours(who) {
        true => format!("cs_our_{who}"),
        false => format!("cs_link_{who}"),
    }
}

fn amount(who: usize) -> i64 {
    PRICE * (1 + (who % OURS) as i64)
}

fn donation_id(who: usize) -> String {
    match ours(who) {
        true => format!("don_{who}"),
        false => String::new(),
    }
}

/// One thing that happens, to one of the people.
#[derive(Debug, Clone)]
enum Happening {
    Completed {
        who: usize,
        paid: bool,
    },
    AsyncSucceeded(usize),
    AsyncFailed(usize),
    Expired(usize),
    Refunded {
        who: usize,
        share: i64,
    },
    RefundFailed(usize),
    Disputed {
        who: usize,
        status: &'static str,
    },
    /// An event of a type we do not act on.
    Unhandled,
    /// A session someone else on the account started.
    Foreign,
    /// An object that cannot be read.
    Unreadable,
    /// An earlier event delivered again.
    Again(usize),
    /// The donor erases their data: an ordinary write between webhooks.
    Erase(usize),
}

fn happening() -> impl Strategy<Value = Happening> {
    let who = 0..PEOPLE;
    prop_oneof![
        4 => (who.clone(), prop::bool::weighted(0.8)).prop_map(|(who, paid)| Happening::Completed { who, paid }),
        1 => who.clone().prop_map(Happening::AsyncSucceeded),
        1 => who.clone().prop_map(Happening::AsyncFailed),
        1 => who.clone().prop_map(Happening::Expired),
        2 => (who.clone(), 0..=4_i64).prop_map(|(who, share)| Happening::Refunded { who, share }),
        1 => who.clone().prop_map(Happening::RefundFailed),
        2 => (who.clone(), prop::sample::select(vec!["needs_response", "under_review", "won", "lost"]))
            .prop_map(|(who, status)| Happening::Disputed { who, status }),
        1 => Just(Happening::Unhandled),
        1 => Just(Happening::Foreign),
        1 => Just(Happening::Unreadable),
        2 => (0..64_usize).prop_map(Happening::Again),
        1 => who.prop_map(Happening::Erase),
    ]
}

/// The event a happening sends (`None`: it is not a webhook).
fn body(n: usize, happening: &Happening, sent: &[String]) -> Option<String> {
    let created = 1_700_000_100 + n as i64;
    let checkout = |who: usize, payment_status: &str, status: &str| {
        let mut s = session(
            &session_id(who),
            &donation_id(who),
            payment_status,
            status,
            amount(who),
        );
        if !ours(who) {
            s["metadata"] = json!({});
            s["client_reference_id"] = Value::Null;
            s["payment_link"] = json!(LINK);
        }
        s
    };
    let charged = |who: usize| {
        (
            format!("ch_{}", session_id(who)),
            format!("pi_{}", session_id(who)),
        )
    };
    let (kind, object) = match *happening {
        Happening::Completed { who, paid } => {
            let paid = if paid { "paid" } else { "unpaid" };
            ("checkout.session.completed", checkout(who, paid, "complete"))
        }
        Happening::AsyncSucceeded(who) => (
            "checkout.session.async_payment_succeeded",
            checkout(who, "paid", "complete"),
        ),
        Happening::AsyncFailed(who) => (
            "checkout.session.async_payment_failed",
            checkout(who, "unpaid", "complete"),
        ),
        Happening::Expired(who) => ("checkout.session.expired", checkout(who, "unpaid", "expired")),
        Happening::Refunded { who, share } => {
            let (ch, pi) = charged(who);
            let mut c = charge(&ch, &donation_id(who), &pi, amount(who), amount(who) * share / 4);
            if !ours(who) {
                c["metadata"] = json!({});
            }
            ("charge.refunded", c)
        }
        Happening::RefundFailed(who) => {
            let (ch, pi) = charged(who);
            let mut r = fixture("refund");
            for (k, v) in [
                ("id", json!(format!("re_{who}"))),
                ("amount", json!(PRICE)),
                ("currency", json!("eur")),
                ("status", json!("failed")),
                ("charge", json!(ch)),
                ("payment_intent", json!(pi)),
                ("metadata", json!({})),
            ] {
                r[k] = v;
            }
            ("refund.failed", r)
        }
        Happening::Disputed { who, status } => {
            let (ch, pi) = charged(who);
            let kind = match status {
                "won" | "lost" => "charge.dispute.closed",
                _ => "charge.dispute.created",
            };
            (kind, dispute(&format!("dp_{who}"), &ch, &pi, status, amount(who)))
        }
        Happening::Unhandled => (
            "customer.created",
            json!({"id": "cus_1", "object": "customer", "email": "jenny@example.org"}),
        ),
        Happening::Foreign => {
            let mut s = session(&format!("cs_shop_{n}"), "", "paid", "complete", 2_500);
            s["metadata"] = json!({});
            ("checkout.session.completed", s)
        }
        Happening::Unreadable => ("charge.refunded", json!({"id": 5})),
        Happening::Again(k) => return sent.get(k % sent.len().max(1)).cloned(),
        Happening::Erase(_) => return None,
    };
    Some(event(&format!("evt_{n}"), kind, object, created))
}

type Pending = Pin<Box<dyn Future<Output = String> + Send>>;

/// Applies `history` with every write queued behind a held writer, in order, then lets the
/// writer go: it takes them in batches of its `WEBHOOK_BATCH_MAX`. What each write answered.
async fn apply(jar: &Jar, history: &[Happening]) -> Vec<String> {
    let (release, hold) = tokio::sync::oneshot::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let blocker = tokio::spawn({
        let db = jar.db.clone();
        async move {
            db.write(move |_conn| {
                Box::pin(async move {
                    let _ = started.send(());
                    let _ = hold.await;
                    Ok::<_, sqlx::Error>(())
                })
            })
            .await
        }
    });
    running.await.unwrap();
    let (mut pending, mut sent) = (Vec::<Pending>::new(), Vec::new());
    for (n, happening) in history.iter().enumerate() {
        let write: Pending = match (body(n, happening, &sent), happening) {
            (Some(body), _) => {
                let incoming = Incoming::parse(body.as_bytes()).unwrap();
                sent.push(body);
                let ledger = jar.ledger.clone();
                Box::pin(async move { answer(ledger.ingest(incoming).await) })
            }
            (None, &Happening::Erase(who)) => {
                let db = jar.db.clone();
                Box::pin(async move { format!("{:?}", erase(&db, who).await) })
            }
            (None, _) => continue,
        };
        pending.push(write);
        // Polled once, a write is queued (and then waits for its answer).
        let last = pending.last_mut().unwrap();
        assert!(futures::poll!(last.as_mut()).is_pending());
    }
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    futures::future::join_all(pending).await
}

fn answer(ingested: Result<Ingested, sqlx::Error>) -> String {
    match ingested {
        Ok(ingested) => format!("{ingested:?}"),
        Err(_) => "error".into(),
    }
}

async fn erase(db: &Db, who: usize) -> Result<bool, sqlx::Error> {
    let session = session_id(who);
    db.write(move |conn| {
        Box::pin(async move {
            let id: Option<String> =
                sqlx::query_scalar("SELECT id FROM donations WHERE checkout_session_id = ?1")
                    .bind(&session)
                    .fetch_optional(&mut *conn)
                    .await?;
            match id {
                Some(id) => storage::admin::erase(conn, &id, storage::now()).await,
                None => Ok(false),
            }
        })
    })
    .await
}

/// Every row the webhook writes, without the times of day (the two runs are seconds apart) and
/// the notifications' random ids.
async fn rows(db: &Db) -> Vec<String> {
    let queries = [
        "SELECT json_array(rowid, id, provider, checkout_session_id, payment_intent_id, charge_id, status, \
         checkout_state, refunded_cents, charge_refunded_cents, refunds, dispute_state, disputes, charge_amount, \
         charge_currency, coffees, expected_amount_cents, amount_cents, currency, amount_mismatch, name, message, \
         visibility, consent_version, held, hidden, livemode, paid_at, erased_at IS NOT NULL) \
         FROM donations ORDER BY rowid",
        "SELECT json_array(rowid, id, type, created, livemode, api_version, status, error, donation_id, payload) \
         FROM stripe_events ORDER BY rowid",
        "SELECT json_array(key, event_id) FROM deferred_keys ORDER BY key, event_id",
        "SELECT json_array(rowid, channel, kind, donation_id) FROM notifications ORDER BY rowid",
        "SELECT json_array(supporters, coffees, amount_cents) FROM wall_totals",
    ];
    let mut all = Vec::new();
    for sql in queries {
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(db.pool()).await.unwrap();
        all.extend(rows);
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_same_history_leaves_the_same_rows_in_batches_of_64_as_one_event_at_a_time(
        history in prop::collection::vec(happening(), 1..60)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (batched, single) = runtime.block_on(async {
            // With WEBHOOK_BATCH_MAX=1 every event is written the ordinary way: the reference.
            let (batched, single) = (jar(64).await, jar(1).await);
            let answers = (apply(&batched, &history).await, apply(&single, &history).await);
            let stats = (batched.db.committed_batches(), batched.db.staged_writes(), single.db.staged_writes());
            ((answers.0, rows(&batched.db).await, stats), (answers.1, rows(&single.db).await))
        });
        prop_assert_eq!(&batched.0, &single.0, "the answers");
        prop_assert_eq!(&batched.1, &single.1, "the rows");
        let (batches, staged, reference) = batched.2;
        // The pre-created donations, the held writer, then the history in one batch at most
        // (none if nothing in it was written).
        prop_assert!(batches <= OURS as u64 + 2, "{} batches", batches);
        prop_assert_eq!(staged.fell_back, 0);
        // A completion is always decided in memory (an unreadable event never is).
        if history.iter().any(|h| matches!(h, Happening::Completed { .. })) {
            prop_assert!(staged.batched > 0, "decided in memory: {:?}", staged);
        }
        prop_assert_eq!(reference.batched + reference.fell_back, 0, "nothing staged one at a time");
    }
}

#[tokio::test]
async fn a_bad_event_in_a_batch_fails_alone_and_the_others_commit_in_the_same_transaction() {
    let jar = jar(64).await;
    let mut history: Vec<Happening> = (OURS..PEOPLE)
        .map(|who| Happening::Completed { who, paid: true })
        .collect();
    history.insert(1, Happening::Completed { who: 0, paid: true });
    let before = jar.db.committed_batches();

    // A session for a negative amount breaks a CHECK constraint of the batch's insert.
    let mut answers = apply(&jar, &history[..2]).await;
    let mut bad = session("cs_link_bad", "", "paid", "complete", -500);
    bad["metadata"] = json!({});
    bad["payment_link"] = json!(LINK);
    let bodies = [
        event(
            "evt_good_1",
            "checkout.session.completed",
            session("cs_our_1", "don_1", "paid", "complete", 1000),
            1,
        ),
        event("evt_bad", "checkout.session.completed", bad, 1),
        event(
            "evt_good_2",
            "checkout.session.completed",
            session("cs_our_2", "don_2", "paid", "complete", 1500),
            1,
        ),
    ];
    answers.extend(ingest_together(&jar, &bodies).await);

    assert_eq!(answers[2..], ["ok", "error", "ok"], "{answers:?}");
    let paid: Vec<String> = sqlx::query_scalar("SELECT id FROM donations WHERE status = 'paid' ORDER BY id")
        .fetch_all(jar.db.pool())
        .await
        .unwrap();
    assert_eq!(paid.len(), 4, "the two before and the two good ones: {paid:?}");
    assert!(paid.contains(&"don_1".to_owned()) && paid.contains(&"don_2".to_owned()));
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM stripe_events WHERE id LIKE 'evt_good_%'")
        .fetch_all(jar.db.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        jar.db.committed_batches() - before,
        4,
        "two held writers and two batches: the fallback stayed inside its batch"
    );
    assert_eq!(jar.db.staged_writes().fell_back, 3, "the whole batch, one by one");
}

/// Ingests `bodies` as one batch (queued behind a held writer): "ok" or "error" each.
async fn ingest_together(jar: &Jar, bodies: &[String]) -> Vec<String> {
    let (release, hold) = tokio::sync::oneshot::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let db = jar.db.clone();
    let blocker = tokio::spawn(async move {
        db.write(move |_conn| {
            Box::pin(async move {
                let _ = started.send(());
                let _ = hold.await;
                Ok::<_, sqlx::Error>(())
            })
        })
        .await
    });
    running.await.unwrap();
    let mut pending: Vec<Pin<Box<dyn Future<Output = String> + Send>>> = Vec::new();
    for body in bodies {
        let (incoming, ledger) = (Incoming::parse(body.as_bytes()).unwrap(), jar.ledger.clone());
        pending.push(Box::pin(async move {
            match ledger.ingest(incoming).await {
                Ok(Ingested::Processed(Outcome::Applied { .. })) => "ok".to_owned(),
                Ok(other) => format!("{other:?}"),
                Err(_) => "error".to_owned(),
            }
        }));
        assert!(futures::poll!(pending.last_mut().unwrap().as_mut()).is_pending());
    }
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    futures::future::join_all(pending).await
}
