//! Operating Herald over HTTP: a JSON API and one server-rendered page, off unless
//! mounted, and never without a guard.

mod actions;
mod csrf;
mod json;
mod page;
mod sources;

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use actix_web::body::BoxBody;
use actix_web::dev::{HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::guard::Guard;
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpResponse, web};
use herald_core::resilience::DeadLetterQueue;
use herald_core::{Dispatcher, IntoTargets, Target};
use thiserror::Error;

use csrf::Token;
pub(crate) use sources::Sources;

/// The operations API and page, for a dispatcher (and, if given, its dead-letter queue,
/// bridges and durable consumers), mounted under a prefix with
/// [`scope`](Self::scope). Every route is listed in `docs/WEB.md`.
///
/// **It must be guarded.** Anyone who reaches it can pause endpoints and redrive dead
/// letters, so [`scope`](Self::scope) refuses to mount it without a
/// [`guard`](Self::guard) the application supplies (its authentication: a header, a
/// session, a client certificate's identity, as an actix-web [`Guard`]), unless the
/// application says [`insecure_open`](Self::insecure_open) (a loopback-only admin
/// port, a test). A request the guard refuses gets 403.
///
/// Its actions are safe from other origins: every `POST` must come from the page's own
/// origin (`Sec-Fetch-Site`, `Origin`), the page's forms carry a token no other origin
/// can read, and the JSON API takes only `application/json` (which a cross-origin
/// form cannot send). The page is served with a content security policy allowing no
/// script and no framing.
///
/// Everything it shows is redacted as `Stats` and dead letters are: endpoints by their
/// redacted keys, targets by their redacted descriptions, never a secret, a URL path or
/// a signal's data.
///
/// ```
/// use actix_web::{App, guard};
/// use herald_core::Dispatcher;
/// use herald_core::resilience::DeadLetterQueue;
/// use herald_web::{MountError, Operations};
///
/// # actix::System::new().block_on(async {
/// use actix::Actor as _;
/// let dispatcher = Dispatcher::builder().start();
/// let queue = DeadLetterQueue::default().start();
/// let operations = Operations::new(dispatcher).dead_letters(queue, Vec::<herald_core::Target>::new());
///
/// // Without a guard it does not mount.
/// assert!(matches!(operations.clone().scope("/ops"), Err(MountError::Unguarded)));
///
/// let guarded = operations.guard(guard::Header("x-admin-token", "s3cret"));
/// let app = App::new().service(guarded.scope("/ops").unwrap());
/// # });
/// ```
#[derive(Clone)]
#[must_use]
pub struct Operations {
    dispatcher: Addr<Dispatcher>,
    dead_letters: Option<(Addr<DeadLetterQueue>, Arc<[Target]>)>,
    guard: Option<Arc<dyn Guard + Send + Sync>>,
    open: bool,
    token: Token,
    refresh: Duration,
    sources: Sources,
}

/// Why [`Operations::scope`] did not mount the operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MountError {
    /// No guard: the operations would be open to anyone.
    #[error(
        "the operations API needs a guard (`Operations::guard`); \
         say `insecure_open()` to mount it without one"
    )]
    Unguarded,
    /// The prefix is not a literal path: it must start with `/`, not end with one, and
    /// hold no `{`, `}` or whitespace (`"/ops"`, `"/admin/herald"`).
    #[error("the operations prefix must be a literal path such as \"/ops\"")]
    InvalidPrefix,
}

/// How long an action or a read waits for the dispatcher or the queue.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

impl Operations {
    /// The operations of `dispatcher`: its stats, endpoints, circuits and pauses.
    pub fn new(dispatcher: Addr<Dispatcher>) -> Self {
        Self {
            dispatcher,
            dead_letters: None,
            guard: None,
            open: false,
            token: Token::new(),
            refresh: Duration::from_secs(5),
            sources: Sources::default(),
        }
    }

