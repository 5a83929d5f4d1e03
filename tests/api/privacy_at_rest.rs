//! Personal data at rest: stored events never keep payer details, an erasure reaches events that
//! arrive after it, and no file of the database keeps an erased name.

use serde_json::json;

use crate::helpers::*;

async fn payloads(app: &TestApp) -> String {
    let all: Vec<String> = sqlx::query_scalar("SELECT payload FROM stripe_events")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    all.join("\n")
}

#[tokio::test]
async fn stored_events_keep_ids_amounts_and_metadata_but_no_payer_details() {
    let app = spawn_app().await;
    let id = app.donation("cs_pay").coffees(2).paid().await;
    let mut refund = charge("ch_pay", &id, "pi_cs_pay", 1000, 300);
    refund["receipt_email"] = json!("jenny@example.org");
    refund["shipping"] = json!({"name": "Jenny Shipping", "address": {"city": "Köln"}});
    app.deliver("evt_refund", "charge.refunded", refund).await;
    let mut disputed = dispute("dp_pay", "ch_pay", "pi_cs_pay", "needs_response", 1000);
    disputed["evidence"]["customer_name"] = json!("Jenny Evidence");
    app.deliver("evt_dispute", "charge.dispute.created", disputed)
        .await;

    let stored = payloads(&app).await;

    for secret in [
        "example@example.com",
        "Jenny Rosen",
        "AOB934RVNwzk6xtn",
        "jenny@example.org",
        "Jenny Shipping",
        "Jenny Evidence",
    ] {
        assert!(!stored.contains(secret), "{secret} was stored");
    }
    for kept in ["ch_pay", "pi_cs_pay", "\"amount_refunded\":300", &id, "dp_pay"] {
        assert!(
            stored.contains(kept),
            "{kept} is needed for replay and accounting"
        );
    }
    let row = app.row("cs_pay").await.unwrap();
    assert_eq!((row.status.as_str(), row.refunded_cents), ("disputed", 300));
}

#[tokio::test]
async fn events_arriving_after_an_erasure_are_stored_as_the_erasure_left_the_rest() {
    let app = spawn_app_with(&[("STRIPE_PAYMENT_LINKS", "plink_kaffee")]).await;
    let link_session = |status: &str, payment_status: &str| {
        let mut s = fixture("checkout.session");
        for (k, v) in [
            ("id", json!("cs_link")),
            ("payment_link", json!("plink_kaffee")),
            ("metadata", json!({})),
            ("status", json!(status)),
            ("payment_status", json!(payment_status)),
            ("amount_total", json!(500)),
            ("currency", json!("eur")),
            ("currency_conversion", json!(null)),
            ("payment_intent", json!("pi_link")),
            (
                "custom_fields",
                json!([{"key": "name", "type": "text", "text": {"value": "Quirin Zettelkasten"}}]),
            ),
        ] {
            s[k] = v;
        }
        s
    };
    app.deliver(
        "evt_link_done",
        "checkout.session.completed",
        link_session("complete", "unpaid"),
    )
    .await;
    let id = app.row("cs_link").await.unwrap().id;
    // The donor erases their data (as the manage link does).
    app.db
        .write(move |conn| {
            Box::pin(async move { kaffeekasse::storage::admin::erase(conn, &id, now()).await })
        })
        .await
        .unwrap();
    assert!(
        !payloads(&app).await.contains("Quirin"),
        "erasure scrubbed the first event"
    );

    // The SEPA payment succeeds a few days later, and the payer then asks for a refund.
    app.deliver(
        "evt_link_paid",
        "checkout.session.async_payment_succeeded",
        link_session("complete", "paid"),
    )
    .await;
    let mut refund = charge("ch_link", "", "pi_link", 500, 500);
    refund["metadata"] = json!({});
    refund["billing_details"]["name"] = json!("Quirin Billing");
    app.deliver("evt_link_refund", "charge.refunded", refund).await;

    let stored = payloads(&app).await;
    assert!(!stored.contains("Quirin"), "{stored}");
    let row = app.row("cs_link").await.unwrap();
    assert_eq!((row.status.as_str(), row.name), ("refunded", None));
}

