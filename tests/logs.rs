//! Secrets never reach the logs: a full run with every log level on, searched for each secret,
//! for every key to a donor (a Checkout Session id, a manage token), for readers' addresses, and
//! for a line a client forged. A test binary of its own, because it installs the process-wide
//! tracing subscriber (the service's own, with its escaping).

#[allow(dead_code, unused_imports)]
#[path = "api/helpers/mod.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use helpers::*;
use serde_json::json;

const STRIPE_KEY: &str = "sk_test_SECRETkey0123456789abcdef";
const ADMIN_TOKEN: &str = "ADMINsecret-0123456789abcdef0123456789";
const SIGNING_SECRET: &str = "SIGNINGsecret-0123456789abcdef0123456789";
const SECOND_WEBHOOK_SECRET: &str = "whsec_SECONDsecret0123456789";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_appears_in_logs_errors_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    // Everything, except the mock Stripe's own log of what it received: the real Stripe is meant
    // to see the key.
    kaffeekasse::telemetry::init_with(
        kaffeekasse::config::LogFormat::Pretty,
        tracing_subscriber::EnvFilter::new("trace,wiremock=off"),
        move || writer.clone(),
    );
    let secrets = format!("{WEBHOOK_SECRET},{SECOND_WEBHOOK_SECRET}");
    let app = spawn_app_with(&[
        ("STRIPE_SECRET_KEY", STRIPE_KEY),
        ("STRIPE_WEBHOOK_SECRET", &secrets),
        ("ADMIN_TOKEN", ADMIN_TOKEN),
        ("SIGNING_SECRET", SIGNING_SECRET),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;

    // A donation through Stripe (mocked), its webhook, a forged webhook, the thanks page.
    let donation = app
        .donation("cs_logs")
        .coffees(2)
        .public("Anna", "Hallo")
        .paid()
        .await;
    let forged = event(
        "evt_forged",
        "checkout.session.completed",
        json!({"id": "cs_logs"}),
        now(),
    );
    app.post_webhook_with(&forged, Some(&sign_now(&forged, &["whsec_wrong"])))
        .await;
    let thanks = app.get("/thanks?session_id=cs_logs").await.text().await.unwrap();
    let start = thanks.find("/manage/").expect("a manage link") + "/manage/".len();
    let manage_token = thanks[start..start + thanks[start..].find('"').unwrap()].to_owned();
    assert_eq!(app.get(&format!("/manage/{manage_token}")).await.status(), 200);
    // Refusals from a reader's address (behind the trusted proxy), one with a forged line in a
    // field's name, one with a hostile query.
    let reader = "198.51.100.77";
    let forged_line = "FORGED: admin logged in";
    let refused = app
        .client
        .post(app.url("/donate"))
        .header("X-Forwarded-For", reader)
        .header("Content-Type", "application/json")
        .body(format!(r#"{{"coffees": 1, "x\n{forged_line}": 1}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    app.post_webhook_with(&forged, Some("t=1,v1=00")).await;
    // Admin: a wrong token, the right one, a session, the export.
    app.client
        .get(app.url("/api/admin/donations"))
        .header("Authorization", "Bearer wrong")
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let csv = app
        .client
        .get(app.url("/api/admin/donations.csv"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let login = app
        .client
        .post(app.url("/admin/login"))
        .header("Origin", &app.address)
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    // Stripe failing: its error must not echo the key into our logs.
    app.post_json("/donate", &json!({"coffees": 1})).await;
    // Configuration errors and Debug output.
    let err = kaffeekasse::config::Settings::from_vars(|k| match k {
        "ADMIN_TOKEN" => Some("short-SECRET".into()),
        _ => None,
    })
    .unwrap_err();
    let debug = format!("{:?} {err} {err:?}", app.settings);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("checkout started") && logs.contains(&donation),
        "the capture works"
    );
    assert!(logs.contains("stripe event processed"));
    assert!(
        logs.contains("donation rejected"),
        "the refusal is logged: {logs}"
    );
    // The test's event id is made from the session id; that one is no key.
    let unkeyed = logs.replace("evt_paid_cs_logs", "evt_paid");
    for key in ["cs_logs", manage_token.as_str(), reader, "203.0.113.9"] {
        if let Some(i) = unkeyed.find(key) {
            let around = &unkeyed[i.saturating_sub(200)..i + key.len()];
            panic!("a key to a donor or an address is in the logs: …{around}…");
        }
    }
    assert!(
        !logs.lines().any(|l| l.starts_with(forged_line)),
        "a client forged a log line"
    );
    assert!(
        logs.contains(&format!("\\n{forged_line}")),
        "it is there, escaped"
    );
    for secret in [
        STRIPE_KEY,
        WEBHOOK_SECRET,
        SECOND_WEBHOOK_SECRET,
        ADMIN_TOKEN,
        SIGNING_SECRET,
        "short-SECRET",
    ] {
        if let Some(i) = logs.find(secret) {
            panic!("a secret is in the logs: …{}…", &logs[i.saturating_sub(200)..i]);
        }
        assert!(!debug.contains(secret), "a secret is in Debug or error output");
    }
}
