//! Caching for the public read endpoints: an ETag over the body, `If-None-Match` → 304, and a
//! short `Cache-Control`, so a blog with many readers costs us little. The ETag is weak: the same
//! content goes out gzipped or not, and a strong one would have to differ between the two.

use actix_web::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, ETAG, IF_NONE_MATCH, VARY};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

pub struct Cached<'a> {
    pub content_type: &'a str,
    pub max_age_secs: u32,
    /// `Access-Control-Allow-Origin: *`, for endpoints meant to be read from other sites.
    pub cors: bool,
}

impl Cached<'_> {
    pub fn respond(&self, req: &HttpRequest, body: String) -> HttpResponse {
        let tag = format!("\"{}\"", hex::encode(&Sha256::digest(body.as_bytes())[..12]));
        let fresh = req
            .headers()
            .get(IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .map(|t| t.trim().trim_start_matches("W/"))
                    .any(|t| t == tag || t == "*")
            });
        let mut builder = if fresh {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        builder
            .insert_header((ETAG, format!("W/{tag}")))
            .insert_header((CACHE_CONTROL, format!("public, max-age={}", self.max_age_secs)))
            .insert_header((VARY, "Accept-Language"));
        if self.cors {
            builder.insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
        }
        if fresh {
            builder.finish()
        } else {
            builder.content_type(self.content_type).body(body)
        }
    }
}
