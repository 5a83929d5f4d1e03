//! Reconciliation against a wiremock Events API.

use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;
use kaffeekasse::payments::stripe::StripeProvider;
use kaffeekasse::webhook::apply::Rules;

#[tokio::test]
async fn reconciliation_records_missed_donations_exactly_once_across_two_pages_even_when_run_twice() {
    let app = spawn_app().await;
    let d1 = app.create_donation("cs_test_rc1", 1, false).await;
    let d2 = app.create_donation("cs_test_rc2", 2, false).await;
    let d3 = app.create_donation("cs_test_rc3", 3, false).await;
    let t = now() - 600;
    let raw = |id: &str, sid: &str, d: &str, amount: i64| -> serde_json::Value {
        serde_json::from_str(&event(
            id,
            "checkout.session.completed",
            session(sid, d, "paid", "complete", amount),
            t,
        ))
        .unwrap()
    };
    // Stripe lists newest first; page 2 is requested with starting_after = the last id of page 1.
    Mock::given(method("GET"))
        .and(path("/v1/events"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/events", "has_more": true,
            "data": [raw("evt_rc3", "cs_test_rc3", &d3, 1500), raw("evt_rc2", "cs_test_rc2", &d2, 1000)],
        })))
        .mount(&app.stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/events"))
        .and(query_param("starting_after", "evt_rc2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/events", "has_more": false,
            "data": [raw("evt_rc1", "cs_test_rc1", &d1, 500)],
        })))
        .mount(&app.stripe)
        .await;
    let stripe = match &app.settings.payment {
        kaffeekasse::config::PaymentSettings::Stripe(s) => StripeProvider::new(s).unwrap(),
        _ => unreachable!("tests run in Stripe mode"),
    };
    let rules = Rules::from_settings(&app.settings);
    // One of the three already arrived by webhook.
    app.post_webhook(&event(
        "evt_rc2",
        "checkout.session.completed",
        session("cs_test_rc2", &d2, "paid", "complete", 1000),
        t,
    ))
    .await;

    let first = kaffeekasse::reconcile::run(&app.pool, &rules, &stripe, false, Some(t - 60))
        .await
        .unwrap();
    let second = kaffeekasse::reconcile::run(&app.pool, &rules, &stripe, false, None)
        .await
        .unwrap();

    assert_eq!((first.listed, first.new), (3, 2));
    assert_eq!((second.listed, second.new), (3, 0));
    for sid in ["cs_test_rc1", "cs_test_rc2", "cs_test_rc3"] {
        assert_eq!(app.donation(sid).await.unwrap().status, "paid", "{sid}");
    }
    assert_eq!(app.count("stripe_events").await, 3);
    assert_eq!(app.count("donations").await, 3);
    let requests = app.stripe.received_requests().await.unwrap();
    let list = requests.iter().find(|r| r.url.path() == "/v1/events").unwrap();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(list.url.query().unwrap()).unwrap();
    assert!(
        query.contains(&("created[gte]".into(), (t - 60).to_string())),
        "{query:?}"
    );
    assert!(
        query
            .iter()
            .any(|(k, v)| k.starts_with("types[") && v == "charge.refunded"),
        "{query:?}"
    );
    // The second run starts from the stored cursor minus the overlap.
    let last = requests
        .iter()
        .rev()
        .find(|r| r.url.path() == "/v1/events")
        .unwrap();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(last.url.query().unwrap()).unwrap();
    assert!(
        query.contains(&("created[gte]".into(), (t - 3600).to_string())),
        "{query:?}"
    );
}

#[tokio::test]
async fn an_unreadable_event_in_the_list_is_skipped_and_paging_moves_on() {
    let app = spawn_app().await;
    let d = app.create_donation("cs_test_rcx", 1, false).await;
    let good: serde_json::Value = serde_json::from_str(&event(
        "evt_good",
        "checkout.session.completed",
        session("cs_test_rcx", &d, "paid", "complete", 500),
        now(),
    ))
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/v1/events"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": true, "data": [{"id": "evt_unreadable", "object": "event"}],
        })))
        .mount(&app.stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/events"))
        .and(query_param("starting_after", "evt_unreadable"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "list", "has_more": false, "data": [good]})),
        )
        .mount(&app.stripe)
        .await;
    let stripe = match &app.settings.payment {
        kaffeekasse::config::PaymentSettings::Stripe(s) => StripeProvider::new(s).unwrap(),
        _ => unreachable!("tests run in Stripe mode"),
    };
    let rules = Rules::from_settings(&app.settings);

    let report = kaffeekasse::reconcile::run(&app.pool, &rules, &stripe, false, Some(now() - 60))
        .await
        .unwrap();

    assert_eq!((report.listed, report.new, report.skipped), (2, 1, 1));
    assert_eq!(app.donation("cs_test_rcx").await.unwrap().status, "paid");
}
