//! No reader meets a framework's plain-text error: every route, fed a missing, empty or garbage
//! parameter, answers with our translated page (or JSON where JSON is spoken), in the reader's
//! language, with a fitting status.

use crate::helpers::*;

/// A URL, and the body's content type and bytes.
type BadRequest = (String, Option<(&'static str, Vec<u8>)>);

/// Each registered route in three bad shapes: its parameters missing, empty, and garbage.
fn bad_requests(method: &str, path: &str) -> Vec<BadRequest> {
    let with = |param: &str| {
        path.replace("{id}", param)
            .replace("{action}", param)
            .replace("{token}", param)
    };
    let garbage_query = "?session_id=%FF%FE&before=%%zz&cursor=%00&limit=-1&status=%3Cx%3E&month=13-99";
    match method {
        "GET" => vec![
            (with("x"), None),
            (
                format!("{}?session_id=&before=&cursor=&limit=", with("%20")),
                None,
            ),
            (format!("{}{garbage_query}", with("%FF%00")), None),
        ],
        _ => vec![
            (with("x"), None),
            (
                with("%20"),
                Some(("application/x-www-form-urlencoded", Vec::new())),
            ),
            (
                with("%FF%00"),
                Some(("application/x-www-form-urlencoded", b"%%%\xff\x00=&&=".to_vec())),
            ),
            (with("x"), Some(("application/json", b"{\"coffees\": [".to_vec()))),
            (with("x"), Some(("text/plain", b"\xff\xfe".to_vec()))),
        ],
    }
}

/// Stripe with a new session for every creation: an empty POST to /donate is a valid request
/// for one coffee.
struct EverySession(std::sync::atomic::AtomicUsize);

impl wiremock::Respond for EverySession {
    fn respond(&self, _: &wiremock::Request) -> wiremock::ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        wiremock::ResponseTemplate::new(200).set_body_json(created_session(&format!("cs_walk_{n}")))
    }
}

#[tokio::test]
async fn every_route_answers_bad_input_with_our_page_or_json_in_the_readers_language() {
    let app = TestApp::with_admin(&[("METRICS_TOKEN", "metrics-token-0123456789abcdef01234567")]).await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(EverySession(Default::default()))
        .mount(&app.stripe.server)
        .await;
    let routes = registered_routes();
    assert!(routes.len() >= 30);
    let mut checked = 0;
    for (method, path) in &routes {
        if path == "/healthz" || path == "/metrics" || path == "/robots.txt" {
            continue; // plain text on purpose, for probes and Prometheus
        }
        for (url, body) in bad_requests(method, path) {
            for lang in ["de", "en"] {
                let mut request = match method.as_str() {
                    "GET" => app.client.get(app.url(&url)),
                    _ => app.client.post(app.url(&url)).header("Origin", &app.address),
                }
                .header("Accept-Language", lang)
                .bearer_auth(ADMIN_TOKEN);
                if let Some((content_type, bytes)) = &body {
                    request = request.header("Content-Type", *content_type).body(bytes.clone());
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let text = response.text().await.unwrap();
                let what = format!("{method} {url} ({lang}) → {status} {content_type}");
                assert!(!status.is_server_error(), "{what}: {text}");
                if status.is_redirection() {
                    continue;
                }
                assert!(
                    content_type.starts_with("text/html")
                        || content_type.starts_with("application/json")
                        || content_type.starts_with("image/svg")
                        || content_type == "image/x-icon"
                        || content_type.starts_with("application/atom")
                        || content_type.starts_with("text/css")
                        || content_type.starts_with("text/csv"),
                    "{what}: no framework message in plain text: {text}"
                );
                for leak in [
                    "deserialize",
                    "Deserialize",
                    "Content type error",
                    "Json payload",
                    "Parse error",
                ] {
                    assert!(!text.contains(leak), "{what}: leaks {leak:?}: {text}");
                }
                if content_type.starts_with("text/html") {
                    assert!(
                        text.contains(&format!("<html lang=\"{lang}\">")),
                        "{what}: in the reader's language"
                    );
                }
                if content_type.starts_with("application/json") && status.is_client_error() {
                    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                    assert!(json["error"]["message"].is_string(), "{what}: {text}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 150, "{checked} requests checked");
}

/// A method a path does not serve is a 405 naming the ones it does, on our page (or in JSON),
/// for every registered path: never a 404 that hides the page.
#[tokio::test]
async fn every_path_answers_a_method_it_does_not_serve_with_405_and_allow() {
    let app = TestApp::with_admin(&[("METRICS_TOKEN", "metrics-token-0123456789abcdef01234567")]).await;
    let routes = registered_routes();
    let paths: std::collections::BTreeSet<&String> = routes.iter().map(|(_, p)| p).collect();
    let mut checked = 0;
    for path in paths {
        if path.starts_with("/demo/") {
            continue; // only there in demo mode; elsewhere the path itself is unknown
        }
        let serves = |m: &str| routes.contains(&(m.to_owned(), path.clone()));
        let wrong = if !serves("GET") {
            reqwest::Method::GET
        } else if !serves("POST") {
            reqwest::Method::POST
        } else {
            reqwest::Method::PUT
        };
        let url = app.url(
            &path
                .replace("{id}", "x")
                .replace("{action}", "x")
                .replace("{token}", "x"),
        );
        let response = app
            .client
            .request(wrong.clone(), url)
            .header("Accept-Language", "en")
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let what = format!("{wrong} {path}");
        assert_eq!(response.status(), 405, "{what}");
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        for served in ["GET", "POST"] {
            assert_eq!(allow.contains(served), serves(served), "{what}: Allow: {allow}");
        }
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        if path.starts_with("/api/") || path.starts_with("/webhooks/") {
            assert!(
                content_type.starts_with("application/json"),
                "{what}: {content_type}"
            );
        } else if path != "/healthz" && path != "/metrics" && path != "/robots.txt" {
            assert!(text.contains("<html lang=\"en\">"), "{what}: {text}");
        }
        checked += 1;
    }
    assert!(checked >= 30, "{checked} paths checked");
}

#[tokio::test]
async fn the_cases_readers_met_answer_with_the_right_status_and_page() {
    let app = spawn_app().await;
    let german = |path: &str| {
        app.client
            .get(app.url(path))
            .header("Accept-Language", "de")
            .send()
    };

    let no_session = german("/thanks").await.unwrap();
    let get_donate = german("/donate").await.unwrap();
    let bad_limit = german("/api/supporters?limit=abc").await.unwrap();
    let unknown_api = german("/api/nope").await.unwrap();
    let bad_json = app
        .client
        .post(app.url("/donate"))
        .header("Content-Type", "application/json")
        .body("{\"coffees\": [")
        .send()
        .await
        .unwrap();
    let too_big = app
        .client
        .post(app.url("/donate"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 20 * 1024])
        .send()
        .await
        .unwrap();

    assert_eq!(no_session.status(), 400);
    assert!(
        no_session
            .text()
            .await
            .unwrap()
            .contains("Diese Adresse ist unvollständig")
    );
    assert_eq!(get_donate.status(), 405);
    assert!(
        get_donate
            .text()
            .await
            .unwrap()
            .contains("lässt sich so nicht aufrufen")
    );
    assert_eq!(bad_limit.status(), 400);
    assert_eq!(bad_limit.headers()["content-type"], "application/json");
    assert_eq!(unknown_api.status(), 404);
    assert_eq!(unknown_api.headers()["content-type"], "application/json");
    assert_eq!(bad_json.status(), 400);
    assert_eq!(bad_json.headers()["content-type"], "application/json");
    assert_eq!(too_big.status(), 413);
    assert!(too_big.text().await.unwrap().contains("Die Anfrage ist zu groß"));

    // The forms post to /donate?lang=…: a refusal before the handler reads the form's fields
    // still speaks the form's language, whatever the browser prefers.
    let home = app
        .client
        .get(app.url("/?lang=en"))
        .header("Accept-Language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains(r#"action="/donate?lang=en""#), "{home}");
    let too_big_en = app
        .client
        .post(app.url("/donate?lang=en"))
        .header("Accept-Language", "de")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 20 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big_en.status(), 413);
    let page = too_big_en.text().await.unwrap();
    assert!(page.contains(r#"<html lang="en">"#), "{page}");

    // Routing decodes the path, and so does the choice between page and JSON.
    let encoded_api = german("/%61pi/supporters?limit=abc").await.unwrap();
    assert_eq!(encoded_api.status(), 400);
    assert_eq!(encoded_api.headers()["content-type"], "application/json");
}

/// The language link of a page, as the reader would follow it.
fn switch_link(page: &str) -> String {
    let marker = "hreflang=";
    let end = page.find(marker).expect("a language link");
    let start = page[..end].rfind("href=\"").unwrap() + "href=\"".len();
    page[start..page[start..].find('"').unwrap() + start]
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_language_switch_keeps_the_page_and_leads_from_a_post_to_its_get_page() {
    let app = spawn_app().await;
    app.donation("cs_switch").paid().await;

    let thanks = app
        .get("/thanks?session_id=cs_switch")
        .await
        .text()
        .await
        .unwrap();
    let to_english = switch_link(&thanks);
    let refused = app.post_form("/donate", &[("coffees", "99")]).await;
    assert_eq!(refused.status(), 422);
    let refused = refused.text().await.unwrap();

    assert_eq!(to_english, "/thanks?session_id=cs_switch&lang=en");
    let english = app.get(&to_english).await;
    assert_eq!(english.status(), 200);
    assert!(english.text().await.unwrap().contains("<html lang=\"en\">"));
    assert_eq!(switch_link(&refused), "/?lang=en");
    assert!(
        refused.contains("<title>Fehler: "),
        "422 pages say so in their title"
    );
    assert!(
        refused.contains("tabindex=\"-1\" autofocus"),
        "the summary takes focus"
    );
}

#[tokio::test]
async fn a_refused_manage_change_shows_a_summary_and_what_is_stored() {
    let app = spawn_app().await;
    app.donation("cs_keep").public("Anna", "Danke").paid().await;
    let path = crate::privacy::manage_path(&app, "cs_keep").await;

    let refused =
        crate::privacy::post_manage(&app, &path, &[("name", &"N".repeat(61)), ("public", "on")]).await;
    let erase = crate::privacy::post_manage(&app, &format!("{path}/erase"), &[]).await;

    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("<title>Fehler: "), "{page}");
    assert!(page.contains(
        "class=\"errors\" role=\"alert\" aria-labelledby=\"error-heading\" tabindex=\"-1\" autofocus"
    ));
    assert!(
        page.contains("<strong>Anna – 1 Kaffee</strong>"),
        "the stored entry is what is shown"
    );
    assert!(
        page.contains(&format!("value=\"{}\"", "N".repeat(61))),
        "the rejected input stays to be fixed"
    );
    assert_eq!(switch_link(&page), format!("{path}?lang=en"));
    assert_eq!(erase.status(), 422);
    assert_eq!(
        switch_link(&erase.text().await.unwrap()),
        format!("{path}?lang=en")
    );
}
