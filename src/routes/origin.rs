//! Whether a browser request comes from our own pages, for state changes that ride on ambient
//! credentials (the admin cookie) or on a capability in the URL (the donor's manage link).

use actix_web::HttpRequest;

/// `Origin`, or failing that `Referer`, must be the public URL's origin.
pub fn same_origin(req: &HttpRequest, public_url: &str) -> bool {
    let origin = public_origin(public_url);
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    match (header("Origin"), header("Referer")) {
        (Some(o), _) => o == origin,
        (None, Some(r)) => r == origin || r.starts_with(&format!("{origin}/")),
        (None, None) => false,
    }
}

fn public_origin(public_url: &str) -> &str {
    let after_scheme = public_url.find("://").map_or(0, |i| i + 3);
    match public_url[after_scheme..].find('/') {
        Some(i) => &public_url[..after_scheme + i],
        None => public_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_public_origin_drops_any_path() {
        assert_eq!(
            public_origin("https://kaffee.example.de"),
            "https://kaffee.example.de"
        );
        assert_eq!(public_origin("https://example.de/kaffee"), "https://example.de");
        assert_eq!(public_origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn origin_wins_and_a_referer_must_be_on_our_origin() {
        let ours = "https://kaffee.example.de";
        let req = |headers: &[(&str, &str)]| {
            headers
                .iter()
                .fold(TestRequest::default(), |r, h| r.insert_header(*h))
                .to_http_request()
        };
        assert!(same_origin(&req(&[("Origin", ours)]), ours));
        assert!(!same_origin(
            &req(&[
                ("Origin", "https://evil.example"),
                ("Referer", "https://kaffee.example.de/x")
            ]),
            ours
        ));
        assert!(same_origin(
            &req(&[("Referer", "https://kaffee.example.de/admin")]),
            ours
        ));
        assert!(!same_origin(
            &req(&[("Referer", "https://kaffee.example.de.evil.example/")]),
            ours
        ));
        assert!(!same_origin(&req(&[]), ours));
    }
}
