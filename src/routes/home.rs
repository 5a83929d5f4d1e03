//! `GET /`: the Kaffeekasse page with the donate form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::here::Here;
use super::page::{self, Page, html};
use super::view::{SupporterView, TotalsView, coffee_label};
use crate::domain::{Message, Money, SupporterName};
use crate::i18n::Lang;
use crate::public;
use crate::state::State;

/// How many recent supporters the home page shows under the form.
const RECENT: u32 = 5;

/// What the reader typed, echoed back when the form has errors.
#[derive(Debug, Default, Clone)]
pub struct FormValues {
    pub coffees: String,
    pub name: String,
    pub message: String,
    pub public: bool,
    /// The reader chose a monthly coffee.
    pub monthly: bool,
}

/// One field's error, shown next to the field and in the summary.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

pub struct CoffeeOption {
    pub value: u32,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: Page,
    options: Vec<CoffeeOption>,
    values: FormValues,
    errors: Vec<FieldError>,
    canceled: bool,
    price: String,
    name_max: usize,
    message_max: usize,
    totals: Option<TotalsView>,
    recent: Vec<SupporterView>,
    privacy_url: Option<String>,
    imprint_url: Option<String>,
    /// The same on a double submit of this page's form: one checkout, not two.
    nonce: String,
}

impl HomePage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

pub async fn show(req: HttpRequest, lang: Lang, here: Here, state: State) -> HttpResponse {
    let canceled = req.query_string().split('&').any(|p| p == "canceled=1");
    render_form(
        &state,
        lang,
        &here,
        FormValues::default(),
        Vec::new(),
        canceled,
        StatusCode::OK,
    )
    .await
}

/// The page with the form, used both for `GET /` and to show validation errors (422).
pub async fn render_form(
    state: &State,
    lang: Lang,
    here: &Here,
    values: FormValues,
    errors: Vec<FieldError>,
    canceled: bool,
    status: StatusCode,
) -> HttpResponse {
    let pricing = &state.rules.pricing;
    let selected: u32 = values.coffees.trim().parse().unwrap_or(1);
    let options = (1..=pricing.max_coffees)
        .map(|n| CoffeeOption {
            value: n,
            label: coffee_label(lang, pricing, n),
            selected: n == selected,
        })
        .collect();
    // The wall under the form is a nicety: if it cannot be read, the form still works.
    let currency = &pricing.currency;
    let (totals, recent) = match public::wall(&state.wall_cache, &state.db, None, RECENT).await {
        Ok(w) => (
            Some(TotalsView::new(
                &w.totals,
                state.site.goal.as_ref(),
                lang,
                currency,
            )),
            w.supporters.iter().map(|s| SupporterView::new(s, lang)).collect(),
        ),
        Err(e) => {
            tracing::warn!(error = ?e, "home page could not load the wall");
            (None, Vec::new())
        }
    };
    let t = lang.texts();
    let page = HomePage {
        privacy_url: state.site.privacy_url.clone(),
        imprint_url: state.site.imprint_url.clone(),
        totals,
        recent,
        page: Page::new(
            state,
            lang,
            here,
            &page::title(lang, t.home_heading, !errors.is_empty()),
        ),
        options,
        values,
        errors,
        canceled,
        price: lang.money(&Money::new(pricing.coffee_price_cents, pricing.currency.clone())),
        name_max: SupporterName::MAX,
        nonce: crate::auth::nonce::issue(&state.signer, crate::storage::now()),
        message_max: Message::MAX,
    };
    html(status, &page)
}
