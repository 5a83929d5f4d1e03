//! What a cancellation's confirmation says (§ 312k BGB: the content of the declaration, with the
//! date and time of its receipt), in the page, the download and the e-mail alike. Pure.

use crate::domain::{CancelKind, CancelWhen};
use crate::i18n::Lang;
use crate::storage::cancellations::CancellationRow;

/// One line of the declaration: what and its value.
pub struct Line {
    pub label: &'static str,
    pub value: String,
}

/// The declaration's facts, in the reader's language.
pub fn lines(c: &CancellationRow, lang: Lang, site: &str) -> Vec<Line> {
    let m = lang.monthly();
    let mut lines = vec![
        Line {
            label: m.confirm_contract,
            value: format!("{} {site}", m.confirm_contract_value),
        },
        Line {
            label: m.confirm_received_at,
            value: moment(c.created_at, lang),
        },
    ];
    if let Some(email) = &c.email {
        lines.push(Line {
            label: m.field_email,
            value: email.clone(),
        });
    }
    if let Some(name) = &c.name {
        lines.push(Line {
            label: m.confirm_name,
            value: name.clone(),
        });
    }
    lines.push(Line {
        label: m.confirm_kind,
        value: match c.kind {
            CancelKind::Ordinary => m.kind_ordinary,
            CancelKind::Extraordinary => m.kind_extraordinary,
        }
        .to_owned(),
    });
    if let Some(reason) = &c.reason {
        lines.push(Line {
            label: m.confirm_reason,
            value: reason.clone(),
        });
    }
    lines.push(Line {
        label: m.confirm_when,
        value: match c.timing {
            CancelWhen::Now => m.when_now,
            CancelWhen::PeriodEnd => m.when_period_end,
        }
        .to_owned(),
    });
    lines.push(Line {
        label: m.confirm_reference,
        value: c.id.clone(),
    });
    lines
}

/// "Eingegangen am 07.12.2026 um 14:05:09 Uhr (UTC)." / "Received on 7 Dec 2026 at 14:05:09 (UTC)."
pub fn received(at: i64, lang: Lang) -> String {
    let (date, time) = date_and_time(at, lang);
    lang.monthly()
        .confirm_received
        .replace("{date}", &date)
        .replace("{time}", &time)
}

/// `07.12.2026, 14:05:09 UTC`.
fn moment(at: i64, lang: Lang) -> String {
    let (date, time) = date_and_time(at, lang);
    format!("{date}, {time} UTC")
}

fn date_and_time(at: i64, lang: Lang) -> (String, String) {
    let t = time::OffsetDateTime::from_unix_timestamp(at).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (
        lang.date(t),
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
    )
}

/// The confirmation as plain text: the download, and the e-mail's body.
pub fn text(c: &CancellationRow, lang: Lang, site: &str, url: &str) -> String {
    let m = lang.monthly();
    let mut out = format!(
        "{}\n{site}\n\n{}\n\n",
        m.confirm_heading,
        received(c.created_at, lang)
    );
    for line in lines(c, lang, site) {
        out.push_str(&format!("{}: {}\n", line.label, line.value));
    }
    out.push_str(&format!("\n{url}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CancelSource;

    fn declaration() -> CancellationRow {
        CancellationRow {
            email: Some("anna@example.org".into()),
            name: Some("Anna".into()),
            kind: CancelKind::Extraordinary,
            reason: Some("Umzug".into()),
            ..CancellationRow::new(
                "k-1".into(),
                1_796_652_309,
                CancelSource::Form,
                CancelWhen::PeriodEnd,
                "de",
                None,
            )
        }
    }

    #[test]
    fn the_confirmation_says_what_was_declared_with_date_and_time() {
        let text = text(
            &declaration(),
            Lang::De,
            "Kaffeekasse",
            "https://k.de/kuendigen/x",
        );
        for expected in [
            "Deine Kündigung ist eingegangen",
            "Eingegangen am 07.12.2026 um 14:05:09 Uhr (UTC).",
            "Eingegangen: 07.12.2026, 14:05:09 UTC",
            "E-Mail-Adresse: anna@example.org",
            "Name: Anna",
            "Art: außerordentliche Kündigung",
            "Grund: Umzug",
            "Zeitpunkt: zum Ende des bezahlten Monats",
            "Vorgangsnummer: k-1",
            "https://k.de/kuendigen/x",
        ] {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
        let en = super::text(&declaration(), Lang::En, "K", "u");
        assert!(en.contains("Received on 7 Dec 2026 at 14:05:09 (UTC)."), "{en}");
    }
}
