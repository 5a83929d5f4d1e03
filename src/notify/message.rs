//! What a notification says: a title and a text for ntfy and e-mail, and a JSON body for the
//! webhook. Pure, so every wording is tested without a receiver.

use serde_json::{Value, json};

use crate::domain::{Currency, Money, NoticeKind};
use crate::i18n::Lang;
use crate::storage::outbox::{NoticeDonation, Notification};

pub struct Composed {
    pub title: String,
    pub body: String,
    pub json: Value,
}

/// The name and message go out only for a public entry, not erased and not waiting for review: a
/// notification passes through third parties (ntfy.sh, a chat bridge), so an anonymous donor
/// stays anonymous there, and a held entry (a link, a blocked word) reaches nobody before the
/// blogger approved it.
pub fn compose(
    n: &Notification,
    donation: Option<&NoticeDonation>,
    lang: Lang,
    site: &str,
    public_url: &str,
) -> Composed {
    let t = lang.notice_texts();
    let Some(d) = donation.filter(|_| n.kind != NoticeKind::Test) else {
        return Composed {
            title: t.test_title.to_owned(),
            body: t.test_body.to_owned(),
            json: json!({
                "id": n.id, "type": format!("donation.{}", n.kind.as_str()), "created": n.created_at,
                "site": site, "donation": null, "title": t.test_title, "text": t.test_body,
            }),
        };
    };
    // A refund tells what went back, a partial one included; a monthly coffee's news one
    // month; everything else the payment.
    let monthly = matches!(
        n.kind,
        NoticeKind::Monthly
            | NoticeKind::Renewal
            | NoticeKind::RenewalFailed
            | NoticeKind::Cancelled
            | NoticeKind::Ended
    );
    let (coffees, cents) = match (n.kind, d.monthly_coffees) {
        (NoticeKind::Refunded, _) => (d.coffees, d.refunded_cents),
        (_, Some(per_month)) if monthly => (per_month, d.expected_amount_cents),
        _ => (d.coffees, d.amount_cents),
    };
    // Stored currencies were parsed on the way in; a corrupt one still shows the number.
    let amount = Currency::parse(&d.currency).map_or_else(
        |_| format!("{cents} {}", d.currency),
        |c| lang.money(&Money::new(cents, c)),
    );
    let coffees = lang.coffees(coffees);
    let template = match n.kind {
        NoticeKind::Paid | NoticeKind::Test => t.paid,
        NoticeKind::Refunded => t.refunded,
        NoticeKind::Disputed => t.disputed,
        NoticeKind::Won => t.won,
        NoticeKind::Lost => t.lost,
        NoticeKind::Monthly => t.monthly,
        NoticeKind::Renewal => t.renewal,
        NoticeKind::RenewalFailed => t.renewal_failed,
        NoticeKind::Cancelled => t.cancelled,
        NoticeKind::Ended => t.ended,
    };
    let title = template
        .replace("{coffees}", &coffees)
        .replace("{amount}", &amount);
    let public = d.visibility == "public" && d.erased_at.is_none();
    let shown = public && !d.held;
    let name = d.name.as_deref().filter(|_| shown);
    let message = d.message.as_deref().filter(|_| shown);
    let details = format!("{public_url}/admin/donations/{}", d.id);
    let mut lines = vec![format!("{}: {}", t.from, name.unwrap_or(t.anonymous))];
    if let Some(m) = message {
        lines.push(format!("{}: {m}", t.message));
    }
    if public && d.held {
        lines.push(t.held.to_owned());
    }
    if n.kind == NoticeKind::Disputed {
        lines.push(t.disputed_hint.to_owned());
    }
    if n.kind == NoticeKind::RenewalFailed {
        lines.push(t.renewal_failed_hint.to_owned());
    }
    lines.push(format!("{}: {details}", t.details));
    let body = lines.join("\n");
    let json = json!({
        "id": n.id,
        "type": format!("donation.{}", n.kind.as_str()),
        "created": n.created_at,
        "site": site,
        "donation": {
            "id": d.id, "coffees": d.coffees, "amount_cents": d.amount_cents, "currency": d.currency,
            "amount": amount, "status": d.status, "name": name, "message": message,
            "held": public && d.held, "refunded_cents": d.refunded_cents, "admin_url": details,
            "monthly": d.monthly_coffees.is_some(),
        },
        "title": title,
        "text": body,
    });
    Composed { title, body, json }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel;

    fn notification(kind: NoticeKind) -> Notification {
        Notification {
            id: "n-1".into(),
            channel: Channel::Ntfy,
            kind,
            donation_id: Some("d-1".into()),
            created_at: 1_800_000_000,
            attempts: 0,
            next_attempt_at: 0,
            sent_at: None,
            failed_at: None,
            last_error: None,
        }
    }

    fn donation(visibility: &str) -> NoticeDonation {
        NoticeDonation {
            id: "d-1".into(),
            coffees: 2,
            amount_cents: 1000,
            refunded_cents: 0,
            currency: "eur".into(),
            status: "paid".into(),
            visibility: visibility.into(),
            name: Some("Anna".into()),
            message: Some("Danke für den Blog".into()),
            held: false,
            erased_at: None,
            monthly_coffees: None,
            expected_amount_cents: 1000,
        }
    }

    #[test]
    fn a_public_coffee_names_its_donor_in_german_first() {
        let c = compose(
            &notification(NoticeKind::Paid),
            Some(&donation("public")),
            Lang::De,
            "Kaffeekasse",
            "https://k.de",
        );
        assert_eq!(c.title, "☕ 2 Kaffees für 10,00\u{a0}€");
        assert!(c.body.contains("Von: Anna"), "{}", c.body);
        assert!(
            !c.body.contains("Freigabe"),
            "not held, so nothing waits: {}",
            c.body
        );
        assert!(c.body.contains("Nachricht: Danke für den Blog"));
        assert!(c.body.contains("https://k.de/admin/donations/d-1"));
        assert_eq!(c.json["type"], "donation.paid");
        assert_eq!(c.json["donation"]["name"], "Anna");
        assert_eq!(c.json["id"], "n-1");
        let mut refunded = donation("public");
        refunded.refunded_cents = 1000;
        let en = compose(
            &notification(NoticeKind::Refunded),
            Some(&refunded),
            Lang::En,
            "K",
            "https://k.de",
        );
        assert_eq!(en.title, "↩ Refunded: 2 coffees (€10.00)");
    }

    #[test]
    fn an_anonymous_or_erased_donor_stays_unnamed() {
        let anonymous = compose(
            &notification(NoticeKind::Paid),
            Some(&donation("anonymous")),
            Lang::De,
            "K",
            "https://k.de",
        );
        assert!(anonymous.body.contains("Von: anonym"));
        assert!(!anonymous.body.contains("Anna") && !anonymous.json.to_string().contains("Anna"));
        let mut erased = donation("public");
        erased.erased_at = Some(1);
        let erased = compose(
            &notification(NoticeKind::Paid),
            Some(&erased),
            Lang::De,
            "K",
            "https://k.de",
        );
        assert!(!erased.json.to_string().contains("Anna") && !erased.body.contains("Danke für den Blog"));
    }

    #[test]
    fn a_held_entry_reaches_nobody_before_approval_and_a_partial_refund_tells_its_amount() {
        let mut held = donation("public");
        held.held = true;
        let c = compose(
            &notification(NoticeKind::Paid),
            Some(&held),
            Lang::De,
            "K",
            "https://k.de",
        );
        assert!(!c.body.contains("Anna") && !c.json.to_string().contains("Danke für den Blog"));
        assert!(c.body.contains("wartet auf deine Freigabe"));
        let mut partial = donation("public");
        partial.refunded_cents = 200;
        let r = compose(
            &notification(NoticeKind::Refunded),
            Some(&partial),
            Lang::De,
            "K",
            "https://k.de",
        );
        assert_eq!(r.title, "↩ Erstattet: 2 Kaffees (2,00\u{a0}€)");
    }

    #[test]
    fn a_dispute_asks_for_an_answer_and_a_test_says_so() {
        let d = compose(
            &notification(NoticeKind::Disputed),
            Some(&donation("public")),
            Lang::De,
            "K",
            "https://k.de",
        );
        assert!(d.body.contains("Stripe-Dashboard"));
        let test = compose(
            &notification(NoticeKind::Test),
            None,
            Lang::De,
            "K",
            "https://k.de",
        );
        assert_eq!(test.title, "Testbenachrichtigung der Kaffeekasse");
        assert_eq!(test.json["type"], "donation.test");
        assert!(test.json["donation"].is_null());
    }

    #[test]
    fn a_monthly_coffees_news_tells_one_month() {
        let mut monthly = donation("public");
        monthly.monthly_coffees = Some(1);
        monthly.expected_amount_cents = 500;
        monthly.coffees = 3;
        monthly.amount_cents = 1500;
        let compose = |kind, lang| compose(&notification(kind), Some(&monthly), lang, "K", "https://k.de");
        assert_eq!(
            compose(NoticeKind::Monthly, Lang::De).title,
            "☕ Neuer monatlicher Kaffee: 1 Kaffee für 5,00\u{a0}€ im Monat"
        );
        assert_eq!(
            compose(NoticeKind::Renewal, Lang::En).title,
            "☕ Monthly coffee renewed: 1 coffee for €5.00"
        );
        let failed = compose(NoticeKind::RenewalFailed, Lang::De);
        assert!(failed.body.contains("Stripe versucht"), "{}", failed.body);
        assert_eq!(failed.json["type"], "donation.renewal_failed");
        assert_eq!(failed.json["donation"]["monthly"], true);
        assert!(
            compose(NoticeKind::Cancelled, Lang::De)
                .title
                .contains("gekündigt")
        );
    }
}
