//! Reading signals from a request: the CloudEvents HTTP binding's structured, batch
//! and binary modes, within a byte bound.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{FromRequest, HttpRequest, web};
use bytes::Bytes;
use futures_util::StreamExt as _;
use herald_core::DispatcherBuilder;
use herald_signal::{BATCH, STRUCTURED, Signal, TRACEPARENT, TRACESTATE};

use crate::SignalBodyError;

/// How [`SignalBody`] reads requests: put one in the app data (`App::app_data`) to
/// change the defaults.
///
/// The body is bounded by the smaller of [`max_size`](Self::max_size) and actix-web's
/// [`PayloadConfig`](actix_web::web::PayloadConfig) limit (256 KiB unless the
/// application sets one): a `Content-Length` over the bound is refused before a byte
/// is read, a chunked body as soon as it passes it.
///
/// ```
/// use actix_web::{App, web};
/// use herald_web::SignalConfig;
///
/// let app = App::new()
///     .app_data(web::PayloadConfig::new(1 << 20))
///     .app_data(SignalConfig::new().max_size(1 << 20).max_batch(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct SignalConfig {
    max_size: usize,
    max_batch: usize,
}

impl SignalConfig {
    /// The defaults: Herald's own signal size limit
    /// ([`DispatcherBuilder::DEFAULT_MAX_SIGNAL_SIZE`], 4 MiB) and batches of at most
    /// 1,000 signals.
    pub const fn new() -> Self {
        Self {
            max_size: DispatcherBuilder::DEFAULT_MAX_SIGNAL_SIZE,
            max_batch: 1_000,
        }
    }

    /// The most bytes a body may have (a batch's whole body); set it to the
    /// dispatcher's [`max_signal_size`](DispatcherBuilder::max_signal_size).
    pub const fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }

    /// The most signals a batch may hold (at least 1).
    pub const fn max_batch(mut self, signals: usize) -> Self {
        self.max_batch = if signals == 0 { 1 } else { signals };
        self
    }

    /// The configured byte bound.
    pub const fn max_size_value(&self) -> usize {
        self.max_size
    }

    /// The one a request is read under: its app data's, else the defaults.
    pub(crate) fn of(req: &HttpRequest) -> Self {
        req.app_data::<Self>()
            .or_else(|| req.app_data::<web::Data<Self>>().map(|data| data.get_ref()))
            .copied()
            .unwrap_or_default()
    }
}

impl Default for SignalConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// How the signals of a [`SignalBody`] came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentMode {
    /// One event as JSON (`application/cloudevents+json`).
    Structured,
    /// One event: attributes as `ce-` headers, the data as the body.
    Binary,
    /// A JSON array of events (`application/cloudevents-batch+json`).
    Batch,
}

/// The signals a request carries: an actix-web extractor for the CloudEvents HTTP
/// binding, in whichever mode the request uses — structured (`Content-Type:
/// application/cloudevents+json`), batch (`application/cloudevents-batch+json`, one or
/// more signals) or binary (`ce-` headers, the data as the body).
///
/// A request that is not one of these is refused with 415, a body over the bound
/// ([`SignalConfig`]) with 413, anything that does not parse or breaks a CloudEvents
/// rule with 400 — each a [`SignalBodyError`] whose short body names the problem
/// without echoing the input.
///
/// When the signal carries no trace context of its own and the request has a
/// well-formed W3C `traceparent` header (and `tracestate`), the signal takes them as
/// its extensions: the trace goes on to wherever the signal is dispatched. The
/// [`ingress`](crate::ingress) also continues it on its `herald.receive` span.
///
/// ```
/// use actix_web::{HttpResponse, post};
/// use herald_web::SignalBody;
///
/// #[post("/events")]
/// async fn events(body: SignalBody) -> HttpResponse {
///     for signal in body.signals() {
///         println!("{} {}", signal.ty(), signal.id());
///     }
///     HttpResponse::Accepted().finish()
/// }
/// ```
#[derive(Debug, Clone)]
pub struct SignalBody {
    signals: Vec<Signal>,
    mode: ContentMode,
}

impl SignalBody {
    /// The signals, in the order the request held them (one unless a batch).
    pub fn signals(&self) -> &[Signal] {
        &self.signals
    }

    /// The signals, owned.
    pub fn into_signals(self) -> Vec<Signal> {
        self.signals
    }

    /// How they came.
    pub fn mode(&self) -> ContentMode {
        self.mode
    }

    /// Reads the signals from a body already read (and bounded) for `req`.
    ///
    /// # Errors
    ///
    /// A [`SignalBodyError`]: 415 for a request in no CloudEvents mode, 413 for a batch
    /// over [`SignalConfig::max_batch`], 400 for anything malformed.
    pub fn from_bytes(req: &HttpRequest, body: &[u8]) -> Result<Self, SignalBodyError> {
        Self::parse(req, body, &SignalConfig::of(req))
    }