    /// Shows the dead letters in `queue` and redrives them to their original targets,
    /// found among `targets` (the application's own: a dead letter carries only the
    /// redacted description and the fingerprint).
    pub fn dead_letters(mut self, queue: Addr<DeadLetterQueue>, targets: impl IntoTargets) -> Self {
        self.dead_letters = Some((queue, targets.into_targets()));
        self
    }

    /// Admits only requests `guard` admits; the others get 403.
    pub fn guard(mut self, guard: impl Guard + Send + Sync + 'static) -> Self {
        self.guard = Some(Arc::new(guard));
        self
    }

    /// Mounts it without a guard: anyone who reaches it may operate Herald. For an
    /// admin listener on loopback, or a test; never on a public port.
    pub fn insecure_open(mut self) -> Self {
        self.open = true;
        self
    }

    /// How often the page reloads itself (5 s; at least 1 s).
    pub fn refresh_every(mut self, every: Duration) -> Self {
        self.refresh = every.max(Duration::from_secs(1));
        self
    }

    /// The routes, under `prefix` (`"/ops"`, say).
    ///
    /// # Errors
    ///
    /// [`MountError::Unguarded`] when it has neither a [`guard`](Self::guard) nor
    /// [`insecure_open`](Self::insecure_open); [`MountError::InvalidPrefix`] for a
    /// prefix that is not a literal path.
    pub fn scope(self, prefix: &str) -> Result<impl HttpServiceFactory + use<>, MountError> {
        if self.guard.is_none() && !self.open {
            return Err(MountError::Unguarded);
        }
        let literal = prefix.starts_with('/')
            && (prefix.len() == 1 || !prefix.ends_with('/'))
            && !prefix.contains(|c: char| matches!(c, '{' | '}') || c.is_whitespace());
        if !literal {
            return Err(MountError::InvalidPrefix);
        }
        let guard = self.guard.clone();
        let checks = from_fn(move |req: ServiceRequest, next: Next<BoxBody>| {
            let guard = guard.clone();
            async move { admit(guard.as_deref(), req, next).await }
        });
        let api = web::scope("/api")
            .app_data(web::JsonConfig::default().limit(64 * 1024))
            .route("/stats", web::get().to(actions::stats))
            .route("/endpoints", web::get().to(actions::endpoints))
            .route(
                "/endpoints/{action}",
                web::post().to(actions::endpoint_json),
            )
            .route("/dead-letters", web::get().to(actions::dead_letters))
            .route(
                "/dead-letters/redrive",
                web::post().to(actions::redrive_json),
            )
            .route("/bridges", web::get().to(actions::bridges))
            .route("/consumers", web::get().to(actions::consumers));
        Ok(web::scope(prefix)
            .app_data(web::Data::new(self))
            .app_data(web::FormConfig::default().limit(16 * 1024))
            .wrap(checks)
            .route("", web::get().to(page::page))
            .route("/", web::get().to(page::page))
            .route("/actions/{action}", web::post().to(actions::form))
            .service(api))
    }
}

/// The guard, then the same-origin rule for `POST`s.
async fn admit(
    guard: Option<&(dyn Guard + Send + Sync)>,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(guard) = guard
        && !guard.check(&req.guard_ctx())
    {
        let refused = HttpResponse::Forbidden().json(serde_json::json!({
            "error": "the operations API refused this request (its guard)"
        }));
        return Ok(req.into_response(refused));
    }
    if req.method() == Method::POST && !csrf::same_origin(req.request()) {
        let refused = HttpResponse::Forbidden().json(serde_json::json!({
            "error": "operations actions are taken from their own origin only"
        }));
        return Ok(req.into_response(refused));
    }
    next.call(req).await
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations")
            .field("dispatcher", &self.dispatcher)
            .field("dead_letters", &self.dead_letters.is_some())
            .field("guarded", &self.guard.is_some())
            .field("open", &self.open)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}
