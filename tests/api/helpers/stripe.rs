//! Stripe's side: a wiremock server that answers like Stripe's API, and realistic objects built
//! from Stripe's published fixtures, wrapped and signed as Stripe sends them.

use std::sync::OnceLock;

use kaffeekasse::webhook::signature;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A list request whose `types[]` include `kind`, and no more than Stripe takes (20).
fn asks_for(kind: &'static str) -> impl Fn(&wiremock::Request) -> bool + Send + Sync {
    move |r: &wiremock::Request| {
        let types: Vec<String> = r
            .url
            .query_pairs()
            .filter(|(k, _)| k.starts_with("types["))
            .map(|(_, v)| v.into_owned())
            .collect();
        types.len() <= 20 && types.iter().any(|t| t == kind)
    }
}

/// Stripe's API. Every helper mounts a mock with `.expect(n)`: when the test ends, a call that
/// was expected and not made (or made too often) fails it.
pub struct StripeMock {
    pub server: MockServer,
}

impl StripeMock {
    pub async fn start() -> Self {
        StripeMock {
            server: MockServer::start().await,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Stripe creates the Checkout Session `id`, once.
    pub async fn session_created(&self, id: &str) {
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(created_session(id)))
            .up_to_n_times(1)
            .expect(1)
            .mount(&self.server)
            .await;
    }

    /// Stripe creates exactly `times` sessions, each with a fresh id.
    pub async fn sessions_created(&self, times: u64) {
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(|_: &wiremock::Request| {
                let id = format!("cs_test_{}", uuid::Uuid::new_v4().simple());
                ResponseTemplate::new(200).set_body_json(created_session(&id))
            })
            .expect(times)
            .mount(&self.server)
            .await;
    }

    /// Session creation is answered with `response`, exactly `times` times.
    pub async fn session_creation_answers(&self, response: ResponseTemplate, times: u64) {
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(response)
            .up_to_n_times(times)
            .expect(times)
            .mount(&self.server)
            .await;
    }

    /// Retrieving session `id` answers `session`, exactly `times` times.
    pub async fn session_replies(&self, id: &str, session: Value, times: u64) {
        Mock::given(method("GET"))
            .and(path(format!("/v1/checkout/sessions/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(session))
            .expect(times)
            .mount(&self.server)
            .await;
    }

    /// One page of the Events API: the first page (`after` is `None`) or the page after an id.
    /// A page of the Events API for the first group of event types (Stripe takes 20 per
    /// request); a first page (`after` none) also expects each later group to be asked once per
    /// run, answered with no events.
    pub async fn events_page(&self, after: Option<&str>, events: Vec<Value>, has_more: bool, times: u64) {
        let mut groups = kaffeekasse::reconcile::type_groups();
        let first = groups.next().unwrap()[0];
        if after.is_none() {
            for group in groups {
                Mock::given(method("GET"))
                    .and(path("/v1/events"))
                    .and(asks_for(group[0]))
                    .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                        "object": "list", "url": "/v1/events", "has_more": false, "data": [],
                    })))
                    .expect(times)
                    .mount(&self.server)
                    .await;
            }
        }
        let mock = Mock::given(method("GET"))
            .and(path("/v1/events"))
            .and(asks_for(first));
        let mock = match after {
            Some(id) => mock.and(query_param("starting_after", id)),
            None => mock.and(query_param_is_missing("starting_after")),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/events", "has_more": has_more, "data": events,
        })))
        .expect(times)
        .mount(&self.server)
        .await;
    }

    /// The idempotency key of every POST Stripe received, in order.
    pub async fn idempotency_keys(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned())
            .collect()
    }

    /// How many requests Stripe has received so far.
    pub async fn calls(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| r.len())
    }
}

/// What Stripe answers to a session creation: an open session with its hosted page.
pub fn created_session(id: &str) -> Value {
    let mut session = fixture("checkout.session");
    session["id"] = json!(id);
    session["url"] = json!(format!("https://checkout.stripe.com/c/pay/{id}"));
    session
}