    /// [`from_bytes`](Self::from_bytes) under `config`.
    pub(crate) fn parse(
        req: &HttpRequest,
        body: &[u8],
        config: &SignalConfig,
    ) -> Result<Self, SignalBodyError> {
        let content_type = header(req, CONTENT_TYPE.as_str());
        let essence = content_type
            .map(|value| {
                let essence = value.split(';').next().unwrap_or_default();
                essence.trim().to_ascii_lowercase()
            })
            .unwrap_or_default();
        let (signals, mode) = if essence == STRUCTURED {
            let signal = Signal::from_json_slice_limited(body, config.max_size)
                .map_err(|error| SignalBodyError::from_signal(&error))?;
            (vec![signal], ContentMode::Structured)
        } else if essence == BATCH {
            // Counted before parsing: a batch of a million tiny events is refused
            // without building them.
            let signals = read_batch(body, config)?;
            (signals, ContentMode::Batch)
        } else if req.headers().contains_key("ce-specversion") {
            (vec![binary(req, content_type, body)?], ContentMode::Binary)
        } else {
            return Err(SignalBodyError::UnsupportedMediaType);
        };
        let signals = signals
            .into_iter()
            .map(|signal| with_trace_header(signal, req))
            .collect();
        Ok(Self { signals, mode })
    }
}

/// A batch's signals, at most `config.max_batch` of them.
fn read_batch(body: &[u8], config: &SignalConfig) -> Result<Vec<Signal>, SignalBodyError> {
    let events: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body)
        .map_err(|_| SignalBodyError::Malformed("the body is not a JSON array of CloudEvents"))?;
    if events.len() > config.max_batch {
        return Err(SignalBodyError::BatchTooLarge {
            limit: config.max_batch,
        });
    }
    events
        .into_iter()
        .map(|event| {
            Signal::from_json_slice_limited(event.get().as_bytes(), config.max_size)
                .map_err(|error| SignalBodyError::from_signal(&error))
        })
        .collect()
}

/// A binary-mode signal: the `ce-` headers, `Content-Type` as its `datacontenttype`.
fn binary(
    req: &HttpRequest,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Signal, SignalBodyError> {
    let mut headers = Vec::new();
    for (name, value) in req.headers() {
        let name = name.as_str();
        if name.starts_with("ce-") && name != "ce-datacontenttype" {
            let value = value.to_str().map_err(|_| {
                SignalBodyError::Malformed("a ce- header is not percent-encoded UTF-8")
            })?;
            headers.push((name, value));
        }
    }
    // The HTTP binding carries `datacontenttype` as the request's own content type.
    if let Some(content_type) = content_type {
        headers.push(("ce-datacontenttype", content_type));
    }
    Signal::from_binary(headers, body).map_err(|error| SignalBodyError::from_binary(&error))
}

/// `signal` with the request's `traceparent` (and `tracestate`) when it has none of its
/// own and the header is well formed.
fn with_trace_header(signal: Signal, req: &HttpRequest) -> Signal {
    if signal.extension(TRACEPARENT).is_some() {
        return signal;
    }
    let Some(traceparent) = header(req, TRACEPARENT) else {
        return signal;
    };
    let mut builder = signal.to_builder().extension(TRACEPARENT, traceparent);
    if let Some(state) = header(req, TRACESTATE) {
        builder = builder.extension(TRACESTATE, state);
    }
    match builder.build() {
        Ok(traced) if traced.trace_context().is_some() => traced,
        _ => signal,
    }
}

/// A header's value, when present and text.
fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// The body of `req`, at most `limit` bytes and at most actix-web's `PayloadConfig`
/// limit: a `Content-Length` over `limit` is refused before reading, a longer body as
/// soon as it passes it.
pub(crate) async fn read(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Result<Bytes, SignalBodyError> {
    let too_large = SignalBodyError::TooLarge { limit };
    let declared = header(req, CONTENT_LENGTH.as_str()).and_then(|n| n.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large);
    }
    let mut seen = 0usize;
    let bounded = payload.take().map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            Err(PayloadError::Overflow)
        } else {
            Ok(chunk)
        }
    });
    let mut bounded = Payload::Stream {
        payload: bounded.boxed_local(),
    };
    // Through `Bytes`'s own extractor, so the application's `PayloadConfig` holds too.
    Bytes::from_request(req, &mut bounded)
        .await
        .map_err(|error| match error.as_error::<PayloadError>() {
            Some(PayloadError::Overflow) => too_large,
            _ if error.as_response_error().status_code().as_u16() == 413 => too_large,
            _ => SignalBodyError::Unreadable,
        })
}

impl FromRequest for SignalBody {
    type Error = SignalBodyError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let body = read(&req, &mut payload, SignalConfig::of(&req).max_size).await?;
            Self::from_bytes(&req, &body)
        })
    }
}
