//! Every page, in both languages, at desktop width and at 320 px, audited with axe-core in a
//! real Chromium: no accessibility violation of impact moderate or worse, and no page that
//! scrolls sideways, with the XSS catalogue's names and a 60-letter name on the wall.
//!
//! axe-core is fetched by `scripts/test` (npm) into `target/axe`; without it this test fails.

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::browser::{browser, screenshots_dir, start_driver};
use crate::helpers::*;

const AXE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/target/axe/node_modules/axe-core/axe.min.js"
);
const WIDTHS: [(u32, &str); 2] = [(1280, "desktop"), (320, "narrow")];

/// Runs axe on the current page; returns the violations of impact moderate or worse.
async fn axe(c: &Client, source: &str) -> Vec<Value> {
    c.execute(source, vec![]).await.expect("axe loads");
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
                .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }))))
                .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e) }]));",
            vec![],
        )
        .await
        .expect("axe runs");
    found
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("moderate" | "serious" | "critical")))
        .collect()
}

/// How far the page scrolls sideways (0: not at all).
async fn sideways(c: &Client) -> i64 {
    c.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        vec![],
    )
    .await
    .unwrap()
    .as_i64()
    .unwrap_or(i64::MAX)
}

/// A page to audit: its name, and how to get there (a URL, or a URL and a script that submits
/// a form the way a reader would, to reach a page that answers a POST).
struct Visit {
    name: &'static str,
    url: String,
    submit: Option<&'static str>,
    /// A script that must return `true` on the page (layout and focus checks).
    check: Option<&'static str>,
}

fn visit(name: &'static str, url: String) -> Visit {
    Visit {
        name,
        url,
        submit: None,
        check: None,
    }
}

/// The refused form's summary has the focus, and the refused field is marked in red.
const REFUSED_NAME: &str = "const name = document.querySelector('#name');
    return document.activeElement === document.querySelector('.errors')
        && getComputedStyle(name).borderTopWidth === '2px'
        && getComputedStyle(name).borderTopColor !== getComputedStyle(document.querySelector('#message')).borderTopColor;";
/// The erase error sits under its checkbox, across the form, not squeezed beside it.
const ERASE_ERROR_BELOW: &str =
    "const error = document.querySelector('#confirm-error').getBoundingClientRect();
    const box = document.querySelector('#confirm').getBoundingClientRect();
    const form = document.querySelector('form[action*=erase]').getBoundingClientRect();
    return error.top >= box.bottom - 1 && error.width >= form.width * 0.9;";
/// Each preview shows its embed whole: the widget's frame holds its page without scrolling.
/// The frame loads lazily, so it is scrolled to and measured only once the widget is in it (a
/// frame that never loads times the script out: the test fails, it never measures a blank).
/// Both previews of the widget (the wide one and the phone one) are checked.
const PREVIEW_WHOLE: &str = "const frames = [...document.querySelectorAll('.preview iframe')];
    if (frames.length !== 2) return 'expected two widget previews, found ' + frames.length;
    for (const frame of frames) {
        const loaded = () => frame.contentDocument && frame.contentDocument.querySelector('main');
        frame.scrollIntoView();
        if (!loaded()) await new Promise(ok => frame.addEventListener('load', ok, { once: true }));
        if (!loaded()) return 'the frame holds no widget';
        const doc = frame.contentDocument.documentElement;
        if (doc.scrollHeight > frame.clientHeight || doc.scrollWidth > frame.clientWidth)
            return [doc.scrollHeight, frame.clientHeight, doc.scrollWidth, frame.clientWidth];
    }
    return true;";
/// No word of the page's own text is broken inside across two lines ("Da/tum", "10,0/0 €").
/// What a supporter typed (`.ugc`) and ids (`code`) may break; a word may break at a hyphen.
const WORDS_WHOLE: &str = "const broken = [];
    const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (n.parentElement.closest('.ugc, code, textarea, select, thead, .visually-hidden')) continue;
        const words = /[^\\s\\-\u{2010}\u{2013}]+/g;
        for (let m = words.exec(n.data); m; m = words.exec(n.data)) {
            const range = document.createRange();
            range.setStart(n, m.index);
            range.setEnd(n, m.index + m[0].length);
            const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.bottom)));
            if (lines.size > 1) broken.push(m[0]);
        }
    }
    return broken.length === 0 || broken.slice(0, 10);";

/// Forms submitted with values the browser's own checks would stop (too long, unticked), so
/// that the server's error page is what gets audited.
const DONATE_TOO_LONG: &str = "document.querySelector('#name').removeAttribute('maxlength');
    document.querySelector('#name').value = 'N'.repeat(61);
    document.querySelector('form.donate').submit();";
const MANAGE_TOO_LONG: &str = "document.querySelector('#name').removeAttribute('maxlength');
    document.querySelector('#name').value = 'N'.repeat(61);
    document.querySelector('form[action^=\"/manage/\"]:not([action*=erase])').submit();";
