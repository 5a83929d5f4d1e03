//! The blogger's side: `/admin` (HTML) and `/api/admin` (JSON), both behind `ADMIN_TOKEN` and
//! guarded by the [`guard::Admin`] extractor.

mod actions;
mod api;
mod export;
mod guard;
mod login;
mod pages;
mod views;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/login", web::get().to(login::form))
            .route("/login", web::post().to(login::submit))
            .route("/logout", web::post().to(login::logout))
            .route("/logout-all", web::post().to(login::logout_all))
            .route("", web::get().to(pages::list))
            .route("/", web::get().to(pages::list))
            .route("/donations/{id}", web::get().to(pages::detail))
            .route("/donations/{id}/{action}", web::post().to(pages::act))
            .route("/events", web::get().to(pages::events))
            .route("/events/{id}/replay", web::post().to(pages::replay))
            .default_service(web::to(pages::unknown)),
    )
    .service(
        web::scope("/api/admin")
            .route("/donations", web::get().to(api::list))
            .route("/donations.csv", web::get().to(export::csv))
            .route("/donations/{id}", web::get().to(api::detail))
            .route("/donations/{id}/{action}", web::post().to(api::act))
            .route("/totals", web::get().to(api::totals))
            .route("/events", web::get().to(api::events))
            .route("/events/{id}/replay", web::post().to(api::replay))
            .default_service(web::to(api::unknown)),
    );
}
