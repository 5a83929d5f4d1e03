//! Query strings are cheap: one longer than `query::MAX_LEN` bytes is refused with 414, one with
//! more than `query::MAX_PARAMS` parameters with 400, before anything parses it. The answer is
//! bare, so `render_error_pages` dresses it in the reader's language (read from the headers:
//! the refused query is never parsed).

use actix_web::HttpResponse;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

pub async fn refuse_long_queries<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    match crate::query::within_limits(req.query_string()) {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
            let (req, _) = req.into_parts();
            Ok(ServiceResponse::new(req, HttpResponse::build(status).finish()).map_into_right_body())
        }
    }
}
