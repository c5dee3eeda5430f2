//! An ingress in a few lines: a resource that takes signals over HTTP and dispatches
//! them, answering as soon as Herald has taken them.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{AppService, HttpServiceFactory, Payload};
use actix_web::http::StatusCode;
use actix_web::http::header::{ContentType, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use herald_core::{Dispatch, DispatchExt, ErrorKind, IntoTargets, Target};
use serde_json::json;

use crate::body::read;
use crate::{SignalBody, SignalConfig, Verification, receive_span};

/// A resource that receives signals and dispatches each to `targets` — a bus (by
/// [`Target::bus`]), named actors, webhooks, anything — through `dispatcher` (an
/// `Addr<Dispatcher>` or a [`Sharded`](herald_core::Sharded) one): see [`Ingress`].
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use herald_core::{Dispatcher, Target};
///
/// # async fn run() -> std::io::Result<()> {
/// let dispatcher = Dispatcher::builder().start();
/// let bus = Target::bus("events").expect("a valid bus name");
/// HttpServer::new(move || {
///     App::new().service(web::scope("/events").service(herald_web::ingress(dispatcher.clone(), bus.clone())))
/// })
/// .bind(("127.0.0.1", 8080))?
/// .run()
/// .await
/// # }
/// ```
pub fn ingress<D>(dispatcher: D, targets: impl IntoTargets) -> Ingress<D>
where
    D: DispatchExt + Clone + 'static,
{
    Ingress {
        dispatcher,
        targets: targets.into_targets(),
        verification: None,
        config: SignalConfig::new(),
        retry_after: Duration::from_secs(1),
        path: String::new(),
    }
}

/// The ingress resource: `POST` a signal (structured or binary mode) or a batch, and
/// each signal is dispatched on its own ([`dispatch_async`](DispatchExt::dispatch_async),
/// bounded by the dispatcher's admission) under a `herald.receive` span that continues
/// the sender's trace. Answers:
///
/// - **202** `{"accepted": ["<id>", ...]}` once Herald has taken every signal (their
///   deliveries go on; failures reach telemetry, `Stats` and dead letters as any
///   detached dispatch's);
/// - **429** with `Retry-After` when the dispatcher refuses for overload, **503** with
///   `Retry-After` once it is shutting down — each with `accepted` (the ids taken
///   before the refusal) and `refused` (that one and every later one of a batch, in
///   order: send those again);
/// - **400/401/413/415** as [`SignalBody`] and [`Verified`](crate::Verified) do, before
///   anything is dispatched.
///
/// Mounted at the path of the scope it is in (`web::scope("/events").service(...)`),
/// or at [`at`](Self::at)'s. Clone it into each worker's app.
#[derive(Debug, Clone)]
#[must_use]
pub struct Ingress<D> {
    dispatcher: D,
    targets: Arc<[Target]>,
    verification: Option<Verification>,
    config: SignalConfig,
    retry_after: Duration,
    path: String,
}

impl<D: DispatchExt + Clone + 'static> Ingress<D> {
    /// Checks every request's webhook signature first (401 when it fails).
    pub fn verify(mut self, verification: Verification) -> Self {
        self.verification = Some(verification);
        self
    }

    /// Reads bodies under `config` (set its `max_size` to the dispatcher's
    /// `max_signal_size`).
    pub fn config(mut self, config: SignalConfig) -> Self {
        self.config = config;
        self
    }

    /// The `Retry-After` of a 429 or 503, rounded up to whole seconds (1 s).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// Mounts it at `path` rather than at its scope's own.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    async fn receive(&self, req: HttpRequest, mut payload: Payload) -> HttpResponse {
        let body = match read(&req, &mut payload, self.config.max_size_value()).await {
            Ok(body) => body,
            Err(error) => return error.error_response(),
        };
        if let Some(verification) = &self.verification
            && let Err(error) = verification.check(&req, &body)
        {
            return error.error_response();
        }
        let signals = match SignalBody::parse(&req, &body, &self.config) {
            Ok(body) => body.into_signals(),
            Err(error) => return error.error_response(),
        };
        let mut accepted = Vec::with_capacity(signals.len());
        let mut refused = Vec::new();
        let mut refusal = None;
        for signal in signals {
            if refusal.is_some() {
                refused.push(signal.id().to_owned());
                continue;
            }
            let id = signal.id().to_owned();
            let span = receive_span(&signal, req.path());
            let dispatch = span.in_scope(|| Dispatch::new(signal, Arc::clone(&self.targets)));
            let mut handle = self.dispatcher.dispatch_async(dispatch);
            match handle.try_result() {
                Some(Err(error)) if matches!(error.first().error.kind(), ErrorKind::Overloaded) => {
                    refusal = Some(StatusCode::TOO_MANY_REQUESTS);
                    refused.push(id);
                }
                Some(Err(error)) if matches!(error.first().error.kind(), ErrorKind::Shutdown) => {
                    refusal = Some(StatusCode::SERVICE_UNAVAILABLE);
                    refused.push(id);
                }
                // Taken: it runs on its own.
                _ => accepted.push(id),
            }
        }
        if refusal.is_some()
            && let Some(verification) = &self.verification
        {
            // The sender's retry must not look like a replay: it may bring again
            // signals already taken (at least once; their ids are the same), never
            // lose those refused.
            verification.forget(&req);
        }
        match refusal {
            None => HttpResponse::Accepted()
                .insert_header(ContentType::json())
                .body(json!({ "accepted": accepted }).to_string()),
            Some(status) => {
                let error = if status == StatusCode::TOO_MANY_REQUESTS {
                    "overloaded: send the refused signals again later"
                } else {
                    "shutting down: send the refused signals elsewhere or later"
                };
                let seconds =
                    self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
                HttpResponse::build(status)
                    .insert_header(ContentType::json())
                    .insert_header((RETRY_AFTER, seconds.max(1).to_string()))
                    .body(
                        json!({ "error": error, "accepted": accepted, "refused": refused })
                            .to_string(),
                    )
            }
        }
    }
}

impl<D: DispatchExt + Clone + 'static> HttpServiceFactory for Ingress<D> {
    fn register(self, config: &mut AppService) {
        let path = self.path.clone();
        let ingress = Rc::new(self);
        let handler = move |req: HttpRequest, payload: web::Payload| {
            let ingress = Rc::clone(&ingress);
            async move { ingress.receive(req, payload.into_inner()).await }
        };
        web::resource(path)
            .route(web::post().to(handler))
            .register(config);
    }
}
