//! The blogger's side: `/admin` (HTML) and `/api/admin` (JSON), both behind `ADMIN_TOKEN` and
//! guarded by the [`guard::Admin`] extractor.

mod actions;
mod api;
mod export;
mod guard;
mod login;
mod monthly;
mod notifications;
mod pages;
mod views;

use actix_web::web;

use super::method;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .service(
                web::resource("/login")
                    .route(method::get().to(login::form))
                    .route(web::post().to(login::submit)),
            )
            .service(web::resource("/logout").route(web::post().to(login::logout)))
            .service(web::resource("/logout-all").route(web::post().to(login::logout_all)))
            .service(web::resource("").route(method::get().to(pages::list)))
            .service(web::resource("/").route(method::get().to(pages::list)))
            .service(web::resource("/donations/{id}").route(method::get().to(pages::detail)))
            .service(web::resource("/donations/{id}/{action}").route(web::post().to(pages::act)))
            .service(web::resource("/events").route(method::get().to(pages::events)))
            .service(web::resource("/events/{id}/replay").route(web::post().to(pages::replay)))
            .service(web::resource("/notifications").route(method::get().to(notifications::page)))
            .service(web::resource("/notifications/test").route(web::post().to(notifications::send_test)))
            .default_service(web::to(pages::unknown)),
    )
    .service(
        web::scope("/api/admin")
            .service(web::resource("/donations").route(method::get().to(api::list)))
            .service(web::resource("/donations.csv").route(method::get().to(export::csv)))
            .service(web::resource("/donations/{id}").route(method::get().to(api::detail)))
            .service(web::resource("/donations/{id}/{action}").route(web::post().to(api::act)))
            .service(web::resource("/totals").route(method::get().to(api::totals)))
            .service(web::resource("/events").route(method::get().to(api::events)))
            .service(web::resource("/events/{id}/replay").route(web::post().to(api::replay)))
            .service(web::resource("/notifications").route(method::get().to(notifications::api_list)))
            .service(web::resource("/notifications/test").route(web::post().to(notifications::api_send_test)))
            .default_service(web::to(api::unknown)),
    );
}