#[tokio::test]
async fn an_erased_name_is_in_no_file_of_the_database() {
    let app = TestApp::with_admin(&[]).await;
    let name = "Xaverine Quokkaschwanz";
    let id = app
        .donation("cs_gone")
        .public(name, "Grüße vom Quokka")
        .paid()
        .await;
    // More rows around it, as in a real jar, so the page is shared.
    for i in 0..5 {
        app.donation(&format!("cs_other_{i}"))
            .public("Anna", "Danke")
            .paid()
            .await;
    }
    let contains = in_database_files(&app);
    assert!(contains(name), "the name is stored before the erasure");

    let erased = app
        .admin_post(
            &format!("/api/admin/donations/{id}/erase"),
            Some(json!({"confirm": true})),
        )
        .await;

    assert_eq!(erased.status(), 200);
    assert!(!contains(name), "an erased name stays in a database file");
    assert!(!contains("Quokka"), "the message too");
}

/// A reader holding an old snapshot (Litestream's, a backup) holds the checkpoint back. Once it
/// lets go, the erased name leaves the WAL even if no other write ever comes.
#[tokio::test]
async fn an_erased_name_leaves_the_wal_after_a_reader_lets_go_even_when_the_jar_is_idle() {
    let app = TestApp::with_admin(&[("DATABASE_BUSY_TIMEOUT_MS", "50")]).await;
    let name = "Ottilie Wombatpfote";
    let id = app.donation("cs_held").public(name, "Servus").paid().await;
    let in_files = in_database_files(&app);
    let contains = move || in_files(name);
    let mut reader = app.pool.acquire().await.expect("a reader");
    sqlx::raw_sql("BEGIN; SELECT count(*) FROM donations;")
        .execute(&mut *reader)
        .await
        .expect("the reader holds a snapshot");

    let erased = app
        .admin_post(
            &format!("/api/admin/donations/{id}/erase"),
            Some(json!({"confirm": true})),
        )
        .await;
    assert_eq!(erased.status(), 200);
    assert!(contains(), "the reader's snapshot keeps the old frames");

    sqlx::raw_sql("COMMIT")
        .execute(&mut *reader)
        .await
        .expect("the reader lets go");
    drop(reader);
    // The writer retries 5 s after the checkpoint was held back, then 10 s after that.
    let limit = std::time::Duration::from_secs(30);
    eventually_within(
        limit,
        "the held-back checkpoint completes without another write",
        || {
            let gone = !contains();
            async move { gone }
        },
    )
    .await;
}

#[tokio::test]
async fn the_csv_quotes_every_field_and_has_a_german_excel_flavour() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_semi").public("Anna", "Danke;=2+3;").paid().await;

    let plain = app
        .admin_get("/api/admin/donations.csv")
        .await
        .text()
        .await
        .unwrap();
    let excel = app
        .admin_get("/api/admin/donations.csv?format=excel-de")
        .await
        .text()
        .await
        .unwrap();
    let bad = app.admin_get("/api/admin/donations.csv?format=xlsx").await;

    assert!(plain.contains("\"Danke;=2+3;\""), "{plain}");
    assert!(plain.lines().all(|l| l.starts_with('"')), "every field quoted");
    let excel = excel.strip_prefix('\u{feff}').expect("a BOM for Excel");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(excel.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(row.len(), headers.len(), "the semicolons stay inside their cell");
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&row[column("Nachricht")], "Danke;=2+3;");
    assert_eq!(&row[column("Betrag")], "5,00", "euros with a decimal comma");
    assert_eq!(&row[column("Netto")], "5,00");
    assert_eq!(&row[column("Status")], "bezahlt");
    assert_eq!(&row[column("Verborgen")], "nein");
    assert!(!headers.iter().any(|h| h.ends_with("_cents")), "{headers:?}");
    assert!(
        plain.starts_with("\"id\",\"created_at\""),
        "the plain CSV keeps its columns"
    );
    assert_eq!(bad.status(), 400);
}
