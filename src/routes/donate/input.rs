//! The donate form or JSON body: read strictly, then validated into domain types all at once.

use serde::Deserialize;

use crate::domain::{Coffees, Interval, Message, SupporterName, Visibility};
use crate::i18n::Lang;
use crate::routes::home::{FieldError, FormValues};

/// A validated donation request.
#[derive(Debug)]
pub struct DonationForm {
    pub coffees: Coffees,
    pub name: Option<SupporterName>,
    pub message: Option<Message>,
    pub visibility: Visibility,
    /// Once (the default), or every month.
    pub interval: Interval,
}

/// The form or JSON body as received, before validation. Unknown fields are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDonation {
    coffees: Option<Scalar>,
    name: Option<String>,
    message: Option<String>,
    public: Option<Scalar>,
    /// `once` (the default) or `month`.
    interval: Option<String>,
    pub lang: Option<String>,
    /// The honeypot: hidden from people, irresistible to form-filling bots.
    pub website: Option<String>,
    /// A random value the form carries, the same on a double submit.
    pub nonce: Option<String>,
}

/// JSON clients may send `2` or `"2"`, `true` or `"on"`; forms always send strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Text(String),
}

impl Scalar {
    fn as_text(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Text(s) => s.clone(),
        }
    }
}

impl RawDonation {
    pub fn values(&self) -> FormValues {
        FormValues {
            coffees: self.coffees.as_ref().map(Scalar::as_text).unwrap_or_default(),
            name: self.name.clone().unwrap_or_default(),
            message: self.message.clone().unwrap_or_default(),
            public: self
                .public
                .as_ref()
                .map(Scalar::as_text)
                .as_deref()
                .is_some_and(|p| p == "on" || p == "true"),
            monthly: self.interval.as_deref().map(str::trim) == Some("month"),
        }
    }

    /// The key that makes a repeated submission of the same form (a double click, a reload, a
    /// script's retry) open the same checkout: the form's nonce or the `Idempotency-Key`
    /// header, bound to everything sent to Stripe (the values, the language, the price), so the
    /// same key with anything else is another checkout rather than Stripe's idempotency error.
    /// `Err` for a key that is not 8 to 64 letters, digits, `-` or `_`.
    pub fn idempotency_key(
        &self,
        header: Option<&str>,
        form: &DonationForm,
        lang: Lang,
        unit_amount_cents: i64,
    ) -> Result<Option<String>, ()> {
        let Some(given) = header.or(self.nonce.as_deref()) else {
            return Ok(None);
        };
        let valid = (8..=64).contains(&given.len())
            && given
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(());
        }
        use sha2::{Digest, Sha256};
        let asked = format!(
            "{given}\0{}\0{}\0{}\0{unit_amount_cents}\0{}\0{}\0{}",
            lang.code(),
            form.interval.as_str(),
            form.coffees.get(),
            form.name.as_ref().map_or("", |n| n.as_str()),
            form.message.as_ref().map_or("", |m| m.as_str()),
            form.visibility.as_str()
        );
        Ok(Some(hex::encode(&Sha256::digest(asked.as_bytes())[..16])))
    }

    /// Every field's error at once, so the reader can fix them together.
    pub fn validate(&self, max_coffees: u32, lang: Lang) -> Result<DonationForm, Vec<FieldError>> {
        let t = lang.texts();
        let values = self.values();
        let mut errors = Vec::new();
        let mut err = |field, message: String| errors.push(FieldError { field, message });
        let coffees = Coffees::parse(
            if values.coffees.is_empty() {
                "1"
            } else {
                &values.coffees
            },
            max_coffees,
        )
        .map_err(|_| {
            err(
                "coffees",
                t.err_coffees.replace("{max}", &max_coffees.to_string()),
            )
        });
        let name =
            SupporterName::parse(&values.name).map_err(|e| err("name", lang.text_error(t.err_name, &e)));
        let message =
            Message::parse(&values.message).map_err(|e| err("message", lang.text_error(t.err_message, &e)));
        let visibility = Visibility::from_checkbox(self.public.as_ref().map(Scalar::as_text).as_deref())
            .map_err(|_| err("public", t.err_public.into()));
        let interval = match self.interval.as_deref().map(str::trim) {
            None | Some("") => Ok(Interval::Once),
            Some(word) => Interval::parse(word).ok_or(()),
        }
        .map_err(|()| err("interval-once", lang.monthly().err_interval.into()));
        match (coffees, name, message, visibility, interval) {
            (Ok(coffees), Ok(name), Ok(message), Ok(visibility), Ok(interval)) => Ok(DonationForm {
                coffees,
                name,
                message,
                visibility,
                interval,
            }),
            _ => Err(errors),
        }
    }
}
