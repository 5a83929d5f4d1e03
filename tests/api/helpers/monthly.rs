//! Monthly coffees on Stripe's side: subscription-mode sessions, subscriptions, invoices and
//! invoice payments built from Stripe's fixtures (2025 shapes: an invoice names its subscription
//! under `parent.subscription_details`), and the Billing API mocked.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::{StripeMock, TestApp, fixture};

const DAY: i64 = 86_400;

fn patch(mut object: Value, fields: Value) -> Value {
    if let (Some(target), Value::Object(fields)) = (object.as_object_mut(), fields) {
        target.extend(fields);
    }
    object
}

/// Our subscription's metadata, as `subscription_data[metadata]` put it.
pub fn ours(donation_id: &str, coffees: i64) -> Value {
    json!({"donation_id": donation_id, "kaffeekasse": "1", "coffees": coffees.to_string()})
}

/// One monthly coffee's ids and size, for building its events.
#[derive(Clone)]
pub struct Sub {
    pub donation_id: String,
    pub session_id: String,
    pub id: String,
    pub customer: String,
    pub coffees: i64,
    pub amount: i64,
    /// When the first month started.
    pub start: i64,
}

impl Sub {
    pub fn new(donation_id: &str, session_id: &str, coffees: i64, price: i64) -> Sub {
        Sub {
            donation_id: donation_id.to_owned(),
            session_id: session_id.to_owned(),
            id: format!("sub_{session_id}"),
            customer: format!("cus_{session_id}"),
            coffees,
            amount: coffees * price,
            start: super::now() - 40 * DAY,
        }
    }

    /// The start of month `n` (0: the first).
    pub fn month(&self, n: i64) -> i64 {
        self.start + n * 30 * DAY
    }

    pub fn invoice_id(&self, n: i64) -> String {
        format!("in_{}_{n}", self.session_id)
    }

    /// The checkout completed in `subscription` mode (`paid` or `unpaid` for SEPA), with the
    /// reader's e-mail address as Stripe collects it.
    pub fn session(&self, payment_status: &str, email: Option<&str>) -> Value {
        patch(
            fixture("checkout.session"),
            json!({
                "id": self.session_id, "mode": "subscription", "status": "complete",
                "payment_status": payment_status, "amount_total": self.amount, "amount_subtotal": self.amount,
                "currency": "eur", "client_reference_id": self.donation_id,
                "metadata": ours(&self.donation_id, self.coffees), "payment_intent": null,
                "subscription": self.id, "invoice": self.invoice_id(0), "customer": self.customer,
                "submit_type": "subscribe", "currency_conversion": null,
                "customer_details": email.map(|e| json!({"email": e, "name": "Anna Beispiel"})),
            }),
        )
    }

    /// The subscription in `status`, its current period ending at `period_end`.
    pub fn subscription(&self, status: &str, period_end: i64, extra: Value) -> Value {
        let mut sub = patch(
            fixture("subscription"),
            json!({
                "id": self.id, "status": status, "customer": self.customer,
                "metadata": ours(&self.donation_id, self.coffees), "cancel_at_period_end": false,
                "cancel_at": null, "canceled_at": null, "ended_at": null,
                "cancellation_details": {"comment": null, "feedback": null, "reason": null},
                "items": {"object": "list", "data": [{"object": "subscription_item", "id": "si_1",
                          "current_period_end": period_end, "quantity": self.coffees}]},
            }),
        );
        if let (Some(t), Value::Object(f)) = (sub.as_object_mut(), extra) {
            t.extend(f);
        }
        sub
    }

    /// Month `n`'s invoice in `status` (`paid`, `open` after a failed debit, `void`).
    pub fn invoice(&self, n: i64, status: &str) -> Value {
        let (start, end) = (self.month(n), self.month(n + 1));
        let paid = if status == "paid" { self.amount } else { 0 };
        patch(
            fixture("invoice"),
            json!({
                "id": self.invoice_id(n), "status": status, "currency": "eur", "customer": self.customer,
                "billing_reason": if n == 0 { "subscription_create" } else { "subscription_cycle" },
                "amount_due": self.amount, "amount_paid": paid, "subscription": null,
                "customer_email": "anna@example.org", "customer_name": "Anna Beispiel",
                "parent": {"type": "subscription_details", "quote_details": null, "subscription_details": {
                    "subscription": self.id, "metadata": ours(&self.donation_id, self.coffees)}},
                "status_transitions": {"paid_at": if status == "paid" { json!(start) } else { json!(null) },
                    "finalized_at": start, "marked_uncollectible_at": null, "voided_at": null},
                "lines": {"object": "list", "data": [{"object": "line_item", "id": format!("il_{n}"),
                    "amount": self.amount, "quantity": self.coffees, "period": {"start": start, "end": end}}]},
            }),
        )
    }

    /// What paid month `n`: its payment intent `pi_<invoice>`.
    pub fn invoice_payment(&self, n: i64) -> Value {
        patch(
            fixture("invoice_payment"),
            json!({
                "id": format!("inpay_{n}"), "invoice": self.invoice_id(n), "status": "paid",
                "currency": "eur", "amount_paid": self.amount,
                "payment": {"type": "payment_intent", "payment_intent": self.payment_intent(n)},
            }),
        )
    }

