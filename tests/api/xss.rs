//! Nothing a donor types can run as code: a catalogue of payloads against every output.

use serde_json::Value;

use crate::helpers::*;

/// (name, message) pairs; names stay within 60 characters.
pub const PAYLOADS: &[(&str, &str)] = &[
    ("<script>alert(1)</script>", "<script>alert('msg')</script>"),
    ("\"><img src=x onerror=alert(1)>", "'\"><svg onload=alert(1)>"),
    ("javascript:alert(1)", "<a href=\"javascript:alert(1)\">klick</a>"),
    (
        "</title><svg onload=alert(1)>",
        "]]><![CDATA[<script>alert(1)</script>]]>",
    ),
    (
        "&lt;script&gt;",
        "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>&xxe;",
    ),
    ("' onmouseover='alert(1)", "</text><script>alert(1)</script>"),
];

/// Markup that would execute or inject if a payload came through unescaped.
const DANGEROUS: &[&str] = &[
    "<script>alert",
    "<img src=x",
    "<svg onload",
    "href=\"javascript:",
    "<!ENTITY",
    "<![CDATA[<script",
    "</title><svg",
    "' onmouseover='",
    "&lt;script&gt;", // the literal text must arrive double-escaped, not decoded into a tag
];

#[tokio::test]
async fn no_payload_survives_unescaped_in_html_svg_atom_or_json() {
    // Moderation off: every payload must reach the outputs to be tested there.
    let app = spawn_app_with(&[("SITE_NAME", "Kaffee <b>&</b> \"Kuchen\""), ("MODERATION", "off")]).await;
    for (i, (name, message)) in PAYLOADS.iter().enumerate() {
        app.donation(&format!("cs_xss_{i}"))
            .public(name, message)
            .paid()
            .await;
    }

    let outputs = [
        ("/", "text/html"),
        ("/supporters", "text/html"),
        ("/supporters?lang=en", "text/html"),
        ("/widget", "text/html"),
        ("/embed", "text/html"),
        ("/badge.svg", "image/svg+xml"),
        ("/supporters.atom", "application/atom+xml"),
    ];
    for (path, content_type) in outputs {
        let response = app.get(path).await;
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}"
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
        let body = response.text().await.unwrap();
        for bad in DANGEROUS {
            assert!(!body.contains(bad), "{path} contains {bad:?}");
        }
        assert!(!body.contains("<b>&</b>"), "{path} leaks the site name unescaped");
    }
    // The wall shows the payloads as text, escaped.
    let wall = app.get("/supporters").await.text().await.unwrap();
    assert!(
        wall.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{wall}"
    );
    assert!(
        wall.contains("&#38;lt;script&#38;gt;"),
        "literal entities are escaped again"
    );

    // JSON carries the exact text (clients must escape it), as JSON with nosniff.
    let response = app.get("/api/supporters").await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    let names: Vec<&str> = body["supporters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for (name, _) in PAYLOADS {
        assert!(names.contains(name), "{name} round-trips exactly");
    }
}

#[tokio::test]
async fn bidi_overrides_and_control_characters_are_refused_at_the_door() {
    let app = spawn_app().await;
    for (name, message) in [
        ("Anna\u{202E}gnp.exe", ""),
        ("Anna", "Hi\u{2066}x"),
        ("Nul\u{0}", ""),
        ("Bell\u{7}", ""),
    ] {
        let response = app
            .post_json(
                "/donate",
                &serde_json::json!({"coffees": 1, "name": name, "message": message, "public": true}),
            )
            .await;
        assert_eq!(response.status(), 422, "{name:?} / {message:?}");
    }
    assert_eq!(app.count("donations").await, 0);
}
