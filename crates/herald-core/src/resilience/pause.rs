//! Pausing an endpoint, or one target: deliveries to it are held (bounded, in
//! memory) or fail fast until it is resumed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::Notify;

use super::guard::endpoint_key;
use crate::{ConfigFields, ErrorKind, Fingerprint, Target, TargetError, TargetOptions};

/// What a target does with a delivery to a paused endpoint (or a paused target):
/// [`Hold`](Self::Hold) it until the pause ends (the default), or fail it at once
/// ([`Fail`](Self::Fail)) with [`ErrorKind::Paused`].
///
/// As data: `"while_paused": "hold"` or `"fail"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhilePaused {
    /// Wait until resumed: at most the pause's [`max_hold`](PauseEndpoint::max_hold),
    /// and while fewer than its [`max_held`](PauseEndpoint::max_held) are held; past
    /// either, fail with `Paused`.
    #[default]
    Hold,
    /// Fail at once with `Paused` (retryable: a caller, a durable consumer or a
    /// redrive tries again later).
    Fail,
}

impl WhilePaused {
    pub(crate) fn from_fields(fields: &mut ConfigFields) -> Result<Option<Self>, TargetError> {
        fields.one_of(
            "while_paused",
            &[("hold", Self::Hold), ("fail", Self::Fail)],
        )
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Fail => "fail",
        }
    }
}

/// Pauses deliveries to an endpoint (by its key, as [`Stats`](crate::Stats)' `endpoints`
/// shows it) or to one target (by its [`Fingerprint`]). While paused, a delivery
/// waits (or fails, as its target's [`WhilePaused`] says); [`ResumeEndpoint`] lets the
/// held ones go, in the order they came, each then going through its policies (rate
/// limits included). Answered with whether it was already paused (its limits are then
/// updated), or `None` when [`MAX_PAUSES`](Self::MAX_PAUSES) are paused already.
/// Pauses are shared by a sharded dispatcher's shards: send it to any one.
///
/// ```
/// use herald_core::resilience::{PauseEndpoint, ResumeEndpoint};
/// use herald_core::Dispatcher;
///
/// # actix::System::new().block_on(async {
/// let dispatcher = Dispatcher::builder().start();
/// let pause = PauseEndpoint::endpoint("https://partner.example:443").max_held(1_000);
/// assert_eq!(dispatcher.send(pause).await.unwrap(), Some(false));
/// let resume = ResumeEndpoint::endpoint("https://partner.example:443");
/// assert_eq!(dispatcher.send(resume).await.unwrap(), Some(0));
///
/// // The same as data.
/// let pause = PauseEndpoint::from_config(&serde_json::json!({
///     "endpoint": "https://partner.example:443", "max_held": 1000, "max_hold_ms": 600000
/// }))?;
/// # Ok::<(), herald_core::TargetError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "Option<bool>")]
#[must_use]
pub struct PauseEndpoint {
    key: String,
    max_held: usize,
    max_hold: Duration,
}

impl PauseEndpoint {
    /// The most endpoints and targets paused at once.
    pub const MAX_PAUSES: usize = 10_000;
    /// The longest a delivery is held: a day.
    pub const LONGEST: Duration = Duration::from_secs(86_400);
    /// The default of [`max_held`](Self::max_held).
    pub const DEFAULT_MAX_HELD: usize = 10_000;
    /// The default of [`max_hold`](Self::max_hold): an hour.
    pub const DEFAULT_MAX_HOLD: Duration = Duration::from_secs(3_600);

    /// Pauses the endpoint with key `endpoint`.
    pub fn endpoint(endpoint: impl Into<String>) -> Self {
        Self::keyed(endpoint.into())
    }

    /// Pauses the endpoint `target` reaches (every target reaching it is paused).
    pub fn endpoint_of(target: &Target) -> Self {
        Self::keyed(endpoint_of(target))
    }

    /// Pauses one target (the one with this fingerprint), whatever its endpoint.
    pub fn target(target: &Target) -> Self {
        Self::fingerprint(target.fingerprint())
    }

    /// Pauses the target with `fingerprint`.
    pub fn fingerprint(fingerprint: Fingerprint) -> Self {
        Self::keyed(target_key(fingerprint))
    }

    fn keyed(key: String) -> Self {
        Self {
            key,
            max_held: Self::DEFAULT_MAX_HELD,
            max_hold: Self::DEFAULT_MAX_HOLD,
        }
    }

