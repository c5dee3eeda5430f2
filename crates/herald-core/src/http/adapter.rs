//! The `http` and `webhook` adapters: one awc client per arbiter, retries, signing.

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Adapter, Delivery, ErrorKind, Outcome, TargetError};
use actix_http::error::ParseError;
use awc::error::{ConnectError, SendRequestError};
use awc::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use awc::{Client, Connector};
use futures_util::StreamExt;
use herald_signal::Signal;
use tokio::time::Instant;
use tracing::{Instrument, Span};

use super::{
    BodyMode, HttpTarget, Signing, Tls, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, random,
    signed_content,
};

use super::connect::{Guarded, Refused};
use super::encode::{Encoded, encode};
use super::settings::HttpSettings;
use crate::egress::Egress;

/// How much of a success response's body is read (so the connection can be reused).
const DRAIN_LIMIT: usize = 64 * 1024;

/// Delivers `http` (plain) or `webhook` (signed) targets with awc.
///
/// Every dispatcher registers two, as `http` and `webhook` (a custom adapter registered
/// under either name replaces it). Each instance owns one awc
/// client (connections are pooled and kept alive per arbiter); TLS certificates are
/// always verified against the Mozilla root store, and redirects are not followed.
pub struct HttpAdapter {
    settings: HttpSettings,
    /// One client per egress policy in use, so that a connection made under one
    /// policy is never reused under another (a pooled connection is not checked
    /// again): usually two, for targets built in code and targets read from data.
    clients: RefCell<Vec<(Egress, Option<Tls>, Client)>>,
    webhook: bool,
    /// The last body encoded, for the signal it was encoded from: a dispatch to many
    /// targets encodes its signal once per mode, not once per target.
    last: RefCell<Option<(Weak<Signal>, BodyMode, Encoded)>>,
}

impl std::fmt::Debug for HttpAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAdapter")
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}

impl HttpAdapter {
    /// An adapter for plain (`webhook: false`) or signed targets, with its own clients
    /// and the default settings.
    pub fn new(webhook: bool) -> Self {
        Self::with_settings(webhook, HttpSettings::default())
    }

    pub(crate) fn with_settings(webhook: bool, settings: HttpSettings) -> Self {
        Self {
            settings,
            clients: RefCell::new(Vec::new()),
            webhook,
            last: RefCell::new(None),
        }
    }

    /// The client for `target`: one per egress policy (`None`: built in code,
    /// unchecked) and TLS settings (the target's own, else the dispatcher's).
    fn client(&self, target: &HttpTarget) -> Result<Client, ErrorKind> {
        static UNRESTRICTED: std::sync::OnceLock<Egress> = std::sync::OnceLock::new();
        let egress = target
            .egress_policy()
            .unwrap_or_else(|| UNRESTRICTED.get_or_init(Egress::unrestricted));
        let tls = target.tls_settings().or(self.settings.tls.as_ref());
        let mut clients = self.clients.borrow_mut();
        if let Some((.., client)) = clients
            .iter()
            .find(|(policy, settings, _)| policy == egress && settings.as_ref() == tls)
        {
            return Ok(client.clone());
        }
        let connect = Guarded::new(egress.clone(), Arc::clone(&self.settings.resolver));
        let made = client(connect, tls)?;
        clients.push((egress.clone(), tls.cloned(), made.clone()));
        Ok(made)
    }

    /// `signal` encoded in `mode`, from the cache when it is the same signal. The cache
    /// holds a `Weak`, which keeps the allocation (so its address cannot be reused by
    /// another signal) but not the signal itself.
    fn encoded(&self, signal: &Arc<Signal>, mode: BodyMode) -> Result<Encoded, ErrorKind> {
        if let Some((cached, cached_mode, encoded)) = &*self.last.borrow()
            && *cached_mode == mode
            && std::ptr::eq(cached.as_ptr(), Arc::as_ptr(signal))
        {
            return Ok(encoded.clone());
        }
        let encoded = encode(signal, mode)?;
        *self.last.borrow_mut() = Some((Arc::downgrade(signal), mode, encoded.clone()));
        Ok(encoded)
    }
}

