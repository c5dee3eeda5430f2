//! Webhook signatures checked before a body is read as anything: Standard Webhooks
//! (`v1`, `v1a`) and `jido_signal`'s scheme, with keys that rotate and a replay guard.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use bytes::Bytes;
use herald_webhook::header::{
    WEBHOOK_ID, WEBHOOK_TIMESTAMP, X_WEBHOOK_SIGNATURE, X_WEBHOOK_TIMESTAMP,
};
use herald_webhook::{DEFAULT_TOLERANCE, HeaderLookup, VerifyKey, verify_keys_at};

use crate::body::{SignalConfig, read};
use crate::replay::{Refused, ReplayGuard};
use crate::{SignalBody, SignalBodyError};

/// The keys webhooks are verified with, and what has been received: put one in the
/// app data for [`Verified`] (or hand it to the [`ingress`](crate::ingress)).
///
/// Make it once, outside `HttpServer::new`'s factory, and clone it into each worker's
/// app: the clones share the keys and the replay guard.
///
/// - **Keys**: any of several verifies (a rotation's new and old); each a
///   [`VerifyKey`] — a `whsec_` secret (`v1`), a `whpk_` public key (`v1a`), or a
///   `jido_signal` secret. [`set_keys`](Self::set_keys) swaps them while the server
///   runs, keeping what the replay guard remembers.
/// - **Tolerance**: a webhook's timestamp must be within it of now (5 minutes).
/// - **Replays**: a webhook id (for `jido_signal`, which sends none, its signature)
///   verified once is refused for the rest of the window. At most
///   [`remember`](Self::remember) ids are kept (100,000); when full, the oldest goes and
///   webhooks stamped before it are refused too, so memory stays bounded without a
///   hole in the guard.
///
/// ```
/// use actix_web::App;
/// use herald_web::{Verification, VerifyKey, WebhookSecret};
///
/// let secret = WebhookSecret::standard("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
/// let verification = Verification::new([VerifyKey::from(secret)]);
/// let app = App::new().app_data(verification.clone());
/// # Ok::<(), herald_web::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Verification {
    keys: Arc<RwLock<Arc<[VerifyKey]>>>,
    tolerance: Duration,
    replay: ReplayGuard,
}

impl Verification {
    /// How many webhook ids the replay guard keeps by default.
    pub const DEFAULT_REMEMBERED: usize = 100_000;

    /// Verifies with any of `keys`.
    pub fn new(keys: impl IntoIterator<Item = VerifyKey>) -> Self {
        Self {
            keys: Arc::new(RwLock::new(keys.into_iter().collect())),
            tolerance: DEFAULT_TOLERANCE,
            replay: ReplayGuard::new(Self::DEFAULT_REMEMBERED),
        }
    }

    /// How far from now a webhook's timestamp may be.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// How many webhook ids the replay guard keeps (at least 1); a new, empty guard.
    #[must_use]
    pub fn remember(mut self, ids: usize) -> Self {
        self.replay = ReplayGuard::new(ids);
        self
    }

    /// Replaces the keys, for every clone, at once: a rotation while the server runs.
    pub fn set_keys(&self, keys: impl IntoIterator<Item = VerifyKey>) {
        let keys: Arc<[VerifyKey]> = keys.into_iter().collect();
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
    }

    /// Checks `body`'s signature in `req`'s headers, and that it was not received
    /// before.
    ///
    /// # Errors
    ///
    /// [`SignalBodyError::Unverified`] (the signature is missing, stale or wrong) or
    /// [`SignalBodyError::Replayed`]; both answer 401.
    pub fn check(&self, req: &HttpRequest, body: &[u8]) -> Result<(), SignalBodyError> {
        self.check_at(req, body, SystemTime::now())
    }

    fn check_at(
        &self,
        req: &HttpRequest,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignalBodyError> {
        let headers = req.headers();
        let keys = Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner));
        verify_keys_at(headers, body, &keys, self.tolerance, now)
            .map_err(|error| SignalBodyError::from_verify(&error))?;
        // Verified: the id and timestamp are the sender's.
        let (id, stamp) = received(req);
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let oldest = now.saturating_sub(self.tolerance.as_secs());
        match self.replay.check(id, stamp, oldest) {
            Ok(()) => Ok(()),
            Err(Refused::Seen) => Err(SignalBodyError::Replayed),
            Err(Refused::Unsure) => Err(SignalBodyError::Unverified(
                "a replay cannot be ruled out (the id is too long, or too old to remember)",
            )),
        }
    }

    /// Forgets that `req`'s webhook was received, so that the sender's retry of it is
    /// taken rather than refused as a replay: call it when the handler fails after a
    /// [`Verified`] extraction (the [`ingress`](crate::ingress) does when it answers 429
    /// or 503). A webhook is remembered as soon as it verifies — so that two copies
    /// sent at once cannot both pass — and senders retry with the same id.
    pub fn forget(&self, req: &HttpRequest) {
        let (id, stamp) = received(req);
        self.replay.forget(id, stamp);
    }

    /// The one a request is verified with: its app data's.
    fn of(req: &HttpRequest) -> Option<&Self> {
        req.app_data::<Self>()
            .or_else(|| req.app_data::<web::Data<Self>>().map(|data| data.get_ref()))
    }
}