const ERASE_UNTICKED: &str = "document.querySelector('form[action*=erase]').submit();";
const CANCEL_BAD_EMAIL: &str = "document.querySelector('#email').value = 'keine Adresse';
    document.querySelector('#kind-extraordinary').checked = true;
    document.querySelector('form[action^=\"/kuendigen\"]').submit();";

async fn go(c: &Client, app: &TestApp, v: &Visit, lang: &str) {
    let url = v.url.replace("&lang=de", "").replace("&lang=en", "");
    let url = url.replace("?lang=de", "").replace("?lang=en", "");
    let separator = if url.contains('?') { '&' } else { '?' };
    c.goto(&app.url(&format!("{url}{separator}lang={lang}")))
        .await
        .unwrap();
    if let Some(script) = v.submit {
        c.execute(script, vec![]).await.unwrap();
        // Every refused form answers with its error summary.
        c.wait()
            .for_element(Locator::Css(".errors"))
            .await
            .expect("the refused form's page");
    }
    c.wait().for_element(Locator::Css("main")).await.unwrap();
}

/// Starts a demo checkout for `name` over HTTP and returns the checkout's path.
async fn checkout(app: &TestApp, name: &str, message: &str) -> String {
    let response = app
        .post_form(
            "/donate",
            &[
                ("coffees", "2"),
                ("name", name),
                ("message", message),
                ("public", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "{name}");
    response.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches(&app.address)
        .to_owned()
}

#[tokio::test]
async fn every_page_passes_axe_and_fits_320_px_in_both_languages() {
    let source = std::fs::read_to_string(AXE).unwrap_or_else(|_| {
        panic!("axe-core is missing at {AXE}: run scripts/test, which installs it with npm")
    });
    let app = spawn_app_with(&[
        ("STRIPE_SECRET_KEY", ""),
        ("STRIPE_WEBHOOK_SECRET", ""),
        ("STRIPE_API_BASE", ""),
        ("ADMIN_TOKEN", ADMIN_TOKEN),
        ("MODERATION", "off"),
    ])
    .await;
    // The wall holds the XSS catalogue's names and a name of 60 letters without a space.
    let long_name = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunter";
    let long_name = &long_name[..long_name
        .char_indices()
        .nth(60)
        .map_or(long_name.len(), |(i, _)| i)];
    let long_message =
        "Kaffeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee!";
    let mut paid = Vec::new();
    for (name, message) in crate::xss::PAYLOADS
        .iter()
        .copied()
        .chain([(long_name, long_message)])
    {
        let path = checkout(&app, name, message).await;
        let pay = app
            .client
            .post(app.url(&format!("{}/pay", path.split('?').next().unwrap())))
            .send()
            .await
            .unwrap();
        assert_eq!(pay.status(), 303);
        paid.push(
            pay.headers()["location"]
                .to_str()
                .unwrap()
                .trim_start_matches(&app.address)
                .to_owned(),
        );
    }
    let open_checkout = checkout(&app, "Offen", "").await;
    // A monthly coffee: its open checkout, then paid (with the address Stripe collects), and a
    // cancellation's confirmation.
    let monthly = app
        .post_form(
            "/donate",
            &[
                ("coffees", "2"),
                ("interval", "month"),
                ("name", "Monatlich"),
                ("public", "on"),
            ],
        )
        .await;
    let monthly_checkout = monthly.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches(&app.address)
        .to_owned();
    let monthly_paid = app
        .post_form(
            &format!("{}/pay", monthly_checkout.split('?').next().unwrap()),
            &[("email", "monatlich@example.org")],
        )
        .await;
    let monthly_thanks = monthly_paid.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches(&app.address)
        .to_owned();
    let monthly_page = app.get(&monthly_thanks).await.text().await.unwrap();
    let start = monthly_page.find("/manage/").expect("a manage link");
    let monthly_manage = monthly_page[start..start + monthly_page[start..].find('"').unwrap()].to_owned();
    let monthly_id: String = sqlx::query_scalar("SELECT id FROM donations WHERE interval = 'month'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let declared = app
        .post_page_form(
            "/kuendigen",
            &[
                ("email", "nobody@example.org"),
                ("name", "Anna"),
                ("kind", "extraordinary"),
                ("reason", "Umzug ins Ausland"),
                ("when", "period_end"),
            ],
        )
        .await;
    let confirmation = declared.headers()["location"].to_str().unwrap().to_owned();
    let thanks_path = paid.last().unwrap().clone();
    let thanks = app.get(&thanks_path).await.text().await.unwrap();
    let manage_start = thanks.find("/manage/").expect("a manage link");
    let manage = thanks[manage_start..manage_start + thanks[manage_start..].find('"').unwrap()].to_owned();
    let donation_id: String = sqlx::query_scalar("SELECT id FROM donations WHERE interval = 'once' LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let public_pages = vec![
        visit("home", "/".into()),
        Visit {
            name: "donate-422",
            url: "/".into(),
            submit: Some(DONATE_TOO_LONG),
            check: Some(REFUSED_NAME),
        },
        visit("demo-checkout", open_checkout.clone()),
        visit(
            "demo-checkout-paid",
            paid[0]
                .replace("/thanks?session_id=", "/demo/checkout/")
                .split('&')
                .next()
                .unwrap()
                .to_owned(),
        ),
        visit("thanks", thanks_path.clone()),
        visit("wall", "/supporters".into()),
        visit("widget", "/widget".into()),
        Visit {
            check: Some(PREVIEW_WHOLE),
            ..visit("embed", "/embed".into())
        },
        visit("manage", manage.clone()),
        Visit {
            name: "manage-422",
            url: manage.clone(),
            submit: Some(MANAGE_TOO_LONG),
            check: Some(REFUSED_NAME),
        },
        Visit {
            name: "erase-422",
            url: manage.clone(),
            submit: Some(ERASE_UNTICKED),
            check: Some(ERASE_ERROR_BELOW),
        },
        visit("not-found", "/no/such/page".into()),
        visit("admin-login", "/admin/login".into()),
        visit("demo-checkout-monthly", monthly_checkout.clone()),
        visit("thanks-monthly", monthly_thanks.clone()),
        visit("manage-monthly", monthly_manage.clone()),
        visit("kuendigen", "/kuendigen".into()),
        Visit {
            name: "kuendigen-422",
            url: "/kuendigen".into(),
            submit: Some(CANCEL_BAD_EMAIL),
            check: None,
        },
        visit("kuendigen-done", confirmation.clone()),
    ];
    let words_whole = |name, url| Visit {
        check: Some(WORDS_WHOLE),
        ..visit(name, url)
    };
    let admin_pages = vec![
        words_whole("admin-list", "/admin".into()),
        words_whole("admin-donation", format!("/admin/donations/{donation_id}")),
        words_whole("admin-donation-monthly", format!("/admin/donations/{monthly_id}")),
        words_whole("admin-events", "/admin/events".into()),
        words_whole("admin-notifications", "/admin/notifications".into()),
    ];

    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    let mut problems = Vec::new();
    let mut audited = 0;
    for (admin, pages) in [(false, &public_pages), (true, &admin_pages)] {
        if admin {
            sign_in(&c, &app).await;
        }
        for v in pages {
            for lang in ["de", "en"] {
                for (width, label) in WIDTHS {
                    c.set_window_size(width, 900).await.unwrap();
                    go(&c, &app, v, lang).await;
                    let inner = c.execute("return window.innerWidth;", vec![]).await.unwrap();
                    assert!(
                        inner.as_i64().is_some_and(|w| w <= i64::from(width)),
                        "the window is {inner} wide, not {width}"
                    );
                    let html_lang = c
                        .execute("return document.documentElement.lang;", vec![])
                        .await
                        .unwrap();
                    assert_eq!(html_lang, json!(lang), "{} {lang}", v.name);
                    for violation in axe(&c, &source).await {
                        problems.push(format!("{} ({lang}, {label}): {violation}", v.name));
                    }
                    if let Some(check) = v.check {
                        // Checks may wait for something (a lazy frame) with `await`.
                        let script = format!(
                            "const done = arguments[arguments.length - 1];
                            (async () => {{ {check} }})().then(done, e => done(String(e)));"
                        );
                        let ok = c.execute_async(&script, vec![]).await.unwrap();
                        if ok != json!(true) {
                            problems.push(format!(
                                "{} ({lang}, {label}): check failed ({ok}): {check}",
                                v.name
                            ));
                        }
                    }
                    let overflow = sideways(&c).await;
                    if overflow > 0 {
                        problems.push(format!(
                            "{} ({lang}, {label}): scrolls sideways by {overflow} px",
                            v.name
                        ));
                    }
                    let png = c.screenshot().await.unwrap();
                    let suffix = if lang == "de" { "" } else { "-en" };
                    std::fs::write(
                        screenshots_dir().join(format!("audit-{}-{label}{suffix}.png", v.name)),
                        png,
                    )
                    .unwrap();
                    audited += 1;
                }
            }
        }
    }
    c.close().await.unwrap();
    assert_eq!(audited, (public_pages.len() + admin_pages.len()) * 4);
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Signs in through the login form, as the blogger would.
async fn sign_in(c: &Client, app: &TestApp) {
    c.set_window_size(1280, 900).await.unwrap();
    c.goto(&app.url("/admin/login")).await.unwrap();
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(ADMIN_TOKEN)
        .await
        .unwrap();
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("table.admin, .admin-nav"))
        .await
        .unwrap();
}
