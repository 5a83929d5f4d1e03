//! A request's query string, parsed once and shared by everything that reads it (the language,
//! the language switch, the handler). A client cannot make a page parse an attacker-sized query
//! several times: `routes::query_limits` refuses one longer than [`MAX_LEN`] bytes or with more
//! than [`MAX_PARAMS`] parameters before anything parses it.

use std::rc::Rc;

use actix_web::{HttpMessage, HttpRequest};

/// The longest query we read (414 beyond); ours are a few dozen bytes.
pub const MAX_LEN: usize = 2048;
/// The most parameters we read (400 beyond); no page knows more than four.
pub const MAX_PARAMS: usize = 32;

#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
    /// The query could not be decoded (it then reads as empty).
    pub unreadable: bool,
}

impl Query {
    /// The request's query, parsed on first use and kept with the request.
    pub fn of(req: &HttpRequest) -> Rc<Query> {
        if let Some(q) = req.extensions().get::<Rc<Query>>() {
            return Rc::clone(q);
        }
        // Over the limits (the request is being refused): read as empty, never parsed.
        let raw = req.query_string();
        let q = Rc::new(match within_limits(raw) {
            Ok(()) => Query::parse(raw),
            Err(_) => Query {
                pairs: Vec::new(),
                unreadable: true,
            },
        });
        req.extensions_mut().insert(Rc::clone(&q));
        q
    }

    pub fn parse(raw: &str) -> Query {
        match serde_urlencoded::from_str::<Vec<(String, String)>>(raw) {
            Ok(pairs) => Query {
                pairs,
                unreadable: false,
            },
            Err(_) => Query {
                pairs: Vec::new(),
                unreadable: true,
            },
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// Whether `raw` is within the limits: `Err` with the status it earns otherwise.
pub fn within_limits(raw: &str) -> Result<(), u16> {
    if raw.len() > MAX_LEN {
        return Err(414);
    }
    if raw.split('&').filter(|p| !p.is_empty()).count() > MAX_PARAMS {
        return Err(400);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_query_is_parsed_once_and_read_by_name() {
        let req = TestRequest::with_uri("/?a=1&b=x%20y&a=2").to_http_request();
        let q = Query::of(&req);
        assert_eq!(
            (q.get("a"), q.get("b"), q.get("c")),
            (Some("1"), Some("x y"), None)
        );
        assert!(
            Rc::ptr_eq(&q, &Query::of(&req)),
            "the same parse, kept with the request"
        );
        let long = format!("/?lang=en&{}", "a&".repeat(MAX_PARAMS));
        let refused = Query::of(&TestRequest::with_uri(&long).to_http_request());
        assert!(
            refused.unreadable && refused.get("lang").is_none(),
            "not parsed at all"
        );
    }

    #[test]
    fn long_queries_and_many_parameters_are_refused() {
        assert_eq!(within_limits(&"a".repeat(MAX_LEN)), Ok(()));
        assert_eq!(within_limits(&"a".repeat(MAX_LEN + 1)), Err(414));
        assert_eq!(within_limits(&"a&".repeat(MAX_PARAMS)), Ok(()));
        assert_eq!(within_limits(&"a&".repeat(MAX_PARAMS + 1)), Err(400));
        assert_eq!(within_limits("&&&&"), Ok(()), "empty pieces are no parameters");
    }
}
