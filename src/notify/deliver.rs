//! Sending one composed notification on one channel. Each send has a timeout; an answer other
//! than 2xx (or 250 from the mail server) is a failure, retried later by the sender.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use serde_json::json;

use super::message::Composed;
use crate::config::NotifySettings;
use crate::domain::Channel;
use crate::storage;
use crate::storage::outbox::Notification;
use crate::webhook::signature;

const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Targets {
    settings: NotifySettings,
    http: reqwest::Client,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Targets {
    pub fn new(settings: NotifySettings) -> anyhow::Result<Targets> {
        let smtp = match &settings.email {
            Some(email) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(email.smtp_url())?
                    .timeout(Some(TIMEOUT))
                    .build(),
            ),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("Kaffeekasse/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Targets { settings, http, smtp })
    }

    pub fn settings(&self) -> &NotifySettings {
        &self.settings
    }

    /// Sends `c` on `n`'s channel. The error is short and carries no response body (a receiver's
    /// answer might echo what we sent).
    pub async fn deliver(&self, n: &Notification, c: &Composed) -> Result<(), String> {
        match n.channel {
            Channel::Ntfy => self.ntfy(c).await,
            Channel::Webhook => self.webhook(c).await,
            Channel::Email => self.email(n, c).await,
        }
    }

    async fn ntfy(&self, c: &Composed) -> Result<(), String> {
        let ntfy = self.settings.ntfy.as_ref().ok_or(NOT_CONFIGURED)?;
        // JSON publishing to the server, which takes UTF-8 titles (headers would need encoding).
        let body = json!({ "topic": ntfy.topic, "title": c.title, "message": c.body, "tags": ["coffee"] });
        let mut request = self.http.post(&ntfy.server).json(&body);
        if let Some(token) = &ntfy.token {
            request = request.bearer_auth(token.expose_secret());
        }
        answered(request.send().await)
    }

    async fn webhook(&self, c: &Composed) -> Result<(), String> {
        let target = self.settings.webhook.as_ref().ok_or(NOT_CONFIGURED)?;
        let body = c.json.to_string();
        // Stripe's scheme: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
        let signed = signature::sign(body.as_bytes(), &[&target.secret], storage::now());
        let request = self
            .http
            .post(target.url.expose_secret())
            .header("Content-Type", "application/json")
            .header("Kaffeekasse-Signature", signed)
            .header("Kaffeekasse-Id", c.json["id"].as_str().unwrap_or_default())
            .body(body);
        answered(request.send().await)
    }

    async fn email(&self, n: &Notification, c: &Composed) -> Result<(), String> {
        let to = self.settings.email.as_ref().ok_or(NOT_CONFIGURED)?.to.clone();
        // The same id on every attempt: mail clients can drop a repeat.
        self.mail(&to, &c.title, &c.body, &n.id)
            .await
            .map_err(|f| f.message)
    }

    /// Whether e-mail can be sent at all (`NOTIFY_EMAIL_*` configured).
    pub fn can_mail(&self) -> bool {
        self.settings.email.is_some() && self.smtp.is_some()
    }

    /// A plain-text e-mail from the configured sender to `to` (the blogger, or a reader's
    /// confirmation), with a stable message id.
    pub async fn mail(&self, to: &str, subject: &str, body: &str, id: &str) -> Result<(), MailFailure> {
        let permanent = |message: String| MailFailure {
            message,
            permanent: true,
        };
        let (email, smtp) = match (&self.settings.email, &self.smtp) {
            (Some(e), Some(s)) => (e, s),
            _ => return Err(permanent(NOT_CONFIGURED.to_owned())),
        };
        let parse = |raw: &str| raw.parse().map_err(|e| permanent(format!("address: {e}")));
        let message = lettre::Message::builder()
            .from(parse(&email.from)?)
            .to(parse(to)?)
            .subject(subject)
            .message_id(Some(format!("<{id}@kaffeekasse>")))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| permanent(format!("building the e-mail: {e}")))?;
        smtp.send(message).await.map(drop).map_err(|e| {
            let kind = if e.is_permanent() { "refused" } else { "failed" };
            MailFailure {
                message: format!(
                    "SMTP {kind}: {}",
                    e.status()
                        .map_or_else(|| "no answer".to_owned(), |s| s.to_string())
                ),
                permanent: e.is_permanent(),
            }
        })
    }
}

/// Why an e-mail was not sent; a permanent failure (an address the server or we refuse) is not
/// worth another try.
#[derive(Debug)]
pub struct MailFailure {
    pub message: String,
    pub permanent: bool,
}

const NOT_CONFIGURED: &str = "this channel is no longer configured";

fn answered(response: Result<reqwest::Response, reqwest::Error>) -> Result<(), String> {
    match response {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("answered {}", r.status())),
        Err(e) if e.is_timeout() => Err("timed out".to_owned()),
        Err(e) if e.is_connect() => Err("could not connect".to_owned()),
        Err(_) => Err("request failed".to_owned()),
    }
}