    /// Holds at most `held` deliveries (at least 1); one more fails with
    /// [`ErrorKind::Paused`]. Default 10,000.
    pub fn max_held(mut self, held: usize) -> Self {
        self.max_held = held.max(1);
        self
    }

    /// Holds a delivery at most `hold` (at most [`LONGEST`](Self::LONGEST)); then it
    /// fails with [`ErrorKind::Paused`]. Default an hour. (The dispatch's deadline, and a
    /// shutdown's grace, end it sooner.)
    pub fn max_hold(mut self, hold: Duration) -> Self {
        self.max_hold = hold.min(Self::LONGEST);
        self
    }

    /// Reads a pause from data: `endpoint` (a key) or `target` (a fingerprint's 32
    /// hex digits), and optionally `max_held` and `max_hold_ms`.
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming the field.
    pub fn from_config(config: &serde_json::Value) -> Result<Self, TargetError> {
        let mut fields = ConfigFields::from_config(config)?;
        let pause = Self::keyed(read_key(&mut fields)?);
        let pause = match fields.usize("max_held")? {
            Some(0) => return Err(fields.invalid("max_held", "must be at least 1")),
            Some(held) => pause.max_held(held),
            None => pause,
        };
        let pause = match fields.millis("max_hold_ms", Self::LONGEST)? {
            Some(hold) => pause.max_hold(hold),
            None => pause,
        };
        fields.finish(&["endpoint", "target", "max_held", "max_hold_ms"])?;
        Ok(pause)
    }
}

/// Resumes a paused endpoint or target ([`PauseEndpoint`]): its held deliveries go, in
/// the order they came. Answered with how many were held, or `None` when it was not
/// paused.
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "Option<usize>")]
#[must_use]
pub struct ResumeEndpoint {
    key: String,
}

impl ResumeEndpoint {
    /// Resumes the endpoint with key `endpoint`.
    pub fn endpoint(endpoint: impl Into<String>) -> Self {
        Self {
            key: endpoint.into(),
        }
    }

    /// Resumes the endpoint `target` reaches.
    pub fn endpoint_of(target: &Target) -> Self {
        Self::endpoint(endpoint_of(target))
    }

    /// Resumes one target.
    pub fn target(target: &Target) -> Self {
        Self::fingerprint(target.fingerprint())
    }

    /// Resumes the target with `fingerprint`.
    pub fn fingerprint(fingerprint: Fingerprint) -> Self {
        Self {
            key: target_key(fingerprint),
        }
    }

    /// Reads it from data: `endpoint` (a key) or `target` (a fingerprint).
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming the field.
    pub fn from_config(config: &serde_json::Value) -> Result<Self, TargetError> {
        let mut fields = ConfigFields::from_config(config)?;
        let key = read_key(&mut fields)?;
        fields.finish(&["endpoint", "target"])?;
        Ok(Self { key })
    }
}

/// The key of the endpoint `target` reaches, as deliveries find it; for a target whose
/// options are still a raw config (a custom adapter's, checked when delivered), its own
/// key: its endpoint is not known before.
fn endpoint_of(target: &Target) -> String {
    let named = target
        .resilience()
        .and_then(super::Resilience::endpoint_name);
    match target.options() {
        crate::target::Options::Typed(options) => {
            endpoint_key(target.adapter(), options.as_ref(), named).into_owned()
        }
        crate::target::Options::Config(_) => match named {
            Some(named) => named.to_owned(),
            None => target_key(target.fingerprint()),
        },
    }
}

/// A paused target's key: apart from every endpoint key (none starts so).
fn target_key(fingerprint: Fingerprint) -> String {
    format!("target:{fingerprint}")
}

fn read_key(fields: &mut ConfigFields) -> Result<String, TargetError> {
    match (fields.string("endpoint")?, fields.string("target")?) {
        (Some(endpoint), None) => Ok(endpoint),
        (None, Some(target)) => Fingerprint::parse(&target).map(target_key).ok_or_else(|| {
            fields.invalid("target", "must be a target's fingerprint (32 hex digits)")
        }),
        (Some(_), Some(_)) => Err(fields.invalid("target", "must not be given with `endpoint`")),
        (None, None) => Err(fields.missing("endpoint")),
    }
}

/// The paused endpoints and targets of a dispatcher (shared by its shards).
#[derive(Debug, Default)]
pub(crate) struct Pauses {
    map: DashMap<Arc<str>, Arc<Paused>, foldhash::fast::RandomState>,
    /// How many are paused: while none, a delivery looks nothing up.
    live: AtomicUsize,
    /// How many of them are targets: while none, no fingerprint is made.
    targets: AtomicUsize,
}

