//! Static assets, compiled into the binary so the service is a single file.
//!
//! Each is served at a URL carrying a hash of its content (`/static/style.3f2a9c1b04.css`), so
//! browsers may keep it for a year: a new version has a new URL. The plain names still answer,
//! briefly cached, for anything that linked them directly.

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

const STYLE: &str = include_str!("../../static/style.css");
const FAVICON: &str = include_str!("../../static/favicon.svg");

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const BRIEF: &str = "public, max-age=3600";

struct Asset {
    body: &'static str,
    content_type: &'static str,
    /// `/static/<stem>.<hash>.<ext>`
    url: String,
}

impl Asset {
    fn new(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
        let hash = hex::encode(&Sha256::digest(body.as_bytes())[..5]);
        Asset {
            body,
            content_type,
            url: format!("/static/{stem}.{hash}.{ext}"),
        }
    }

    fn serve(&self, cache: &'static str) -> HttpResponse {
        HttpResponse::Ok()
            .content_type(self.content_type)
            .insert_header(("Cache-Control", cache))
            .body(self.body)
    }
}

static STYLE_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("style", "css", STYLE, "text/css; charset=utf-8"));
static FAVICON_ASSET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("favicon", "svg", FAVICON, "image/svg+xml"));

/// The stylesheet's versioned URL, for the pages.
pub fn style_url() -> &'static str {
    &STYLE_ASSET.url
}

/// The favicon's versioned URL, for the pages.
pub fn favicon_url() -> &'static str {
    &FAVICON_ASSET.url
}

/// `/static/{file}`: a versioned URL is kept for a year; the plain name for an hour; any other
/// name (an old version) is a 404, so a stale page fetches nothing wrong.
pub async fn file(path: web::Path<String>) -> Option<HttpResponse> {
    let wanted = format!("/static/{path}");
    [&*STYLE_ASSET, &*FAVICON_ASSET].into_iter().find_map(|asset| {
        let plain = asset.url.split('.').next().map(|stem| {
            let ext = asset.url.rsplit('.').next().unwrap_or_default();
            format!("{stem}.{ext}")
        });
        if wanted == asset.url {
            Some(asset.serve(IMMUTABLE))
        } else if plain.as_deref() == Some(wanted.as_str()) {
            Some(asset.serve(BRIEF))
        } else {
            None
        }
    })
}

/// `/favicon.ico`, which browsers ask for whatever the page says: a real ICO (one 32 px PNG
/// inside, drawn from the SVG icon), which every browser reads, Safari included.
const FAVICON_ICO: &[u8] = include_bytes!("../../static/favicon.ico");

pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header(("Cache-Control", BRIEF))
        .body(FAVICON_ICO)
}

/// Public pages may be indexed; private ones (which carry capabilities or sessions) may not.
pub async fn robots() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", BRIEF))
        .body(ROBOTS)
}

const ROBOTS: &str = "User-agent: *\n\
Allow: /\n\
Disallow: /admin\n\
Disallow: /api/admin\n\
Disallow: /manage\n\
Disallow: /thanks\n\
Disallow: /demo\n";

#[cfg(test)]
mod tests {
    #[test]
    fn versioned_urls_change_with_the_content() {
        let a = super::Asset::new("style", "css", "a{}", "text/css");
        let b = super::Asset::new("style", "css", "b{}", "text/css");
        assert!(a.url.starts_with("/static/style.") && a.url.ends_with(".css"));
        assert_ne!(a.url, b.url);
    }
}
