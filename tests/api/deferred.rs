//! Deferred events are found by the ids they wait for (#20), not by re-reading the oldest 500:
//! however many unrelated events wait (a shop's refunds on a shared account), an event that
//! teaches the database an id settles exactly those waiting for it.

use crate::helpers::*;

#[tokio::test]
async fn a_refund_waiting_behind_six_hundred_unrelated_ones_is_settled_when_its_payment_arrives() {
    let app = spawn_app().await;
    let t = now();
    // 600 refunds of charges that carry a donation id we do not know (yet), older than ours.
    for i in 0..600 {
        let other = charge(
            &format!("ch_other_{i}"),
            &format!("unknown-{i}"),
            &format!("pi_other_{i}"),
            500,
            500,
        );
        let body = event(&format!("evt_other_{i}"), "charge.refunded", other, t - 600 + i);
        assert_eq!(app.post_webhook(&body).await.status(), 200);
    }
    // Ours: a refund of a donation whose row is not there yet (it comes with its session, as
    // after a restored backup), so it waits too.
    let id = "d-behind";
    let ours = charge("ch_behind", id, "pi_cs_behind", 500, 500);
    app.deliver("evt_refund_behind", "charge.refunded", ours).await;
    assert_eq!(
        app.event_status("evt_refund_behind").await.as_deref(),
        Some("deferred")
    );

    let paid = session("cs_behind", id, "paid", "complete", 500);
    app.post_webhook(&event(
        "evt_paid_behind",
        "checkout.session.completed",
        paid,
        t + 1,
    ))
    .await;

    assert_eq!(
        app.event_status("evt_refund_behind").await.as_deref(),
        Some("applied")
    );
    assert_eq!(app.row("cs_behind").await.unwrap().status, "refunded");
    let waiting: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deferred_keys WHERE event_id = 'evt_refund_behind'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(waiting, 0, "a settled event waits for nothing");
    assert_eq!(
        app.event_status("evt_other_0").await.as_deref(),
        Some("deferred"),
        "the others wait on"
    );
}