    pub fn payment_intent(&self, n: i64) -> String {
        format!("pi_{}", self.invoice_id(n))
    }

    /// Month `n`'s charge, refunded by `refunded` cents (no metadata: Stripe copies none).
    pub fn charge(&self, n: i64, refunded: i64) -> Value {
        patch(
            fixture("charge"),
            json!({
                "id": format!("ch_{}", self.invoice_id(n)), "amount": self.amount, "amount_captured": self.amount,
                "amount_refunded": refunded, "refunded": refunded >= self.amount, "captured": true,
                "currency": "eur", "payment_intent": self.payment_intent(n), "metadata": {},
                "refunds": null,
            }),
        )
    }
}

impl TestApp {
    /// Starts a monthly checkout of `coffees` through `POST /donate`; its session will be
    /// `session_id`. Returns the donation's id.
    pub async fn monthly(&self, session_id: &str, coffees: i64, extra: Value) -> Sub {
        self.stripe.session_created(session_id).await;
        let mut body = json!({"coffees": coffees, "interval": "month"});
        if let (Some(t), Value::Object(f)) = (body.as_object_mut(), extra) {
            t.extend(f);
        }
        let response = self.post_json("/donate", &body).await;
        assert_eq!(response.status(), 200, "a monthly checkout starts");
        let id = self.row(session_id).await.expect("the pending row").id;
        Sub::new(&id, session_id, coffees, self.price())
    }

    /// Delivers the first month: the completed session, the subscription, the paid invoice and
    /// its payment.
    pub async fn first_month(&self, sub: &Sub, email: Option<&str>) {
        let n = &sub.session_id;
        self.deliver(
            &format!("evt_s_{n}"),
            "checkout.session.completed",
            sub.session("paid", email),
        )
        .await;
        self.deliver(
            &format!("evt_c_{n}"),
            "customer.subscription.created",
            sub.subscription("active", sub.month(1), json!({})),
        )
        .await;
        self.renewal(sub, 0).await;
    }

    /// Delivers month `n` paid: the invoice, its payment, the subscription moved on.
    pub async fn renewal(&self, sub: &Sub, n: i64) {
        let s = &sub.session_id;
        self.deliver(&format!("evt_i{n}_{s}"), "invoice.paid", sub.invoice(n, "paid"))
            .await;
        self.deliver(
            &format!("evt_p{n}_{s}"),
            "invoice_payment.paid",
            sub.invoice_payment(n),
        )
        .await;
        self.deliver(
            &format!("evt_a{n}_{s}"),
            "customer.subscription.updated",
            sub.subscription("active", sub.month(n + 1), json!({})),
        )
        .await;
    }

    /// The keyed hashes of the checkout addresses monthly coffee `donation_id` was paid with.
    pub async fn email_hashes(&self, donation_id: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT hash FROM email_hashes WHERE donation_id = ?1")
            .bind(donation_id)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    /// One column of a donation row, as text (or `None` for NULL).
    pub async fn column(&self, donation_id: &str, column: &str) -> Option<String> {
        let allowed = [
            "status",
            "coffees",
            "amount_cents",
            "refunded_cents",
            "subscription_id",
            "customer_id",
            "ended_at",
            "ended_reason",
            "paid_through",
            "renewal_failed",
            "sub_status",
            "cancel_at_period_end",
            "name",
            "erased_at",
            "interval",
        ];
        assert!(allowed.contains(&column), "{column}");
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT CAST({column} AS TEXT) FROM donations WHERE id = ?1"
        )))
        .bind(donation_id)
        .fetch_one(&self.pool)
        .await
        .expect("a donation column")
    }
}

impl StripeMock {
    /// Cancelling `sub` at once (`DELETE /v1/subscriptions/{id}`) answers `response`, `times` times.
    pub async fn cancel_answers(&self, sub: &str, response: ResponseTemplate, times: u64) {
        self.subscription_answers("DELETE", sub, response, times).await;
    }

    /// Updating `sub` (cancel at period end) answers `response`, `times` times.
    pub async fn update_answers(&self, sub: &str, response: ResponseTemplate, times: u64) {
        self.subscription_answers("POST", sub, response, times).await;
    }

    /// Asking for `sub` (`GET`) answers `response`, `times` times.
    pub async fn retrieve_answers(&self, sub: &str, response: ResponseTemplate, times: u64) {
        self.subscription_answers("GET", sub, response, times).await;
    }

    /// `verb /v1/subscriptions/{sub}` answers `response`, exactly `times` times.
    async fn subscription_answers(&self, verb: &str, sub: &str, response: ResponseTemplate, times: u64) {
        Mock::given(method(verb))
            .and(path(format!("/v1/subscriptions/{sub}")))
            .respond_with(response)
            .up_to_n_times(times)
            .expect(times)
            .mount(&self.server)
            .await;
    }

    /// The bodies of the requests to `path`, in order, as received.
    pub async fn bodies(&self, to: &str) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == to)
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect()
    }

    /// The idempotency keys of the requests to `path`, in order.
    pub async fn keys_to(&self, to: &str) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == to)
            .filter_map(|r| {
                r.headers
                    .get("idempotency-key")
                    .and_then(|k| k.to_str().ok())
                    .map(str::to_owned)
            })
            .collect()
    }
}
