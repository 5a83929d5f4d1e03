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

/// Everything the server writes for one request on a fresh connection, read until it closes.
async fn raw(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn on_the_wire_a_head_answer_ends_with_its_headers() {
    // An HTTP client never reads a HEAD answer's body, so only the raw bytes can show one.
    let app = spawn_app().await;
    for path in ["/", "/supporters", "/api/stats", "/healthz"] {
        let answer = raw(
            &app,
            &format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        let (head, rest) = answer.split_once("\r\n\r\n").expect("a complete header block");
        assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
        assert!(
            head.to_ascii_lowercase().contains("content-length: "),
            "{path}: {head}"
        );
        assert_eq!(rest, "", "{path}: no body after the headers");
    }
    let get = raw(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        get.ends_with("\r\n\r\nok"),
        "the same request with GET does carry its body: {get}"
    );
}
