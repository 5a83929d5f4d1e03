//! The blogger's signed notification webhook, received by a mock server.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{TestApp, spawn_app_with};

/// An app whose notifications go to a webhook receiver, and that receiver.
pub async fn app_notifying_a_hook() -> (TestApp, MockServer) {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hook)
        .await;
    let app = spawn_app_with(&[
        ("NOTIFY_WEBHOOK_URL", &format!("{}/hook", hook.uri())),
        (
            "NOTIFY_WEBHOOK_SECRET",
            "notify-secret-0123456789abcdef0123456789",
        ),
    ])
    .await;
    (app, hook)
}

/// The `type` of every notification the receiver got so far, sorted.
pub async fn notified_kinds(hook: &MockServer) -> Vec<String> {
    let mut kinds: Vec<String> = hook
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            r.body_json::<Value>().unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    kinds.sort();
    kinds
}
