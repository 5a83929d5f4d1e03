//! Static assets, compiled into the binary so the service is a single file.

use actix_web::HttpResponse;

const STYLE: &str = include_str!("../../static/style.css");

pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(STYLE)
}
