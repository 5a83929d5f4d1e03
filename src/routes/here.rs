//! Where the reader is, for the language switch: the same page in the other language.
//!
//! A GET page keeps its path and query and only `lang` changes (`/thanks?session_id=…`). A page
//! that answers a POST (the donate form's errors, the manage page's) cannot be fetched again
//! by a link, so its switch leads to the GET page the reader came from.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest};

use crate::i18n::Lang;

/// The query parameters some page reads (`lang` is the switch's own).
const KNOWN_PARAMS: &[&str] = &[
    "session_id",
    "before",
    "cursor",
    "limit",
    "status",
    "month",
    "canceled",
    "saved",
    "format",
    "cancelled",
    "portal",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    /// The path and query without `lang`, ready for `lang=…` to be appended.
    base: String,
}

impl Here {
    pub fn of(req: &HttpRequest) -> Here {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return Here::with(&get_page_of(req.path()), Vec::new());
        }
        // Only what a page reads: anything else a client added is not echoed into the link.
        let query = crate::query::Query::of(req);
        let kept = query
            .pairs()
            .iter()
            .filter(|(k, _)| KNOWN_PARAMS.contains(&k.as_str()))
            .collect();
        Here::with(req.path(), kept)
    }

    fn with(path: &str, kept: Vec<&(String, String)>) -> Here {
        let query = serde_urlencoded::to_string(kept).unwrap_or_default();
        let separator = if query.is_empty() { "" } else { "&" };
        Here {
            base: format!("{}?{query}{separator}", local(path)),
        }
    }

    /// The home page, for a page whose own address no longer leads anywhere.
    pub fn home() -> Here {
        Here {
            base: "/?".to_owned(),
        }
    }

    /// The link to this page in `lang`.
    pub fn in_lang(&self, lang: Lang) -> String {
        format!("{}lang={}", self.base, lang.code())
    }
}

/// The page a POST came from: `/donate` from the home page, a manage action from its manage
/// page, an admin action from its donation or the admin's start, the demo's buttons from the
/// demo checkout.
fn get_page_of(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "manage", token, ..] => format!("/manage/{token}"),
        ["", "admin", "donations", id, _] => format!("/admin/donations/{id}"),
        ["", "admin", "events", ..] => "/admin/events".to_owned(),
        ["", "admin", "notifications", ..] => "/admin/notifications".to_owned(),
        ["", "admin", ..] => "/admin".to_owned(),
        ["", "demo", "checkout", id, ..] => format!("/demo/checkout/{id}"),
        ["", "kuendigen", ..] => "/kuendigen".to_owned(),
        _ => "/".to_owned(),
    }
}

/// Never a link to another site: `//evil.example/x` (or with backslashes, which browsers read
/// as slashes) would be protocol-relative.
fn local(path: &str) -> String {
    let rest = path.trim_start_matches(['/', '\\']);
    format!("/{rest}")
}

impl FromRequest for Here {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Here::of(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn switch(method: Method, uri: &str) -> String {
        Here::of(&TestRequest::default().method(method).uri(uri).to_http_request()).in_lang(Lang::En)
    }

    #[test]
    fn a_get_page_keeps_its_path_and_query_and_only_lang_changes() {
        assert_eq!(
            switch(Method::GET, "/thanks?session_id=cs_1&lang=de"),
            "/thanks?session_id=cs_1&lang=en"
        );
        assert_eq!(
            switch(Method::GET, "/supporters?before=abc%3D%3D"),
            "/supporters?before=abc%3D%3D&lang=en"
        );
        assert_eq!(switch(Method::GET, "/"), "/?lang=en");
        assert_eq!(switch(Method::HEAD, "/widget?lang=de"), "/widget?lang=en");
    }

    #[test]
    fn the_switch_carries_only_the_parameters_a_page_knows() {
        assert_eq!(
            switch(Method::GET, "/?a&b=1&canceled=1&utm_source=x"),
            "/?canceled=1&lang=en"
        );
        assert_eq!(
            switch(Method::GET, "/admin?status=paid&month=2026-11&junk=%3Cscript%3E"),
            "/admin?status=paid&month=2026-11&lang=en"
        );
    }

    #[test]
    fn a_page_answering_a_post_switches_to_the_page_the_reader_came_from() {
        assert_eq!(switch(Method::POST, "/donate"), "/?lang=en");
        assert_eq!(
            switch(Method::POST, "/manage/abc.def?lang=de"),
            "/manage/abc.def?lang=en"
        );
        assert_eq!(
            switch(Method::POST, "/manage/abc.def/erase"),
            "/manage/abc.def?lang=en"
        );
        assert_eq!(
            switch(Method::POST, "/admin/donations/d1/hide"),
            "/admin/donations/d1?lang=en"
        );
        assert_eq!(switch(Method::POST, "/admin/login"), "/admin?lang=en");
        assert_eq!(
            switch(Method::POST, "/admin/events/evt_1/replay"),
            "/admin/events?lang=en"
        );
        assert_eq!(
            switch(Method::POST, "/admin/notifications/test"),
            "/admin/notifications?lang=en"
        );
        assert_eq!(
            switch(Method::POST, "/demo/checkout/cs_demo_1/pay"),
            "/demo/checkout/cs_demo_1?lang=en"
        );
    }

    #[test]
    fn the_switch_never_leads_to_another_site() {
        assert_eq!(switch(Method::GET, "//evil.example/x"), "/evil.example/x?lang=en");
        assert_eq!(
            switch(Method::GET, "/%5Cevil.example"),
            "/%5Cevil.example?lang=en"
        );
    }
}
