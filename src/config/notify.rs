//! Where the blogger hears about coffees: ntfy, a signed webhook, e-mail. Any, all or none.

use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use super::vars::Vars;
use crate::domain::Channel;
use crate::i18n::Lang;

#[derive(Debug, Clone, Default)]
pub struct NotifySettings {
    pub ntfy: Option<Ntfy>,
    pub webhook: Option<NotifyWebhook>,
    pub email: Option<Email>,
    /// The notifications' language (`NOTIFY_LANG`, default German).
    pub lang: Lang,
}

#[derive(Debug, Clone)]
pub struct Ntfy {
    /// The server's root, where JSON messages are published (`https://ntfy.sh/`).
    pub server: String,
    pub topic: String,
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct NotifyWebhook {
    /// A secret itself for many receivers (Slack, Discord, Home Assistant URLs carry the key).
    pub url: SecretString,
    /// Signs each body (`Kaffeekasse-Signature`), so the receiver can check it came from us.
    pub secret: SecretString,
}

#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub from: String,
    /// `smtps://user:password@host` or `smtp://user:password@host:587?tls=required`.
    pub smtp_url: SecretString,
}

impl NotifySettings {
    pub fn channels(&self) -> Vec<Channel> {
        let mut channels = Vec::new();
        if self.ntfy.is_some() {
            channels.push(Channel::Ntfy);
        }
        if self.webhook.is_some() {
            channels.push(Channel::Webhook);
        }
        if self.email.is_some() {
            channels.push(Channel::Email);
        }
        channels
    }
}

pub(super) fn read(v: &Vars) -> Result<NotifySettings, ConfigError> {
    let ntfy = match v.target_url("NOTIFY_NTFY_URL")? {
        Some(url) => {
            let bad = || {
                ConfigError::new(
                    "NOTIFY_NTFY_URL",
                    "expected the topic's URL, such as https://ntfy.sh/my-topic",
                )
            };
            let topic = url
                .path_segments()
                .and_then(|mut s| s.rfind(|s| !s.is_empty()))
                .filter(|_| url.query().is_none() && url.fragment().is_none())
                .ok_or_else(bad)?
                .to_owned();
            let mut server = url.clone();
            server
                .path_segments_mut()
                .map_err(|()| bad())?
                .pop_if_empty()
                .pop();
            let server = format!("{}/", server.as_str().trim_end_matches('/'));
            Some(Ntfy {
                server,
                topic,
                token: v.get("NOTIFY_NTFY_TOKEN").map(SecretString::from),
            })
        }
        None => None,
    };
    let webhook = match v.target_url("NOTIFY_WEBHOOK_URL")? {
        Some(url) => {
            let secret = v.secret("NOTIFY_WEBHOOK_SECRET")?.ok_or_else(|| {
                ConfigError::new(
                    "NOTIFY_WEBHOOK_SECRET",
                    "required with NOTIFY_WEBHOOK_URL (at least 32 characters)",
                )
            })?;
            Some(NotifyWebhook {
                url: SecretString::from(url.to_string()),
                secret,
            })
        }
        None => None,
    };
    let email = match v.get("NOTIFY_EMAIL_TO") {
        Some(to) => {
            let address = |name: &'static str, raw: &str| {
                raw.parse::<lettre::message::Mailbox>()
                    .map(|_| raw.to_owned())
                    .map_err(|e| ConfigError::new(name, format!("not an e-mail address: {e}")))
            };
            let to = address("NOTIFY_EMAIL_TO", &to)?;
            let from = match v.get("NOTIFY_EMAIL_FROM") {
                Some(from) => address("NOTIFY_EMAIL_FROM", &from)?,
                None => to.clone(),
            };
            let smtp_url = v
                .get("SMTP_URL")
                .ok_or_else(|| ConfigError::new("SMTP_URL", "required with NOTIFY_EMAIL_TO"))?;
            refuse_plaintext_password(&smtp_url)?;
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&smtp_url).map_err(|e| {
                ConfigError::new(
                    "SMTP_URL",
                    format!("expected smtp:// or smtps://user:password@host: {e}"),
                )
            })?;
            Some(Email {
                to,
                from,
                smtp_url: SecretString::from(smtp_url),
            })
        }
        None => None,
    };
    let lang = match v.get("NOTIFY_LANG").as_deref() {
        None => Lang::De,
        Some(code) => {
            Lang::from_code(code).ok_or_else(|| ConfigError::new("NOTIFY_LANG", "expected de or en"))?
        }
    };
    Ok(NotifySettings {
        ntfy,
        webhook,
        email,
        lang,
    })
}

/// `smtp://user:password@host` without `?tls=required` sends the password in the clear (or lets
/// a network attacker strip STARTTLS); only a mail server on this machine may be spoken to so.
fn refuse_plaintext_password(raw: &str) -> Result<(), ConfigError> {
    let Ok(url) = url::Url::parse(raw) else {
        return Ok(());
    };
    let has_login = !url.username().is_empty() || url.password().is_some();
    let encrypted = url.scheme() == "smtps" || url.query_pairs().any(|(k, v)| k == "tls" && v == "required");
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if has_login && !encrypted && !local {
        return Err(ConfigError::new(
            "SMTP_URL",
            "would send the password unencrypted: use smtps://… or smtp://…:587?tls=required",
        ));
    }
    Ok(())
}

impl Email {
    pub fn smtp_url(&self) -> &str {
        self.smtp_url.expose_secret()
    }
}
