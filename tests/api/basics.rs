//! The basics every page needs: icon, description, robots.txt, long-cached versioned assets,
//! compression only where nothing secret is on the page, and the small markup fixes.

use crate::helpers::*;

async fn gzip_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("Accept-Encoding", "gzip")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

fn attr_after<'a>(page: &'a str, marker: &str) -> &'a str {
    let start = page.find(marker).unwrap_or_else(|| panic!("{marker} in {page}")) + marker.len();
    &page[start..start + page[start..].find('"').unwrap()]
}

#[tokio::test]
async fn public_answers_are_compressed_and_pages_with_secrets_never_are() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_gz").public("Anna", "Danke").paid().await;
    let style = attr_after(
        &app.get("/").await.text().await.unwrap(),
        "rel=\"stylesheet\" href=\"",
    )
    .to_owned();

    for public in [
        "/supporters",
        "/supporters.atom",
        "/api/supporters",
        "/api/stats",
        "/badge.svg",
        style.as_str(),
    ] {
        let response = gzip_get(&app, public).await;
        assert_eq!(response.status(), 200, "{public}");
        assert_eq!(
            response
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            Some("gzip"),
            "{public}"
        );
    }
    let secrets = [
        "/",                        // the form's nonce
        "/widget",                  // the form's nonce
        "/thanks?session_id=cs_gz", // the manage link
        "/admin",                   // the CSRF token (bearer here, a session in a browser)
        "/admin/login",
        "/embed",
    ];
    for private in secrets {
        let response = gzip_get(&app, private).await;
        assert!(response.status().is_success(), "{private}: {}", response.status());
        assert!(
            response.headers().get("content-encoding").is_none(),
            "{private} must not be compressed"
        );
    }
}

#[tokio::test]
async fn the_icon_description_robots_and_versioned_stylesheet_are_served() {
    let app = spawn_app().await;
    let home = app.get("/").await.text().await.unwrap();
    let en = app.get("/?lang=en").await.text().await.unwrap();

    let style = attr_after(&home, "rel=\"stylesheet\" href=\"");
    let icon = attr_after(&home, "rel=\"icon\" href=\"");
    assert!(
        style.starts_with("/static/style.") && style.len() > "/static/style.css".len(),
        "{style}"
    );
    let sheet = app.get(style).await;
    assert_eq!(
        sheet.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(sheet.text().await.unwrap().contains("overflow-wrap: anywhere"));
    assert_eq!(
        app.get("/static/style.0000000000.css").await.status(),
        404,
        "an old version is gone"
    );
    let svg = app.get(icon).await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let icon = app.get("/favicon.ico").await;
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/x-icon");
    let bytes = icon.bytes().await.unwrap();
    assert_eq!(&bytes[..4], &[0, 0, 1, 0], "an ICO header");
    assert_eq!(&bytes[22..26], b"\x89PNG", "holding a PNG");
    assert!(attr_after(&home, "name=\"description\" content=\"").starts_with("Spendiere mir einen Kaffee"));
    assert!(attr_after(&en, "name=\"description\" content=\"").starts_with("Buy me a coffee"));
    let robots = app.get("/robots.txt").await.text().await.unwrap();
    for private in ["/admin", "/api/admin", "/manage", "/thanks", "/demo"] {
        assert!(robots.contains(&format!("Disallow: {private}\n")), "{robots}");
    }
    assert!(robots.contains("Allow: /\n"));
}

#[tokio::test]
async fn the_demo_checkout_of_a_paid_session_shows_its_state_not_the_pay_button() {
    let app = spawn_demo_app().await;
    let started = app.post_form("/donate", &[("coffees", "1")]).await;
    let checkout = started.headers()["location"].to_str().unwrap().to_owned();
    let path = checkout.trim_start_matches(&app.address).to_owned();
    let open = app.get(&path).await.text().await.unwrap();
    let (path, _) = path.split_once('?').unwrap();
    assert!(open.contains(">Bezahlen</button>"));

    let paid = app
        .client
        .post(app.url(&format!("{path}/pay")))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let after = app.get(path).await.text().await.unwrap();

    assert!(!after.contains(">Bezahlen</button>"), "{after}");
    assert!(after.contains("Diese Testzahlung ist bereits bezahlt."));
    assert!(after.contains("/thanks?session_id="));
}

#[tokio::test]
async fn the_widget_has_a_heading_the_snippets_their_own_labels_and_the_iframe_a_title() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_events").paid().await;
    let widget = app.get("/widget").await.text().await.unwrap();
    let embed = app.get("/embed").await.text().await.unwrap();
    let events = app.admin_get("/admin/events").await.text().await.unwrap();

    assert!(widget.contains("<h1 class=\"totals\" id=\"widget-totals\">"));
    let labels: Vec<&str> = embed
        .match_indices("<label for=\"code-")
        .map(|(i, _)| &embed[i..i + embed[i..].find("</label>").unwrap()])
        .collect();
    assert_eq!(labels.len(), 5);
    let distinct: std::collections::HashSet<_> = labels.iter().collect();
    assert_eq!(distinct.len(), 5, "{labels:?}");
    assert!(
        embed.contains("title=\"Kaffeekasse – Unterstützer:innen und Button\""),
        "{embed}"
    );
    assert!(events.contains("<span class=\"visually-hidden\">Aktionen</span>"));
}
