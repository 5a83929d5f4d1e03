//! The blogger's side: `/admin` (HTML) and `/api/admin` (JSON), both behind `ADMIN_TOKEN` and
//! guarded by the [`guard::Admin`] extractor.

mod actions;
mod api;
mod export;
mod guard;
mod login;
mod notifications;
mod pages;
mod views;

use actix_web::web;

use super::method;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/login", method::get().to(login::form))
            .route("/login", web::post().to(login::submit))
            .route("/logout", web::post().to(login::logout))
            .route("/logout-all", web::post().to(login::logout_all))
            .route("", method::get().to(pages::list))
            .route("/", method::get().to(pages::list))
            .route("/donations/{id}", method::get().to(pages::detail))
            .route("/donations/{id}/{action}", web::post().to(pages::act))
            .route("/events", method::get().to(pages::events))
            .route("/events/{id}/replay", web::post().to(pages::replay))
            .route("/notifications", method::get().to(notifications::page))
            .route("/notifications/test", web::post().to(notifications::send_test))
            .default_service(web::to(pages::unknown)),
    )
    .service(
        web::scope("/api/admin")
            .route("/donations", method::get().to(api::list))
            .route("/donations.csv", method::get().to(export::csv))
            .route("/donations/{id}", method::get().to(api::detail))
            .route("/donations/{id}/{action}", web::post().to(api::act))
            .route("/totals", method::get().to(api::totals))
            .route("/events", method::get().to(api::events))
            .route("/events/{id}/replay", web::post().to(api::replay))
            .route("/notifications", method::get().to(notifications::api_list))
            .route(
                "/notifications/test",
                web::post().to(notifications::api_send_test),
            )
            .default_service(web::to(api::unknown)),
    );
}