/// An object from Stripe's published OpenAPI fixtures (tests/fixtures/stripe/objects.json).
pub fn fixture(name: &str) -> Value {
    static FIXTURES: OnceLock<Value> = OnceLock::new();
    let all = FIXTURES.get_or_init(|| {
        serde_json::from_str(include_str!("../../fixtures/stripe/objects.json")).expect("fixtures parse")
    });
    all["resources"][name].clone()
}

fn patch(mut object: Value, fields: Value) -> Value {
    if let (Some(target), Value::Object(fields)) = (object.as_object_mut(), fields) {
        target.extend(fields);
    }
    object
}

/// A `checkout.session` of ours: `payment_status` `paid` or `unpaid`, `status` `complete`/`expired`.
pub fn session(id: &str, donation_id: &str, payment_status: &str, status: &str, amount: i64) -> Value {
    patch(
        fixture("checkout.session"),
        json!({
            "id": id, "payment_status": payment_status, "status": status, "amount_total": amount,
            "amount_subtotal": amount, "currency": "eur", "client_reference_id": donation_id,
            "metadata": {"donation_id": donation_id, "kaffeekasse": "1"},
            "payment_intent": format!("pi_{id}"), "submit_type": "donate",
            // Adaptive Pricing is off for our sessions, so there is no conversion.
            "currency_conversion": null, "adaptive_pricing": {"enabled": false},
        }),
    )
}

pub fn charge(id: &str, donation_id: &str, payment_intent: &str, amount: i64, refunded: i64) -> Value {
    patch(
        fixture("charge"),
        json!({
            "id": id, "amount": amount, "amount_captured": amount, "amount_refunded": refunded,
            "refunded": refunded >= amount, "captured": true, "currency": "eur",
            "payment_intent": payment_intent, "metadata": {"donation_id": donation_id},
        }),
    )
}

/// A dispute references its charge and payment intent; its own metadata is empty, as on Stripe.
pub fn dispute(id: &str, charge: &str, payment_intent: &str, status: &str, amount: i64) -> Value {
    patch(
        fixture("dispute"),
        json!({"id": id, "charge": charge, "payment_intent": payment_intent, "status": status,
               "amount": amount, "currency": "eur"}),
    )
}

/// Wraps `object` in an event envelope, as Stripe delivers it.
pub fn event(id: &str, kind: &str, object: Value, created: i64) -> String {
    let envelope = patch(
        fixture("event"),
        json!({
            "id": id, "type": kind, "created": created, "livemode": false,
            "api_version": "2025-09-30.clover", "data": {"object": object},
        }),
    );
    envelope.to_string()
}

pub fn now() -> i64 {
    kaffeekasse::storage::now()
}

pub fn sign_now(body: &str, secrets: &[&str]) -> String {
    sign_at(body, secrets, now())
}

pub fn sign_at(body: &str, secrets: &[&str], timestamp: i64) -> String {
    let secrets: Vec<SecretString> = secrets
        .iter()
        .map(|s| SecretString::from(s.to_string()))
        .collect();
    let refs: Vec<&SecretString> = secrets.iter().collect();
    signature::sign(body.as_bytes(), &refs, timestamp)
}

/// A paid €10 session of Payment Link `link`, without our metadata.
pub fn link_session(id: &str, link: &str) -> Value {
    let mut s = fixture("checkout.session");
    for (k, v) in [
        ("id", json!(id)),
        ("payment_link", json!(link)),
        ("metadata", json!({})),
        ("status", json!("complete")),
        ("payment_status", json!("paid")),
        ("amount_total", json!(1000)),
        ("currency", json!("eur")),
        ("currency_conversion", json!(null)),
        ("mode", json!("payment")),
    ] {
        s[k] = v;
    }
    s
}
