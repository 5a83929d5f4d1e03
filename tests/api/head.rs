//! `HEAD` answers wherever `GET` does, with the same headers and no body.

use crate::helpers::*;

#[tokio::test]
async fn head_works_on_every_get_route_and_sends_no_body() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_head").public("Anna", "Danke").paid().await;
    let paths = [
        "/",
        "/?lang=en",
        "/supporters",
        "/supporters.atom",
        "/api/supporters",
        "/api/stats",
        "/badge.svg",
        "/embed",
        "/widget",
        "/healthz",
        "/readyz",
        "/static/style.css",
        "/thanks?session_id=cs_head",
        "/admin/login",
    ];
    for path in paths {
        let get = app.get(path).await;
        let head = app.client.head(app.url(path)).send().await.unwrap();

        assert_eq!(head.status(), get.status(), "{path}");
        assert!(get.status().is_success(), "{path}: {}", get.status());
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        let get_length = get.bytes().await.unwrap().len();
        let declared = head
            .headers()
            .get("content-length")
            .map(|l| l.to_str().unwrap().to_owned());
        assert_eq!(
            declared,
            Some(get_length.to_string()),
            "{path}: the length GET would send"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
    // A POST-only route is still 405 for HEAD, as for GET.
    let donate = app.client.head(app.url("/donate")).send().await.unwrap();
    assert_eq!(donate.status(), 405);
}
