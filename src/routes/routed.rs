//! The path as routing saw it, for middleware that decides by route.

/// The matched pattern, or else the path as routing decoded it (`/%74hanks` is `/thanks`).
/// Never the raw path, which an encoded letter disguises.
pub fn path(req: &actix_web::HttpRequest) -> String {
    req.match_pattern()
        .unwrap_or_else(|| req.match_info().as_str().to_owned())
}
