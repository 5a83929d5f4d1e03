//! Whether a browser request comes from our own pages, for state changes that ride on ambient
//! credentials (the admin cookie) or on a capability in the URL (the donor's manage link).

use actix_web::HttpRequest;
use url::{Origin, Url};

/// `Origin`, or failing that `Referer`, must be the public URL's origin. Compared as origins
/// (scheme, host and port, with case and default ports normalised by the `url` crate), never as
/// strings, so `https://kaffee.example.de.evil.example` is not ours and `HTTPS://Kaffee…:443` is.
pub fn same_origin(req: &HttpRequest, public_url: &str) -> bool {
    let Some(ours) = origin_of(public_url) else {
        return false;
    };
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    // A present Origin decides alone, even when it is `null` (a sandboxed frame, a redirect).
    match header("Origin").or_else(|| header("Referer")) {
        Some(theirs) => origin_of(theirs).is_some_and(|o| o == ours),
        None => false,
    }
}

fn origin_of(raw: &str) -> Option<Origin> {
    let origin = Url::parse(raw).ok()?.origin();
    origin.is_tuple().then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(headers: &[(&str, &str)]) -> HttpRequest {
        headers
            .iter()
            .fold(TestRequest::default(), |r, h| r.insert_header(*h))
            .to_http_request()
    }

    #[test]
    fn origin_wins_and_a_referer_must_be_on_our_origin() {
        let ours = "https://kaffee.example.de";
        assert!(same_origin(&req(&[("Origin", ours)]), ours));
        assert!(same_origin(
            &req(&[("Origin", "HTTPS://Kaffee.Example.DE:443")]),
            ours
        ));
        assert!(same_origin(
            &req(&[("Origin", "https://example.de")]),
            "https://example.de/kaffee"
        ));
        let evil = [
            ("Origin", "https://evil.example"),
            ("Referer", "https://kaffee.example.de/x"),
        ];
        assert!(!same_origin(&req(&evil), ours));
        assert!(!same_origin(
            &req(&[("Origin", "null"), ("Referer", "https://kaffee.example.de/")]),
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
        assert!(
            !same_origin(&req(&[("Referer", "http://kaffee.example.de/")]), ours),
            "another scheme"
        );
        assert!(
            !same_origin(&req(&[("Origin", "https://kaffee.example.de:8443")]), ours),
            "another port"
        );
        assert!(!same_origin(&req(&[]), ours));
    }
}