/// A client that connects through `connect` and verifies TLS certificates against the
/// bundled Mozilla roots, with the `ring` provider chosen explicitly (so no
/// process-wide default is needed).
fn client(connect: Guarded, tls: Option<&Tls>) -> Result<Client, ErrorKind> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let invalid = |what: &str, error: rustls::Error| {
        ErrorKind::InvalidTarget(TargetError::invalid_field(
            what,
            format!("is not usable for TLS ({error})"),
        ))
    };
    for root in tls.map(Tls::roots).unwrap_or_default() {
        roots
            .add(root.clone())
            .map_err(|error| invalid("tls.root_certificates", error))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots);
    let mut config = match tls.and_then(Tls::client_identity) {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain.to_vec(), key.clone_key())
            .map_err(|error| invalid("tls.client_key", error))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Client::builder()
        .connector(
            Connector::new()
                .connector(connect)
                .rustls_0_23(Arc::new(config)),
        )
        .disable_redirects()
        .disable_timeout()
        .finish())
}

impl Adapter for HttpAdapter {
    type Options = HttpTarget;
    const KIND: &'static str = "network";

    fn validate(&self, config: &serde_json::Value) -> Result<HttpTarget, TargetError> {
        HttpTarget::from_config_with(config, self.webhook, &self.settings.egress)
    }

    /// Every attempt's timeout plus the longest wait before each retry, or the retry
    /// deadline plus one attempt when that is shorter.
    fn timeout(&self, target: &HttpTarget) -> Option<Duration> {
        let policy = target.retry_policy();
        let attempts = policy.max_attempts();
        let per_attempt = target.timeout_value();
        let worst = per_attempt
            .saturating_mul(attempts)
            .saturating_add((policy.longest_wait()).saturating_mul(attempts.saturating_sub(1)));
        Some(match policy.overall_deadline() {
            Some(deadline) => worst.min(deadline.saturating_add(per_attempt)),
            None => worst,
        })
    }