/// What identifies a webhook to the replay guard: its `webhook-id` (for `jido_signal`,
/// which sends none, its signature) and its timestamp.
fn received(req: &HttpRequest) -> (&str, u64) {
    let headers = req.headers();
    let (id, stamp) = match headers.header(WEBHOOK_ID) {
        Some(id) => (id, headers.header(WEBHOOK_TIMESTAMP)),
        None => (
            headers.header(X_WEBHOOK_SIGNATURE).unwrap_or_default(),
            headers.header(X_WEBHOOK_TIMESTAMP),
        ),
    };
    let stamp = stamp.and_then(|stamp| stamp.trim().parse::<u64>().ok());
    (id, stamp.unwrap_or(0))
}

impl std::fmt::Debug for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Verification")
            .field("keys", &keys)
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

/// What a [`Verified`] body can be read as, once its signature holds.
pub trait VerifiedBody: Sized {
    /// Reads it from the verified body.
    ///
    /// # Errors
    ///
    /// A [`SignalBodyError`] answering the request.
    fn from_verified(req: &HttpRequest, body: Bytes) -> Result<Self, SignalBodyError>;
}

impl VerifiedBody for SignalBody {
    fn from_verified(req: &HttpRequest, body: Bytes) -> Result<Self, SignalBodyError> {
        Self::from_bytes(req, &body)
    }
}

impl VerifiedBody for Bytes {
    fn from_verified(_: &HttpRequest, body: Bytes) -> Result<Self, SignalBodyError> {
        Ok(body)
    }
}

/// A body whose webhook signature verified with the app data's [`Verification`]
/// before it was read as `T` (a [`SignalBody`], or the raw [`Bytes`]). A missing,
/// stale or wrong signature, or a replay, answers 401; a body over the bound
/// ([`SignalConfig`]) 413, before anything is verified.
///
/// ```
/// use actix_web::{HttpResponse, post};
/// use herald_web::{SignalBody, Verified};
///
/// #[post("/webhooks")]
/// async fn webhooks(Verified(body): Verified<SignalBody>) -> HttpResponse {
///     HttpResponse::Accepted().body(format!("{} signals", body.signals().len()))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Verified<T>(pub T);

impl<T> Verified<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: VerifiedBody + 'static> FromRequest for Verified<T> {
    type Error = SignalBodyError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let Some(verification) = Verification::of(&req).cloned() else {
                tracing::error!("a `Verified` extractor found no `Verification` in app data");
                return Err(SignalBodyError::NotConfigured);
            };
            let body = read(&req, &mut payload, SignalConfig::of(&req).max_size_value()).await?;
            verification.check(&req, &body)?;
            T::from_verified(&req, body).map(Verified)
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use herald_webhook::WebhookSecret;

    use super::*;

    fn signed(secret: &WebhookSecret, id: &str, at: u64, body: &[u8]) -> HttpRequest {
        TestRequest::default()
            .insert_header((WEBHOOK_ID, id))
            .insert_header((WEBHOOK_TIMESTAMP, at.to_string()))
            .insert_header(("webhook-signature", secret.signature(id, at, body)))
            .to_http_request()
    }

    #[test]
    fn rotation_replay_and_tolerance() {
        let old = WebhookSecret::standard("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let new = WebhookSecret::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let verification = Verification::new([VerifyKey::from(old.clone())]);
        let at = 1_700_000_000;
        let now = UNIX_EPOCH + Duration::from_secs(at + 1);
        let check = |req: &HttpRequest| verification.check_at(req, b"{}", now);

        assert_eq!(check(&signed(&old, "m1", at, b"{}")), Ok(()));
        assert_eq!(
            check(&signed(&old, "m1", at, b"{}")),
            Err(SignalBodyError::Replayed)
        );
        assert!(matches!(
            check(&signed(&new, "m2", at, b"{}")),
            Err(SignalBodyError::Unverified(_))
        ));
        // Rotated on a clone: both keys, then the new one alone.
        let clone = verification.clone();
        clone.set_keys([VerifyKey::from(new.clone()), VerifyKey::from(old.clone())]);
        assert_eq!(check(&signed(&new, "m2", at, b"{}")), Ok(()));
        assert_eq!(check(&signed(&old, "m3", at, b"{}")), Ok(()));
        clone.set_keys([VerifyKey::from(new.clone())]);
        assert!(check(&signed(&old, "m4", at, b"{}")).is_err());
        // The replay guard survived the rotation.
        assert_eq!(
            check(&signed(&new, "m2", at, b"{}")),
            Err(SignalBodyError::Replayed)
        );
        // Stale.
        let stale = signed(&new, "m5", at - 3_600, b"{}");
        assert!(matches!(check(&stale), Err(SignalBodyError::Unverified(_))));
        assert!(!format!("{verification:?}").contains("whsec"));
    }
}
