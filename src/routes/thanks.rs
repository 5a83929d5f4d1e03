//! `GET /thanks?session_id=…`: where the checkout sends the reader back.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::client_ip::client_key;
use super::error::PageError;
use super::here::Here;
use super::page::{Page, html};
use crate::client_key::ClientKey;
use crate::domain::{Currency, DonationStatus, Interval, Money};
use crate::i18n::Lang;
use crate::state::State;
use crate::storage::donations::{self, DonationRow};
use crate::storage::{lookups, subscriptions};

/// The pending page refreshes itself this many times, then says it may take longer.
const MAX_REFRESHES: u32 = 5;
/// Anyone holding the session id can load this page, and each look at Stripe spends the
/// account's API quota: at most this many in a session's life…
const MAX_STRIPE_LOOKUPS: i64 = 20;
/// …and at most one per this many seconds.
const LOOKUP_INTERVAL_SECS: i64 = 5;

/// `?session_id=…&attempt=…`; `lang` is read by `Lang::negotiate` and ignored here.
#[derive(Deserialize)]
pub struct ThanksQuery {
    session_id: String,
    #[serde(default)]
    attempt: u32,
}

#[derive(Template)]
#[template(path = "thanks.html")]
struct ThanksPage {
    page: Page,
    heading: String,
    text: String,
    summary: Option<String>,
    refresh_url: Option<String>,
    back_url: String,
    back_label: String,
    /// The donor's private link to their entry.
    manage_url: Option<String>,
    /// A monthly coffee's next debit.
    next_debit: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    lang: Lang,
    here: Here,
    query: web::Query<ThanksQuery>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let client = client_key(&req, &state.abuse.trusted_proxies);
    if let Some(limiter) = &state.limits.thanks {
        limiter.check(client).map_err(|wait| PageError::Throttled {
            retry_after_secs: wait.as_secs() + 1,
        })?;
    }
    let t = lang.texts();
    let row = match find_and_settle(&state, &query.session_id, client).await? {
        Lookup::Found(row) => *row,
        Lookup::Unknown => return Err(PageError::NotFound),
        Lookup::Later => return Ok(confirming_later(&state, lang, &here, &query)),
    };
    let status = row.status;
    let m = lang.monthly();
    let monthly = match row.interval {
        Interval::Month => subscriptions::find_by_id(state.db.pool(), &row.id).await?,
        Interval::Once => None,
    };
    let (heading, text) = match status {
        DonationStatus::Paid if monthly.is_some() => (m.thanks_heading, m.thanks_text),
        // A SEPA subscription's first debit: on its way, never "failed".
        DonationStatus::Processing if monthly.is_some() => (t.processing_heading, m.processing_text),
        DonationStatus::Paid | DonationStatus::Disputed => (t.thanks_heading, t.thanks_text),
        DonationStatus::Pending if query.attempt >= MAX_REFRESHES => {
            (t.confirming_heading, t.confirming_slow)
        }
        DonationStatus::Pending => (t.confirming_heading, t.confirming_text),
        DonationStatus::Processing => (t.processing_heading, t.processing_text),
        DonationStatus::Refunded | DonationStatus::Lost => (t.not_paid_heading, t.refunded_text),
        DonationStatus::Failed | DonationStatus::Expired => (t.not_paid_heading, t.not_paid_text),
    };
    let refresh_url = (status == DonationStatus::Pending && query.attempt < MAX_REFRESHES)
        .then(|| refresh_url(&query, lang));
    let summary = matches!(status, DonationStatus::Paid | DonationStatus::Processing).then(|| {
        let amount = Money::new(
            row.amount_cents,
            Currency::parse(&row.currency).unwrap_or_else(|_| state.rules.pricing.currency.clone()),
        );
        match &monthly {
            Some(sub) => {
                let month = Money::new(sub.expected_amount_cents, amount.currency.clone());
                let per_month = sub.asked().coffees;
                format!(
                    "{} · {} {}",
                    lang.coffees(per_month),
                    lang.money(&month),
                    m.per_month
                )
            }
            None => format!("{} · {}", lang.coffees(row.coffees), lang.money(&amount)),
        }
    });
    let next_debit = monthly
        .as_ref()
        .filter(|_| status == DonationStatus::Paid)
        .and_then(|sub| sub.subscription().next_debit().or(sub.paid_through))
        .map(|at| m.next_debit.replace("{date}", &lang.date_at(at)));
    let (back_url, back_label) = back_link(&state, lang);
    // Only once money moved: a pending checkout anyone can start must not hand out a link.
    let money_moved = !matches!(
        status,
        DonationStatus::Pending | DonationStatus::Expired | DonationStatus::Failed
    );
    let manage_url = (row.erased_at.is_none() && money_moved).then(|| {
        format!(
            "{}/manage/{}?lang={}",
            state.public_url,
            state.signer.manage_token(&row.id),
            lang.code()
        )
    });
    let page = ThanksPage {
        next_debit,
        manage_url,
        page: Page::new(&state, lang, &here, heading),
        heading: heading.to_owned(),
        text: text.to_owned(),
        summary,
        refresh_url,
        back_url,
        back_label,
    };
    Ok(html(StatusCode::OK, &page))
}

