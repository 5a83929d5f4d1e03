//! `app.donation("cs_anna").coffees(2).public("Anna", "Weiter so!").paid().await`: a donation
//! started through `POST /donate` (Stripe mocked) and, if asked, paid through a signed webhook.

use serde_json::json;

use super::{TestApp, session};

pub struct DonationBuilder<'a> {
    app: &'a TestApp,
    session_id: String,
    coffees: u32,
    name: String,
    message: String,
    public: bool,
}

impl TestApp {
    /// A donation whose Checkout Session will be `session_id`: one anonymous coffee by default.
    pub fn donation(&self, session_id: &str) -> DonationBuilder<'_> {
        DonationBuilder {
            app: self,
            session_id: session_id.to_owned(),
            coffees: 1,
            name: String::new(),
            message: String::new(),
            public: false,
        }
    }
}

impl DonationBuilder<'_> {
    pub fn coffees(mut self, n: u32) -> Self {
        self.coffees = n;
        self
    }

    /// Name and message, shown on the wall.
    pub fn public(mut self, name: &str, message: &str) -> Self {
        (self.name, self.message, self.public) = (name.to_owned(), message.to_owned(), true);
        self
    }

    /// Name and message given, but not to be shown.
    pub fn named(mut self, name: &str, message: &str) -> Self {
        (self.name, self.message, self.public) = (name.to_owned(), message.to_owned(), false);
        self
    }

    /// Starts the checkout; returns the pending donation's id.
    pub async fn create(self) -> String {
        let app = self.app;
        app.stripe.session_created(&self.session_id).await;
        let body = json!({"coffees": self.coffees, "name": self.name, "message": self.message, "public": self.public});
        let response = app.post_json("/donate", &body).await;
        assert_eq!(
            response.status(),
            200,
            "donate should succeed for {:?}",
            self.name
        );
        app.row(&self.session_id).await.expect("donation row").id
    }

    /// Starts the checkout and delivers Stripe's `checkout.session.completed` (paid); returns the
    /// donation's id.
    pub async fn paid(self) -> String {
        let (app, session_id) = (self.app, self.session_id.clone());
        let amount = app.price() * i64::from(self.coffees);
        let id = self.create().await;
        let object = session(&session_id, &id, "paid", "complete", amount);
        app.deliver(
            &format!("evt_paid_{session_id}"),
            "checkout.session.completed",
            object,
        )
        .await;
        id
    }
}
