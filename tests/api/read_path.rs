//! The read path at scale: totals are maintained, not computed, and every wall page is an index
//! range; the write path: batches commit together and fail alone.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use kaffeekasse::storage::supporters;

use crate::helpers::*;

#[tokio::test]
async fn a_wall_page_is_a_range_on_the_wall_index_however_deep() {
    let app = spawn_app().await;
    let plan = supporters::page_plan(&app.pool).await.unwrap();
    let plan = plan.join(" | ");
    assert!(
        plan.contains("SEARCH donations USING INDEX donations_wall (created_at<?)"),
        "{plan}"
    );
    assert!(!plan.contains("SCAN"), "no scan: {plan}");
    assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
}

async fn check_totals(app: &TestApp, step: &str) {
    let kept = supporters::totals(&app.pool).await.unwrap();
    let counted = supporters::totals_recomputed(&app.pool).await.unwrap();
    assert_eq!(kept, counted, "after {step}");
    let stats: Value = app.get("/api/stats").await.json().await.unwrap();
    assert_eq!(
        (
            stats["supporters"].as_i64(),
            stats["coffees"].as_i64(),
            stats["amount_cents"].as_i64()
        ),
        (
            Some(counted.supporters),
            Some(counted.coffees),
            Some(counted.amount_cents)
        ),
        "the API after {step}"
    );
}

#[tokio::test]
async fn maintained_totals_equal_totals_counted_from_scratch_after_random_histories() {
    for seed in [7_u64, 42, 2026] {
        let app = TestApp::with_admin(&[("STRIPE_PAYMENT_LINKS", "plink_rand")]).await;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut donations: Vec<(String, String, i64)> = Vec::new();
        for step in 0..60 {
            let pick = rng.random_range(0..donations.len().max(1));
            let what = if donations.is_empty() {
                0
            } else {
                rng.random_range(0..10)
            };
            let label = format!("seed {seed} step {step} action {what}");
            match what {
                0 => {
                    let sid = format!("cs_r{seed}_{step}");
                    let coffees = rng.random_range(1..=4);
                    let id = app.donation(&sid).coffees(coffees).create().await;
                    donations.push((id, sid, i64::from(coffees) * app.price()));
                }
                1 => {
                    let (id, sid, amount) = &donations[pick];
                    let paid = if rng.random_bool(0.8) { "paid" } else { "unpaid" };
                    let obj = session(sid, id, paid, "complete", *amount);
                    app.deliver(&format!("evt_{label}"), "checkout.session.completed", obj)
                        .await;
                }
                2 => {
                    let (id, sid, amount) = &donations[pick];
                    let kind = if rng.random_bool(0.5) {
                        "checkout.session.async_payment_succeeded"
                    } else {
                        "checkout.session.expired"
                    };
                    app.deliver(
                        &format!("evt_{label}"),
                        kind,
                        session(sid, id, "paid", "complete", *amount),
                    )
                    .await;
                }
                3 => {
                    let (id, sid, amount) = &donations[pick];
                    let refunded = rng.random_range(0..=*amount);
                    let obj = charge(&format!("ch_{sid}"), id, &format!("pi_{sid}"), *amount, refunded);
                    app.deliver(&format!("evt_{label}"), "charge.refunded", obj).await;
                }
                4 => {
                    let (_, sid, amount) = &donations[pick];
                    let (kind, status) = match rng.random_range(0..3) {
                        0 => ("charge.dispute.created", "needs_response"),
                        1 => ("charge.dispute.closed", "won"),
                        _ => ("charge.dispute.closed", "lost"),
                    };
                    let obj = dispute(
                        &format!("dp_{sid}"),
                        &format!("ch_{sid}"),
                        &format!("pi_{sid}"),
                        status,
                        *amount,
                    );
                    app.deliver(&format!("evt_{label}"), kind, obj).await;
                }
                5 | 6 => {
                    let (id, _, _) = &donations[pick];
                    let action = ["hide", "unhide", "approve"][rng.random_range(0..3)];
                    let r = app
                        .admin_post(&format!("/api/admin/donations/{id}/{action}"), None)
                        .await;
                    assert_eq!(r.status(), 200, "{label}");
                }
                7 => {
                    let (id, _, _) = &donations[pick];
                    let body = json!({"confirm": true});
                    let r = app
                        .admin_post(&format!("/api/admin/donations/{id}/erase"), Some(body))
                        .await;
                    assert_eq!(r.status(), 200, "{label}");
                }
                _ => {
                    // A Payment Link donation nobody started here.
                    let sid = format!("cs_link_{seed}_{step}");
                    let mut s = session(&sid, "", "paid", "complete", rng.random_range(100..2000));
                    s["metadata"] = json!({});
                    s["client_reference_id"] = json!(null);
                    s["payment_link"] = json!("plink_rand");
                    app.deliver(&format!("evt_{label}"), "checkout.session.completed", s)
                        .await;
                    let row = app.row(&sid).await.expect("recorded");
                    donations.push((row.id, sid, row.amount_cents));
                }
            }
            check_totals(&app, &label).await;
        }
    }
}

#[tokio::test]
async fn jobs_queued_together_commit_together_and_a_failing_one_rolls_back_alone() {
    let app = spawn_app().await;
    let db = app.db.clone();
    let (hold, release) = tokio::sync::oneshot::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    // The first job holds the writer, so the next five queue up behind it.
    let blocker = tokio::spawn({
        let db = db.clone();
        async move {
            db.write(move |_conn| {
                Box::pin(async move {
                    let _ = started.send(());
                    let _ = release.await;
                    Ok::<_, sqlx::Error>(())
                })
            })
            .await
        }
    });
    running.await.unwrap();
    let batches_before = db.committed_batches();
    let mut queued: Vec<_> = (0..5)
        .map(|i| {
            let db = db.clone();
            Box::pin(async move {
                db.write(move |conn| {
                    Box::pin(async move {
                        let key = format!("batch.{i}");
                        kaffeekasse::storage::state::set(conn, &key, "written").await?;
                        if i == 2 {
                            return Err(sqlx::Error::Protocol("job 2 fails on purpose".into()));
                        }
                        Ok(i)
                    })
                })
                .await
            })
        })
        .collect();
    // Polling each once puts its job in the queue (it then waits for its answer).
    for job in &mut queued {
        assert!(futures::poll!(job.as_mut()).is_pending());
    }
    let _ = hold.send(());
    blocker.await.unwrap().unwrap();
    let results = futures::future::join_all(queued).await;

    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.is_ok(), i != 2, "job {i}: {r:?}");
    }
    for i in 0..5 {
        let stored = kaffeekasse::storage::state::get(&app.pool, &format!("batch.{i}"))
            .await
            .unwrap();
        assert_eq!(stored.is_some(), i != 2, "job {i}'s write");
    }
    assert_eq!(
        db.committed_batches() - batches_before,
        2,
        "the blocker's batch, then one batch of five"
    );
}