/// Looks the donation up; if it is still pending, asks Stripe directly, as Stripe's fulfilment
/// guide recommends, in case the webhook is late, within the lookup budget. Stripe trouble only
/// means "still pending".
async fn find_and_settle(state: &State, session_id: &str, client: ClientKey) -> anyhow::Result<Lookup> {
    let Some(row) = donations::find_by_session(state.db.pool(), session_id).await? else {
        return from_payment_link(state, session_id, client).await;
    };
    settle(state, session_id, row)
        .await
        .map(|row| Lookup::Found(Box::new(row)))
}

/// A pending row: ask Stripe, within the session's lookup budget.
async fn settle(state: &State, session_id: &str, row: DonationRow) -> anyhow::Result<DonationRow> {
    if row.status != DonationStatus::Pending || state.provider.is_demo() {
        return Ok(row);
    }
    let now = crate::storage::now();
    let due = lookups::stripe_lookup_due(
        state.db.pool(),
        session_id,
        now,
        MAX_STRIPE_LOOKUPS,
        LOOKUP_INTERVAL_SECS,
    )
    .await?;
    if !due {
        return Ok(row);
    }
    let id = session_id.to_owned();
    let may_ask = state
        .db
        .write(move |conn| {
            Box::pin(async move {
                lookups::claim_stripe_lookup(conn, &id, now, MAX_STRIPE_LOOKUPS, LOOKUP_INTERVAL_SECS).await
            })
        })
        .await?;
    if !may_ask {
        return Ok(row);
    }
    match state.provider.retrieve_session(session_id).await {
        Ok(Some(session)) => {
            state.ledger.apply_session_snapshot(&session).await?;
            Ok(donations::find_by_session(state.db.pool(), session_id)
                .await?
                .unwrap_or(row))
        }
        Ok(None) => Ok(row),
        Err(e) => {
            // The kind only: Stripe's message may name the session, which opens this page.
            tracing::warn!(kind = e.kind(), "could not ask Stripe about a pending session");
            Ok(row)
        }
    }
}

/// What `/thanks` knows about a session id.
enum Lookup {
    Found(Box<DonationRow>),
    /// Not ours, or not a session at all.
    Unknown,
    /// Perhaps a Payment Link's, but Stripe could not be asked now: the page asks again later.
    Later,
}

/// A reader of a Payment Link comes back before the webhook: ask Stripe about the session and,
/// if it belongs to a listed link, record it through the same path as the webhook. Anyone can
/// send any session id here, so only ids shaped like Stripe's (in the key's mode) are asked
/// about, each client gets a small share, and all such lookups together stay within one budget.
async fn from_payment_link(state: &State, session_id: &str, client: ClientKey) -> anyhow::Result<Lookup> {
    let prefix = if state.provider.livemode() {
        "cs_live_"
    } else {
        "cs_test_"
    };
    let shaped_like_stripe = session_id.starts_with(prefix)
        && session_id.len() <= 200
        && session_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if state.rules.payment_links.is_empty() || !shaped_like_stripe || state.provider.is_demo() {
        return Ok(Lookup::Unknown);
    }
    if !state
        .limits
        .unknown_session_clients
        .check_with(client, &state.limits.unknown_sessions)
    {
        if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::LookupBudget) {
            tracing::info!(
                left_out,
                "no budget left to look up an unknown checkout session now"
            );
        }
        return Ok(Lookup::Later);
    }
    match state.provider.retrieve_session(session_id).await {
        Ok(Some(session)) => {
            state.ledger.apply_session_snapshot(&session).await?;
            let row = donations::find_by_session(state.db.pool(), session_id).await?;
            Ok(row.map_or(Lookup::Unknown, |row| Lookup::Found(Box::new(row))))
        }
        Ok(None) => Ok(Lookup::Unknown),
        Err(e) => {
            tracing::warn!(kind = e.kind(), "could not ask Stripe about an unknown session");
            Ok(Lookup::Later)
        }
    }
}

/// The confirming page for a session Stripe could not be asked about yet.
fn confirming_later(state: &State, lang: Lang, here: &Here, query: &ThanksQuery) -> HttpResponse {
    let t = lang.texts();
    let again = query.attempt < MAX_REFRESHES;
    let (back_url, back_label) = back_link(state, lang);
    let page = ThanksPage {
        page: Page::new(state, lang, here, t.confirming_heading),
        heading: t.confirming_heading.to_owned(),
        text: (if again {
            t.confirming_text
        } else {
            t.confirming_slow
        })
        .to_owned(),
        summary: None,
        refresh_url: again.then(|| refresh_url(query, lang)),
        back_url,
        back_label,
        manage_url: None,
        next_debit: None,
    };
    html(StatusCode::OK, &page)
}

fn refresh_url(query: &ThanksQuery, lang: Lang) -> String {
    format!(
        "/thanks?session_id={}&attempt={}&lang={}",
        urlencode(&query.session_id),
        query.attempt + 1,
        lang.code()
    )
}

fn back_link(state: &State, lang: Lang) -> (String, String) {
    let t = lang.texts();
    match &state.site.blog_url {
        Some(url) => (url.clone(), t.back_to_blog.to_owned()),
        None => (format!("/?lang={}", lang.code()), t.back_home.to_owned()),
    }
}

fn urlencode(raw: &str) -> String {
    serde_urlencoded::to_string([("", raw)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}