    async fn deliver(&self, delivery: Delivery<'_, HttpTarget>) -> Result<Outcome, ErrorKind> {
        let target = delivery.options;
        if self.webhook && target.signing().is_none() {
            return Err(TargetError::Invalid("a webhook target needs a secret".to_owned()).into());
        }
        let encoded = self.encoded(delivery.signal, target.body_mode())?;
        let policy = target.retry_policy();
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            delivery.report_attempts(attempt);
            let span = attempt_span(target, attempt);
            let attempted = self.attempt(target, delivery.signal, &encoded);
            let attempted = attempted.instrument(span.clone()).await;
            record_attempt(&span, &attempted);
            let failure = match attempted {
                Ok(status) => {
                    return Ok(Outcome::Responded {
                        status,
                        attempts: attempt,
                    });
                }
                Err(failure) => failure,
            };
            if !failure.kind.retryable() || attempt >= policy.max_attempts() {
                return Err(failure.kind);
            }
            let wait = policy.wait_after(attempt, &failure.kind, failure.retry_after, random());
            if let Some(deadline) = policy.overall_deadline()
                && started.elapsed() + wait >= deadline
            {
                return Err(failure.kind);
            }
            // Not retried past the signal's `expirytime`: ended now, not after the wait.
            if crate::resilience::expiry_passed_after(delivery.signal.expirytime(), wait) {
                tracing::debug!(attempt, error = %failure.kind, "not retried: the signal expires first");
                return Err(ErrorKind::Expired);
            }
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %failure.kind, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// The span of one HTTP attempt, in OpenTelemetry's HTTP client conventions (`url.full`
/// redacted as everywhere), under its delivery's span: none when that has none (no
/// subscriber wants it, or the dispatcher's telemetry is off).
fn attempt_span(target: &HttpTarget, attempt: u32) -> Span {
    if !crate::telemetry::spans_wanted() || Span::current().is_none() {
        return Span::none();
    }
    let url = target.url();
    let method = target.method_value().as_http();
    tracing::info_span!(
        "herald.http",
        otel.name = method.as_str(),
        otel.kind = "client",
        http.request.method = method.as_str(),
        server.address = url.host_str().unwrap_or_default(),
        server.port = i64::from(url.port_or_known_default().unwrap_or_default()),
        url.full = target.redacted_url(),
        http.request.resend_count = (attempt > 1).then(|| i64::from(attempt - 1)),
        http.response.status_code = tracing::field::Empty,
        error.r#type = tracing::field::Empty,
    )
}

/// Records an attempt's end on its span.
fn record_attempt(span: &Span, result: &Result<u16, Failure>) {
    match result {
        Ok(status) => {
            span.record("http.response.status_code", i64::from(*status));
        }
        Err(failure) => {
            if let ErrorKind::HttpStatus { status, .. } = &failure.kind {
                span.record("http.response.status_code", i64::from(*status));
            }
            span.record("error.type", failure.kind.name());
        }
    }
}

/// One failed attempt: why, and how long the receiver asked us to wait.
struct Failure {
    kind: ErrorKind,
    retry_after: Option<Duration>,
}

impl From<ErrorKind> for Failure {
    fn from(kind: ErrorKind) -> Self {
        Self {
            kind,
            retry_after: None,
        }
    }
}

impl HttpAdapter {
    /// One attempt, bounded end to end by the target's timeout: connect, send, the
    /// response head and the body read after it.
    async fn attempt(
        &self,
        target: &HttpTarget,
        signal: &Signal,
        encoded: &Encoded,
    ) -> Result<u16, Failure> {
        let timeout = target.timeout_value();
        // At most 60 s from now: validated when the target was built.
        let deadline = Instant::now() + timeout;
        let mut request = self
            .client(target)?
            .request(target.method_value().as_http(), target.url().as_str());
        let reserved = target.signing().map(Signing::reserved).unwrap_or_default();
        for (name, value) in target.headers() {
            if !reserved.contains(name) {
                request = request.insert_header((name.clone(), value.clone()));
            }
        }
        for (name, value) in &encoded.headers {
            request = request.insert_header((name.clone(), value.clone()));
        }
        if let Some(content_type) = &encoded.content_type {
            request = request.insert_header((CONTENT_TYPE, content_type.clone()));
        }
        if let Some(signing) = target.signing() {
            for (name, value) in sign(signing, signal, &encoded.body).await? {
                request = request.insert_header((name, value));
            }
        }
        let sent = tokio::time::timeout_at(deadline, request.send_body(encoded.body.clone()));
        let mut response = match sent.await {
            Err(_elapsed) => return Err(ErrorKind::Timeout(timeout).into()),
            Ok(Err(error)) => return Err(classify(error, timeout).into()),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            // The receiver accepted the signal with its status line. Its body is read
            // (so the connection can be reused) until the attempt's time is up; a body
            // that stalls, trickles or breaks does not undo the acceptance, and the
            // connection is then closed rather than reused.
            read_at_most(&mut response, DRAIN_LIMIT, deadline).await;
            return Ok(status.as_u16());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| target.retry_policy().retry_after(value, SystemTime::now()));
        // What of the error body arrives in time; the status alone decides the kind.
        let body = match target.error_body_limit() {
            0 => Vec::new(),
            limit => read_at_most(&mut response, limit, deadline).await,
        };
        Err(Failure {
            kind: ErrorKind::HttpStatus {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            },
            retry_after,
        })
    }
}

/// Reads at most `limit` bytes of a response body, stopping there, at the body's end,
/// at a body error, or at `deadline`, whichever comes first.
async fn read_at_most<S>(
    response: &mut awc::ClientResponse<S>,
    limit: usize,
    deadline: Instant,
) -> Vec<u8>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut body = Vec::new();
    while body.len() < limit {
        match tokio::time::timeout_at(deadline, response.next()).await {
            Ok(Some(Ok(chunk))) => {
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    body
}

/// The scheme's headers for one attempt, signed now: for Standard Webhooks, every
/// key's and signer's entry side by side in `webhook-signature`.
async fn sign(
    signing: &Signing,
    signal: &Signal,
    body: &[u8],
) -> Result<Vec<(HeaderName, HeaderValue)>, ErrorKind> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let value = |text: &str, what: &str| {
        HeaderValue::from_str(text).map_err(|_| {
            ErrorKind::InvalidTarget(TargetError::Invalid(format!(
                "the signal's {what} is not a valid header value"
            )))
        })
    };
    if signing.is_jido() {
        let key = &signing.keys()[0];
        let [signature, timestamp, event] = signing.jido_headers().clone();
        let event_type = signing.event_for(signal.ty());
        return Ok(vec![
            (
                signature,
                value(&key.signature("", now, body), "signature")?,
            ),
            (timestamp, HeaderValue::from(now)),
            (event, value(event_type, "type")?),
        ]);
    }
    let id = signal.id();
    let mut entries: Vec<String> = signing
        .keys()
        .iter()
        .map(|key| key.signature(id, now, body))
        .collect();
    if !signing.signers().is_empty() {
        let content = signed_content(id, now, body);
        for signer in signing.signers() {
            let entry = signer
                .sign(&content)
                .await
                .map_err(ErrorKind::custom_retryable)?;
            entries.push(entry);
        }
    }
    Ok(vec![
        (WEBHOOK_ID, value(id, "id")?),
        (WEBHOOK_TIMESTAMP, HeaderValue::from(now)),
        (WEBHOOK_SIGNATURE, value(&entries.join(" "), "signature")?),
    ])
}

/// Sorts awc's errors into Herald's kinds: refused, timeout, TLS and other connection
/// failures (no answer came: nothing reached the receiver, or the connection was lost
/// before a response head arrived), and protocol failures (an answer came that cannot
/// be read as HTTP).
fn classify(error: SendRequestError, timeout: Duration) -> ErrorKind {
    match error {
        // Reset, aborted or closed before the response head: no answer, as with a
        // timeout.
        SendRequestError::Response(ParseError::Io(io)) if connection_lost(&io) => {
            ErrorKind::Connect(format!("connection lost before an answer: {io}"))
        }
        SendRequestError::Response(ParseError::Incomplete) => {
            ErrorKind::Connect("connection closed in the middle of the answer's head".into())
        }
        SendRequestError::Timeout | SendRequestError::Connect(ConnectError::Timeout) => {
            ErrorKind::Timeout(timeout)
        }
        SendRequestError::Connect(ConnectError::Io(io)) => {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                ErrorKind::ConnectionRefused
            } else if is_tls(&io) {
                ErrorKind::Tls(io.to_string())
            } else {
                ErrorKind::Connect(io.to_string())
            }
        }
        SendRequestError::Connect(ConnectError::Resolver(error)) => {
            match error.downcast_ref::<Refused>() {
                Some(Refused(denied)) => ErrorKind::EgressDenied(denied.to_string()),
                None => ErrorKind::Connect(format!("could not resolve the host: {error}")),
            }
        }
        SendRequestError::Connect(other) => ErrorKind::Connect(other.to_string()),
        SendRequestError::Send(io) if is_tls(&io) => ErrorKind::Tls(io.to_string()),
        SendRequestError::Send(io) => ErrorKind::Connect(io.to_string()),
        SendRequestError::Url(error) => ErrorKind::InvalidTarget(TargetError::Invalid(format!(
            "the url cannot be requested: {error}"
        ))),
        other => ErrorKind::Protocol(other.to_string()),
    }
}

/// Whether an I/O error means the connection went away.
fn connection_lost(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    matches!(
        error.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
    )
}

fn is_tls(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}
