//! The CLI's longer commands: `reconcile` (events and pending sessions and running monthly
//! coffees, from Stripe), and `stripe webhook-setup` / `webhook-check` (the webhook endpoint
//! that sends exactly the event types the service handles, kept in step with the code).

use std::sync::Arc;

use crate::config::Settings;
use crate::payments::Provider;
use crate::payments::stripe::StripeProvider;
use crate::payments::stripe_webhooks::{Difference, Endpoint, compare};
use crate::webhook::apply::Ledger;
use crate::webhook::event::HANDLED_TYPES;
use crate::{reconcile as reconciliation, storage};

fn handled() -> Vec<String> {
    HANDLED_TYPES.iter().map(|t| (*t).to_owned()).collect()
}

/// Creates the endpoint at `url` with the handled event types, or adds the missing ones to the
/// endpoint already there. Returns what to print; the signing secret only when it was created
/// (Stripe shows it once).
pub async fn setup(stripe: &StripeProvider, url: &str) -> anyhow::Result<String> {
    let existing = stripe.webhook_endpoints().await?;
    let Some(endpoint) = existing.iter().find(|e| e.url == url) else {
        let created = stripe.create_webhook_endpoint(url, &handled()).await?;
        let secret = created
            .secret
            .as_deref()
            .unwrap_or("(Stripe sent none: see the Dashboard)");
        return Ok(format!(
            "created webhook endpoint {} for {url} with {} event types.\n\
             Its signing secret, shown only now: set it as STRIPE_WEBHOOK_SECRET\n\
             STRIPE_WEBHOOK_SECRET={secret}",
            created.id,
            HANDLED_TYPES.len()
        ));
    };
    let difference = compare(&endpoint.enabled_events, HANDLED_TYPES);
    if difference.missing.is_empty() {
        return Ok(format!(
            "webhook endpoint {} for {url} already sends every handled event type{}",
            endpoint.id,
            extra_note(&difference)
        ));
    }
    let mut events = endpoint.enabled_events.clone();
    events.extend(difference.missing.iter().cloned());
    let updated = stripe.update_webhook_endpoint(&endpoint.id, &events).await?;
    Ok(format!(
        "webhook endpoint {} for {url}: added {}{}\n\
         Its signing secret is unchanged (STRIPE_WEBHOOK_SECRET stays as it is).",
        updated.id,
        difference.missing.join(", "),
        extra_note(&difference)
    ))
}

fn extra_note(d: &Difference) -> String {
    match d.extra.is_empty() {
        true => String::new(),
        false => format!(
            "\nit also sends types the service does not handle (stored as ignored): {}",
            d.extra.join(", ")
        ),
    }
}

/// Reports, for the endpoint at `url` (or every endpoint), the handled types it does not send
/// and the types it sends that are not handled. `Ok(false)` when any handled type is missing.
pub async fn check(stripe: &StripeProvider, url: Option<&str>) -> anyhow::Result<(bool, String)> {
    let endpoints: Vec<Endpoint> = stripe
        .webhook_endpoints()
        .await?
        .into_iter()
        .filter(|e| url.is_none_or(|u| e.url == u))
        .collect();
    if endpoints.is_empty() {
        let which = url.map_or_else(
            || "no webhook endpoint".to_owned(),
            |u| format!("no webhook endpoint for {u}"),
        );
        return Ok((
            false,
            format!("{which}: run `kaffeekasse stripe webhook-setup --url …`"),
        ));
    }
    let mut ok = true;
    let mut lines = Vec::new();
    for e in &endpoints {
        let d = compare(&e.enabled_events, HANDLED_TYPES);
        ok &= d.missing.is_empty();
        let status = e.status.as_deref().unwrap_or("unknown");
        lines.push(format!("{} {} ({status})", e.id, e.url));
        lines.push(match d.missing.is_empty() {
            true => "  ok: every handled event type is sent".to_owned(),
            false => format!("  missing: {}", d.missing.join(", ")),
        });
        if !d.extra.is_empty() {
            lines.push(format!("  extra (stored as ignored): {}", d.extra.join(", ")));
        }
    }
    Ok((ok, lines.join("\n")))
}

/// `kaffeekasse reconcile [--since …]`.
pub async fn reconcile(settings: Settings, since: Option<i64>) -> anyhow::Result<()> {
    let Some(stripe) = settings.payment.stripe() else {
        anyhow::bail!("reconcile needs STRIPE_SECRET_KEY: the demo provider has nothing to reconcile");
    };
    let provider = Provider::Stripe(Box::new(StripeProvider::new(stripe)?));
    let Some(stripe) = provider.stripe() else {
        anyhow::bail!("reconcile needs the Stripe provider");
    };
    let db = storage::connect(&settings.database).await?;
    db.migrate().await?;
    let signer = crate::auth::service_signer(settings.admin.signing_secret, &db).await?;
    let ledger = Ledger::new(db.clone(), Arc::new(settings.rules))
        .notifying(settings.notify.channels(), Default::default())
        .hashing_emails(signer);
    if let Some(warning) = since.and_then(|s| reconciliation::window_warning(s, storage::now())) {
        eprintln!("warning: {warning}");
    }
    // The sweep runs even if listing events failed: it needs no event and may still settle.
    let listed = reconciliation::run(&db, &ledger, stripe, since).await;
    if let Ok(report) = &listed {
        println!(
            "listed {} events, {} new, {} skipped",
            report.listed, report.new, report.skipped
        );
    }
    let swept = reconciliation::sweep(&db, &ledger, stripe).await?;
    let stopped = match (swept.rate_limited, swept.stopped) {
        (true, _) => " (stopped at Stripe's rate limit)",
        (_, true) => " (stopped: Stripe failed, see the log)",
        _ => "",
    };
    println!(
        "swept {} pending sessions, {} settled{stopped}",
        swept.checked, swept.settled
    );
    let monthly = reconciliation::sweep_subscriptions(&db, &ledger, &provider).await?;
    println!("asked about {} running monthly coffees", monthly.checked);
    listed.map(drop)
}
