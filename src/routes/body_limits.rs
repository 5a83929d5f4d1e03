//! Budgets for what a request holds while it arrives (`budget.rs` keeps the counts):
//!
//! - its body must arrive within `BODY_TIMEOUT_SECS` of its headers (408), not within the 30 s
//!   a whole request may take;
//! - the bytes of bodies not yet answered are capped for the process and for each client (503
//!   with `Retry-After`), so stalled uploads cannot grow memory;
//! - a client past its share of open connections is refused on them (503).
//!
//! The answers are bare, so `render_error_pages` dresses them in the reader's language.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, RETRY_AFTER, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse};
use futures_core::Stream;

use super::client_ip::client_key;
use crate::budget::{BodyBudget, ConnectionSlot};
use crate::client_key::ClientKey;
use crate::state::State;

/// How long a refused client is asked to wait.
const RETRY_AFTER_SECS: &str = "5";

pub async fn budget<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<State>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if req.conn_data::<ConnectionSlot>().is_some_and(|slot| slot.over) {
        return Ok(refuse(req.into_parts().0, Refusal::Connections));
    }
    if !has_body(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let client = client_key(req.request(), &state.abuse.trusted_proxies);
    // A declared length is reserved whole, before a byte is read: a body that cannot fit is
    // refused at once, before the server buffers or the handler allocates anything for it.
    let declared = declared_length(&req);
    if let Some(length) = declared
        && !state.bodies.take(client, length)
    {
        return Ok(refuse(req.into_parts().0, Refusal::OverBudget));
    }
    let ticket = Arc::new(Ticket {
        state: state.clone(),
        client,
        held: AtomicUsize::new(declared.unwrap_or(0)),
        reserved: declared.is_some(),
        refusal: AtomicU8::new(0),
    });
    let body = Budgeted {
        inner: req.take_payload(),
        ticket: Arc::clone(&ticket),
        deadline: Box::pin(tokio::time::sleep(state.abuse.body_timeout)),
        done: false,
    };
    let body: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(body);
    req.set_payload(Payload::Stream { payload: body });
    let response = next.call(req).await?;
    // The bytes stay counted until here: the handler held them until it answered.
    Ok(match Refusal::from_code(ticket.refusal.load(Ordering::Relaxed)) {
        Some(why) => refuse(response.into_parts().0, why),
        None => response.map_into_left_body(),
    })
}

/// The body's length as the request declares it (not for a chunked body), if some route would
/// read that much: a longer one is the caller's mistake, answered 413 by the route unread.
fn declared_length(req: &ServiceRequest) -> Option<usize> {
    if req.headers().contains_key(TRANSFER_ENCODING) {
        return None;
    }
    req.headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|length| *length <= super::WEBHOOK_BODY_LIMIT.max(super::DEFAULT_BODY_LIMIT))
}

/// Whether the request says it has a body (GETs and HEADs normally do not, and skip all this).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    let length = headers.get(CONTENT_LENGTH).map(|v| v.as_bytes().trim_ascii());
    headers.contains_key(TRANSFER_ENCODING) || length.is_some_and(|l| l != b"0")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    TooSlow = 1,
    OverBudget = 2,
    Connections = 3,
}

impl Refusal {
    fn from_code(code: u8) -> Option<Refusal> {
        [Refusal::TooSlow, Refusal::OverBudget, Refusal::Connections]
            .into_iter()
            .find(|r| *r as u8 == code)
    }
}

fn refuse<B>(req: actix_web::HttpRequest, why: Refusal) -> ServiceResponse<EitherBody<B, BoxBody>> {
    // Routine under attack: counted by the request metrics, not worth a log line each.
    tracing::debug!(?why, "request refused by the body or connection budget");
    let mut response = match why {
        Refusal::TooSlow => HttpResponse::build(StatusCode::REQUEST_TIMEOUT).finish(),
        Refusal::OverBudget | Refusal::Connections => HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
            .insert_header((RETRY_AFTER, RETRY_AFTER_SECS))
            .finish(),
    };
    // Closed, not kept alive: the server would otherwise read (and drop) the rest of a stalled
    // body into a buffer of its own for as long as the client holds the connection open.
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    ServiceResponse::new(req, response).map_into_right_body()
}

/// What one request holds of the body budget, given back when its last holder (the body stream
/// or the middleware, whichever is later) lets go.
struct Ticket {
    state: State,
    client: ClientKey,
    held: AtomicUsize,
    /// The declared length is held already: chunks are not counted again.
    reserved: bool,
    refusal: AtomicU8,
}

impl Ticket {
    fn budget(&self) -> &BodyBudget {
        &self.state.bodies
    }

    fn refuse(&self, why: Refusal) {
        self.refusal.store(why as u8, Ordering::Relaxed);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let held = *self.held.get_mut();
        self.budget().give_back(self.client, held);
    }
}

/// The request's body, counted against the budget and cut off at the deadline.
struct Budgeted {
    inner: Payload,
    ticket: Arc<Ticket>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    done: bool,
}

impl Stream for Budgeted {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // Checked on every poll: a body trickled a byte at a time is as slow as one that stalls.
        if this.deadline.as_mut().poll(cx).is_ready() {
            return this.stop(Refusal::TooSlow);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) if this.ticket.reserved => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(Some(Ok(chunk))) => {
                if this.ticket.budget().take(this.ticket.client, chunk.len()) {
                    this.ticket.held.fetch_add(chunk.len(), Ordering::Relaxed);
                    Poll::Ready(Some(Ok(chunk)))
                } else {
                    this.stop(Refusal::OverBudget)
                }
            }
            other => other,
        }
    }
}

impl Budgeted {
    fn stop(&mut self, why: Refusal) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.ticket.refuse(why);
        self.done = true;
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::other("body budget")))))
    }
}