/// One pause.
#[derive(Debug)]
pub(crate) struct Paused {
    held: AtomicUsize,
    max_held: AtomicUsize,
    max_hold: std::sync::Mutex<Duration>,
    /// Woken at resume.
    resumed: Notify,
    open: std::sync::atomic::AtomicBool,
}

impl Pauses {
    /// Whether anything is paused.
    pub(crate) fn any(&self) -> bool {
        self.live.load(Ordering::Acquire) > 0
    }

    /// The pause a delivery to `target` (with `options`, by adapter `adapter`) is
    /// under, if any: its endpoint's, else its own.
    pub(crate) fn of(
        &self,
        adapter: &str,
        options: &dyn TargetOptions,
        target: &Target,
    ) -> Option<Arc<Paused>> {
        if !self.any() {
            return None;
        }
        let named = target
            .resilience()
            .and_then(super::Resilience::endpoint_name);
        let key = endpoint_key(adapter, options, named);
        if let Some(paused) = self.map.get(&*key) {
            return Some(Arc::clone(&paused));
        }
        if self.targets.load(Ordering::Acquire) == 0 {
            return None;
        }
        let key = target_key(target.fingerprint());
        self.map.get(key.as_str()).map(|paused| Arc::clone(&paused))
    }

    pub(crate) fn pause(&self, pause: PauseEndpoint) -> Option<bool> {
        if let Some(paused) = self.map.get(pause.key.as_str()) {
            paused.max_held.store(pause.max_held, Ordering::Release);
            *super::lock(&paused.max_hold) = pause.max_hold;
            return Some(true);
        }
        if self.live.load(Ordering::Acquire) >= PauseEndpoint::MAX_PAUSES {
            return None;
        }
        let target = pause.key.starts_with("target:");
        let paused = Arc::new(Paused {
            held: AtomicUsize::new(0),
            max_held: AtomicUsize::new(pause.max_held),
            max_hold: std::sync::Mutex::new(pause.max_hold),
            resumed: Notify::new(),
            open: std::sync::atomic::AtomicBool::new(false),
        });
        if self.map.insert(pause.key.into(), paused).is_none() {
            self.live.fetch_add(1, Ordering::AcqRel);
            if target {
                self.targets.fetch_add(1, Ordering::AcqRel);
            }
        }
        tracing::info!("endpoint paused");
        Some(false)
    }

    pub(crate) fn resume(&self, resume: &ResumeEndpoint) -> Option<usize> {
        let (key, paused) = self.map.remove(resume.key.as_str())?;
        self.live.fetch_sub(1, Ordering::AcqRel);
        if key.starts_with("target:") {
            self.targets.fetch_sub(1, Ordering::AcqRel);
        }
        let held = paused.held.load(Ordering::Acquire);
        paused.open.store(true, Ordering::Release);
        paused.resumed.notify_waiters();
        tracing::info!(held, "endpoint resumed");
        Some(held)
    }

    /// Every pause with how many deliveries it holds, for `Stats`.
    pub(crate) fn snapshot(&self) -> std::collections::BTreeMap<String, usize> {
        self.map
            .iter()
            .map(|entry| (entry.key().to_string(), entry.held.load(Ordering::Acquire)))
            .collect()
    }
}

impl Paused {
    /// Holds a delivery until the pause ends (`Ok`), or fails it with `Paused`: when
    /// `while_paused` says so, when the pause holds its most, or after its longest hold.
    pub(crate) async fn hold(&self, while_paused: WhilePaused) -> Result<(), ErrorKind> {
        if while_paused == WhilePaused::Fail {
            return Err(ErrorKind::Paused);
        }
        let max = self.max_held.load(Ordering::Acquire);
        if self.held.fetch_add(1, Ordering::AcqRel) >= max {
            self.held.fetch_sub(1, Ordering::AcqRel);
            return Err(ErrorKind::Paused);
        }
        let _held = Held(&self.held);
        let longest = *super::lock(&self.max_hold);
        let resumed = self.resumed.notified();
        let mut resumed = std::pin::pin!(resumed);
        // Registered before the check: a resume in between is not missed.
        resumed.as_mut().enable();
        if self.open.load(Ordering::Acquire) {
            return Ok(());
        }
        tokio::time::timeout(longest, resumed)
            .await
            .map_err(|_| ErrorKind::Paused)
    }
}

/// One held delivery, counted until it goes.
struct Held<'a>(&'a AtomicUsize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
