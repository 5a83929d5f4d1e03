//! `HEAD` wherever `GET` works: uptime monitors and link checkers probe with it. actix sends a
//! `HEAD` answer's headers (with the length the body would have) and never its body.

use actix_web::{Route, guard, web};

/// A route for `GET` and `HEAD`; use it instead of `web::get()`.
pub fn get() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}
