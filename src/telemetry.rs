//! Logging: human-readable by default, JSON for log collectors. `RUST_LOG` sets the filter.
//!
//! What the logs must never hold: a capability (a Checkout Session id opens `/thanks` and so the
//! donor's manage link; a manage token), a reader's address (personal data), or a line a client
//! forged (a newline in a value it chose). And a client must not be able to fill the disk with
//! them: routine refusals are sampled ([`sample`]).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Installs the global subscriber, writing to standard output. Call once, from `main`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    init_with(format, filter, std::io::stdout);
}

/// Installs the global subscriber with `filter`, writing each line through [`Escaped`] to
/// `writer`'s writers (tests capture them).
pub fn init_with<W>(format: LogFormat, filter: EnvFilter, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // No colours: the escaping would show their control characters, and journald has none.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Escaped(writer));
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Escapes control characters in every line written, whatever the format: a value a client
/// chose (a form field's name in an error) cannot end the line and forge the next one. The
/// subscriber writes one whole line per call, ending in the one newline that is kept.
pub struct Escaped<W>(W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for Escaped<W> {
    type Writer = EscapedWriter<W::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        EscapedWriter(self.0.make_writer())
    }
}

pub struct EscapedWriter<W>(W);

impl<W: Write> Write for EscapedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(&escape_line(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `line` with every control character but a final newline written as `\n`, `\r`, `\t` or
/// `\x1b`.
pub fn escape_line(line: &[u8]) -> Vec<u8> {
    let (body, end) = match line.split_last() {
        Some((b'\n', body)) => (body, &b"\n"[..]),
        _ => (line, &b""[..]),
    };
    let mut out = Vec::with_capacity(line.len() + 8);
    for &b in body {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.extend_from_slice(end);
    out
}

/// A routine refusal that anyone can cause at full speed.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    WebhookRejected,
    AdminToken,
    CrossOrigin,
    DonateLimited,
    DonateRejected,
    Honeypot,
    LookupBudget,
    TimedOut,
    CancelLimited,
}

/// How often each kind of refusal is logged at most.
const SAMPLE_SECS: u64 = 10;

struct Sample {
    next_at: AtomicU64,
    left_out: AtomicU64,
}

static SAMPLES: [Sample; 9] = [const {
    Sample {
        next_at: AtomicU64::new(0),
        left_out: AtomicU64::new(0),
    }
}; 9];

/// Whether to log this refusal of `kind`: `Some(n)` at most once every ten seconds per kind,
/// with the `n` refusals of that kind left out since the last line; `None` otherwise. Errors
/// that mean something to the operator are logged directly, never through this.
pub fn sample(kind: Refusal) -> Option<u64> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s = &SAMPLES[kind as usize];
    let next = s.next_at.load(Ordering::Relaxed);
    if now >= next
        && s.next_at
            .compare_exchange(next, now + SAMPLE_SECS, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        return Some(s.left_out.swap(0, Ordering::Relaxed));
    }
    s.left_out.fetch_add(1, Ordering::Relaxed);
    None
}

/// The root span of every request, like tracing-actix-web's default but without the request
/// target, user agent or client address: paths such as `/manage/{token}` carry capabilities, and
/// readers' addresses are personal data. The matched route (`/manage/{token}`) is recorded instead.
pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "(unmatched)".to_owned());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            request_id = %request_id,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_only_the_final_newline_is_kept() {
        assert_eq!(escape_line(b"ok line\n"), b"ok line\n");
        assert_eq!(
            escape_line(b"field a\nFORGED: admin logged in\r\t\x1b[31m\n"),
            b"field a\\nFORGED: admin logged in\\r\\t\\x1b[31m\n"
        );
        assert_eq!(escape_line("Grüße \u{7f}".as_bytes()), "Grüße \\x7f".as_bytes());
    }

    #[test]
    fn a_refusal_is_logged_once_per_window_with_the_count_left_out() {
        assert_eq!(sample(Refusal::Honeypot), Some(0));
        for _ in 0..1000 {
            assert_eq!(sample(Refusal::Honeypot), None);
        }
        assert_eq!(sample(Refusal::TimedOut), Some(0), "each kind has its own window");
        SAMPLES[Refusal::Honeypot as usize]
            .next_at
            .store(0, Ordering::Relaxed);
        assert_eq!(sample(Refusal::Honeypot), Some(1000));
    }
}
