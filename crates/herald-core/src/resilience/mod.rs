//! Policies that wrap any adapter's delivery: idempotency, per-endpoint circuit
//! breakers, rate limits and concurrency caps, and dead-letter targets.
//!
//! A [`Resilience`] names the policies; give one to a target
//! ([`Target::with_resilience`](crate::Target::with_resilience)) or to the dispatcher
//! as the default for every target
//! ([`DispatcherBuilder::resilience`](crate::DispatcherBuilder::resilience)). A
//! target's settings win field by field; what neither sets is off. They apply in this
//! order:
//!
//! 0. [`Ordering`]: a delivery of a keyed dispatch waits for its turn in its lane
//!    (one at a time per key and endpoint, in admission order), then goes through the
//!    rest; a final failure skips, or blocks the lane.
//! 1. [`Expiry`]: a signal past its `expirytime` or the target's max age fails
//!    ([`ErrorKind::Expired`]); checked again after any
//!    wait below, and before each retry.
//! 2. [`Dedupe`]: a signal id the target already took in the window is skipped
//!    ([`Outcome::Duplicate`](crate::Outcome::Duplicate)); one it has in flight waits
//!    for that delivery's outcome.
//! 3. [`Breaker`]: an open circuit fails the delivery at once
//!    ([`ErrorKind::CircuitOpen`]).
//! 4. [`RateLimit`]: the delivery waits for its turn, or fails
//!    ([`ErrorKind::RateLimited`]).
//! 5. [`Concurrency`]: the delivery waits for room at its endpoint.
//! 6. The adapter's attempt, with its own retries (the `http` and `webhook` adapters'
//!    [`RetryPolicy`](crate::http::RetryPolicy)). The breaker counts the delivery once.
//! 7. Dead letter: a delivery that finally failed is delivered to the dead-letter
//!    target, carrying the failure as extension attributes (see [`DeadLetter`]); an
//!    expired one only if its [`Expiry`] asks.
//!
//! The guide is `docs/RESILIENCE.md`.

mod breaker;
mod concurrency;
mod dead_letter;
mod dedupe;
mod endpoints;
mod expiry;
mod guard;
mod lanes;
mod ordering;
mod pause;
mod rate;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use breaker::{Breaker, CircuitState};
pub use concurrency::Concurrency;
pub use dead_letter::{DeadLetter, DeadLettered};
pub use dedupe::Dedupe;
pub use endpoints::{EndpointStats, Latency, OpenCircuit, ResetCircuit};
pub use expiry::Expiry;
pub use lanes::ResumeLanes;
pub use ordering::Ordering;
pub use pause::{PauseEndpoint, ResumeEndpoint, WhilePaused};
pub use rate::RateLimit;

pub(crate) use dead_letter::dead_letter_signal;
pub use dead_letter::{
    ATTEMPTS, ERROR_ADAPTER, ERROR_CODE, ERROR_DATA, ERROR_DATA_LIMIT, ERROR_DEST, ERROR_DEST_ID,
    ERROR_EXPIRYTIME, ERROR_KIND,
};
pub(crate) use endpoints::Endpoints;
pub(crate) use expiry::passed as expiry_passed;
#[cfg(feature = "http")]
pub(crate) use expiry::passed_after as expiry_passed_after;
pub(crate) use guard::{guarded, guarded_now};
pub(crate) use lanes::{Lanes, Place, Turns, key_hash as ordering_key_hash, partition_key};
pub(crate) use pause::Pauses;

pub use crate::queue::{
    DeadLetterFilter, DeadLetterPage, DeadLetterQueue, ListDeadLetters, QueueStats,
    QueueStatsSnapshot, Redrive, RedriveReport, TakeDeadLetters,
};

use crate::egress::Egress;
use crate::{ConfigFields, ErrorKind, Secrets, Target, TargetError};

/// The resilience policies of a target, or the defaults of a dispatcher: each one set
/// on, set off, or left to the default.
///
/// ```
/// use std::time::Duration;
/// use herald_core::resilience::{Breaker, Concurrency, Dedupe, RateLimit, Resilience};
/// use herald_core::Target;
///
/// let policies = Resilience::new()
///     .breaker(Breaker::new().failures(3))
///     .dedupe(Dedupe::new(Duration::from_secs(300)))
///     .rate_limit(RateLimit::per_second(50)?)
///     .concurrency(Concurrency::max(4)?)
///     .dead_letter(Target::logger());
/// let target = Target::noop().with_resilience(policies);
/// assert!(target.resilience().is_some());
///
/// // The same as data.
/// let target: Target = serde_json::from_value(serde_json::json!({
///     "adapter": "noop",
///     "resilience": {"breaker": {"failures": 3}, "rate_limit": {"per_second": 50}}
/// }))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Resilience {
    breaker: Option<Option<Breaker>>,
    dedupe: Option<Option<Dedupe>>,
    expiry: Option<Option<Expiry>>,
    rate_limit: Option<Option<RateLimit>>,
    concurrency: Option<Option<Concurrency>>,
    ordering: Option<Option<Ordering>>,
    while_paused: Option<WhilePaused>,
    dead_letter: Option<Option<Arc<Target>>>,
    endpoint: Option<Arc<str>>,
}

/// What an endpoint named in data is keyed under: `data:` and its name.
const DATA_ENDPOINT: &str = "data:";

/// The fields of a `resilience` object in data.
const FIELDS: [&str; 9] = [
    "breaker",
    "dedupe",
    "expiry",
    "rate_limit",
    "concurrency",
    "ordering",
    "while_paused",
    "dead_letter",
    "endpoint",
];

impl Resilience {
    /// Nothing set: every policy left to the default.
    pub fn new() -> Self {
        Self::default()
    }

    /// A circuit breaker per endpoint.
    pub fn breaker(mut self, breaker: Breaker) -> Self {
        self.breaker = Some(Some(breaker));
        self
    }

    /// No circuit breaker, whatever the default.
    pub fn no_breaker(mut self) -> Self {
        self.breaker = Some(None);
        self
    }

    /// Skips signal ids the target already took.
    pub fn dedupe(mut self, dedupe: Dedupe) -> Self {
        self.dedupe = Some(Some(dedupe));
        self
    }

    /// No dedupe, whatever the default.
    pub fn no_dedupe(mut self) -> Self {
        self.dedupe = Some(None);
        self
    }

    /// A max age for signals, and whether expired deliveries are dead-lettered. (A
    /// signal's own `expirytime` is honoured with or without it.)
    pub fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = Some(Some(expiry));
        self
    }

    /// No expiry policy, whatever the default: the signal's own `expirytime` only.
    pub fn no_expiry(mut self) -> Self {
        self.expiry = Some(None);
        self
    }

    /// A rate limit per endpoint.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(Some(limit));
        self
    }

    /// No rate limit, whatever the default.
    pub fn no_rate_limit(mut self) -> Self {
        self.rate_limit = Some(None);
        self
    }

    /// A concurrency cap per endpoint.
    pub fn concurrency(mut self, concurrency: Concurrency) -> Self {
        self.concurrency = Some(Some(concurrency));
        self
    }

    /// No concurrency cap, whatever the default.
    pub fn no_concurrency(mut self) -> Self {
        self.concurrency = Some(None);
        self
    }

    /// What the target does when a delivery of a keyed dispatch finally fails (see
    /// [`Ordering`]). Without it, the target keeps keyed deliveries in order and skips
    /// a failure.
    pub fn ordering(mut self, ordering: Ordering) -> Self {
        self.ordering = Some(Some(ordering));
        self
    }

    /// Ignores ordering keys, whatever the default: the target's deliveries run in
    /// parallel.
    pub fn no_ordering(mut self) -> Self {
        self.ordering = Some(None);
        self
    }

    /// What a delivery does while its endpoint (or the target) is paused
    /// ([`PauseEndpoint`]): held until resumed (the default), or failed at once.
    pub fn while_paused(mut self, while_paused: WhilePaused) -> Self {
        self.while_paused = Some(while_paused);
        self
    }

    /// The choice [`while_paused`](Self::while_paused) made here, if any.
    pub fn while_paused_setting(&self) -> Option<WhilePaused> {
        self.while_paused
    }

    /// Where a delivery that finally failed goes: any target. A dead letter's own
    /// failure is reported and never dead-lettered again.
    pub fn dead_letter(mut self, target: impl Into<Target>) -> Self {
        self.dead_letter = Some(Some(Arc::new(target.into())));
        self
    }

    /// No dead letter, whatever the dispatch or dispatcher says.
    pub fn no_dead_letter(mut self) -> Self {
        self.dead_letter = Some(None);
        self
    }

    /// Names the endpoint the target reaches, for breakers, rate limits and caps:
    /// targets naming one endpoint share them. Default is what the target's options
    /// say ([`TargetOptions::endpoint`](crate::TargetOptions::endpoint)): an HTTP
    /// target's scheme, host and port; a `pid` target's actor; a `named` target's name;
    /// else the adapter and the target's description.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into().into());
        self
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.breaker.is_none()
            && self.dedupe.is_none()
            && self.expiry.is_none()
            && self.rate_limit.is_none()
            && self.concurrency.is_none()
            && self.ordering.is_none()
            && self.while_paused.is_none()
            && self.dead_letter.is_none()
            && self.endpoint.is_none()
    }

    /// The breaker set here: `Some(None)` when set off.
    pub fn breaker_setting(&self) -> Option<Option<&Breaker>> {
        self.breaker.as_ref().map(Option::as_ref)
    }

    /// The ordering set here: `Some(None)` when set off.
    pub fn ordering_setting(&self) -> Option<Option<&Ordering>> {
        self.ordering.as_ref().map(Option::as_ref)
    }

    /// The endpoint named here.
    pub(crate) fn endpoint_name(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The dead letter set here: `Some(None)` when set off.
    pub fn dead_letter_setting(&self) -> Option<Option<&Target>> {
        self.dead_letter.as_ref().map(|t| t.as_deref())
    }

    /// Reads policies from data: an object with any of `breaker`, `dedupe`,
    /// `expiry`, `rate_limit`, `concurrency`, `ordering` (each an object, or `false`
    /// for off), `while_paused` (`"hold"` or `"fail"`), `dead_letter` (a target, or
    /// `false`) and `endpoint` (a string).
    ///
    /// ```
    /// use herald_core::resilience::Resilience;
    ///
    /// let error = Resilience::from_config(&serde_json::json!({"breaker": {"failures": 0}}))
    ///     .unwrap_err();
    /// assert_eq!(error.to_string(), "field `breaker.failures` must be a whole number from 1");
    /// ```
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming the field.
    pub fn from_config(config: &Value) -> Result<Self, TargetError> {
        Self::from_fields(ConfigFields::from_config(config)?, &Egress::default())
    }

    /// Reads policies from `fields`; a dead-letter target's network targets are under
    /// `egress`.
    pub(crate) fn from_fields(
        mut fields: ConfigFields,
        egress: &Egress,
    ) -> Result<Self, TargetError> {
        let resilience = Self {
            breaker: policy(&mut fields, "breaker", Breaker::from_fields)?,
            dedupe: policy(&mut fields, "dedupe", Dedupe::from_fields)?,
            expiry: policy(&mut fields, "expiry", Expiry::from_fields)?,
            rate_limit: policy(&mut fields, "rate_limit", RateLimit::from_fields)?,
            concurrency: policy(&mut fields, "concurrency", Concurrency::from_fields)?,
            ordering: policy(&mut fields, "ordering", Ordering::from_fields)?,
            while_paused: WhilePaused::from_fields(&mut fields)?,
            dead_letter: match fields.take("dead_letter") {
                None => None,
                Some(Value::Bool(false)) => Some(None),
                Some(config) => {
                    let target = Target::from_config_with(config, egress)
                        .map_err(|error| error.within(&fields.path("dead_letter")))?;
                    Some(Some(Arc::new(target)))
                }
            },
            // Named in data: kept apart from the endpoints targets built in code use,
            // so that data cannot join (and trip) the application's own.
            endpoint: fields
                .string("endpoint")?
                .map(|name| format!("{DATA_ENDPOINT}{name}").into()),
        };
        fields.finish(&FIELDS)?;
        Ok(resilience)
    }

    /// The policies as data, what [`from_config`](Self::from_config) reads back.
    ///
    /// # Errors
    ///
    /// A dead-letter target that cannot be data (`pid`).
    pub fn to_config(&self, secrets: Secrets) -> Result<Value, TargetError> {
        let mut map = Map::new();
        let mut put = |name: &str, value: Option<Option<Value>>| {
            if let Some(value) = value {
                map.insert(name.to_owned(), value.unwrap_or(Value::Bool(false)));
            }
        };
        put("breaker", self.breaker.map(|b| b.map(Breaker::to_config)));
        put("dedupe", self.dedupe.map(|d| d.map(Dedupe::to_config)));
        put("expiry", self.expiry.map(|e| e.map(Expiry::to_config)));
        put(
            "rate_limit",
            self.rate_limit.map(|r| r.map(RateLimit::to_config)),
        );
        put(
            "concurrency",
            self.concurrency.map(|c| c.map(Concurrency::to_config)),
        );
        put(
            "ordering",
            self.ordering.map(|o| o.map(Ordering::to_config)),
        );
        let while_paused = self.while_paused.map(|w| Some(w.name().into()));
        put("while_paused", while_paused);
        let dead_letter = match &self.dead_letter {
            None => None,
            Some(None) => Some(None),
            Some(Some(target)) => Some(Some(target.to_config(secrets)?)),
        };
        put("dead_letter", dead_letter);
        if let Some(endpoint) = &self.endpoint {
            let name = endpoint.strip_prefix(DATA_ENDPOINT).unwrap_or(endpoint);
            map.insert("endpoint".to_owned(), Value::String(name.to_owned()));
        }
        Ok(Value::Object(map))
    }
}

/// Reads one policy: an object, or `false` for off.
fn policy<T>(
    fields: &mut ConfigFields,
    name: &str,
    read: fn(ConfigFields) -> Result<T, TargetError>,
) -> Result<Option<Option<T>>, TargetError> {
    match fields.take(name) {
        None => Ok(None),
        Some(Value::Bool(false)) => Ok(Some(None)),
        Some(Value::Object(map)) => {
            let inner = ConfigFields::new(map).within(&fields.path(name));
            read(inner).map(|policy| Some(Some(policy)))
        }
        Some(_) => Err(fields.invalid(name, "must be an object, or false for off")),
    }
}

/// [`Target::with_resilience`](crate::Target::with_resilience) for anything that
/// becomes a target, so that typed targets take policies without `.into()` first.
///
/// ```
/// use herald_core::Target;
/// use herald_core::resilience::{Breaker, Resilience, WithResilience};
///
/// let target: Target = Target::logger().with_resilience(Resilience::new().breaker(Breaker::default()));
/// assert!(target.resilience().is_some());
/// ```
pub trait WithResilience: Into<Target> {
    /// The target under `resilience`'s policies.
    fn with_resilience(self, resilience: Resilience) -> Target {
        self.into().with_resilience(resilience)
    }
}

impl<T: Into<Target>> WithResilience for T {}

/// A target's policies over the dispatcher's defaults: the target's setting of each,
/// else the default's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Effective<'a> {
    pub(crate) breaker: Option<&'a Breaker>,
    pub(crate) dedupe: Option<&'a Dedupe>,
    pub(crate) expiry: Option<&'a Expiry>,
    pub(crate) rate_limit: Option<&'a RateLimit>,
    pub(crate) concurrency: Option<&'a Concurrency>,
    pub(crate) endpoint: Option<&'a str>,
}

impl<'a> Effective<'a> {
    /// The delivery policies for `target` under `defaults`; `None` when there are none
    /// (the delivery goes straight to its adapter).
    pub(crate) fn of(target: Option<&'a Resilience>, defaults: &'a Resilience) -> Option<Self> {
        fn pick<'a, T>(
            target: Option<&'a Option<Option<T>>>,
            default: &'a Option<Option<T>>,
        ) -> Option<&'a T> {
            match target {
                Some(Some(setting)) => setting.as_ref(),
                _ => default.as_ref().and_then(Option::as_ref),
            }
        }
        let effective = Self {
            breaker: pick(target.map(|t| &t.breaker), &defaults.breaker),
            dedupe: pick(target.map(|t| &t.dedupe), &defaults.dedupe),
            expiry: pick(target.map(|t| &t.expiry), &defaults.expiry),
            rate_limit: pick(target.map(|t| &t.rate_limit), &defaults.rate_limit),
            concurrency: pick(target.map(|t| &t.concurrency), &defaults.concurrency),
            endpoint: target.and_then(|t| t.endpoint.as_deref()),
        };
        let any = effective.breaker.is_some()
            || effective.dedupe.is_some()
            || effective.expiry.is_some()
            || effective.rate_limit.is_some()
            || effective.concurrency.is_some();
        any.then_some(effective)
    }

    /// Whether the delivery needs its endpoint's state.
    pub(crate) fn per_endpoint(&self) -> bool {
        self.breaker.is_some() || self.rate_limit.is_some() || self.concurrency.is_some()
    }
}

/// The dead letter for a target: its own setting, else the dispatch's, else the
/// dispatcher's.
/// A dispatch that says no dead letter (`Some(None)`) wins over all.
pub(crate) fn dead_letter_of<'a>(
    target: &'a Target,
    dispatch: Option<Option<&'a Arc<Target>>>,
    defaults: &'a Resilience,
) -> Option<&'a Target> {
    if let Some(None) = dispatch {
        return None;
    }
    match target.resilience().and_then(|r| r.dead_letter.as_ref()) {
        Some(setting) => setting.as_deref(),
        None => match dispatch {
            Some(Some(target)) => Some(&**target),
            _ => defaults.dead_letter.as_ref().and_then(|t| t.as_deref()),
        },
    }
}

/// Whether a delivery to `target` that failed with `kind` goes to its dead letter, as
/// far as its kind says: an expired one only when its [`Expiry`] asks.
pub(crate) fn dead_letters_kind(target: &Target, defaults: &Resilience, kind: &ErrorKind) -> bool {
    if !matches!(kind, ErrorKind::Expired) {
        return true;
    }
    let expiry = match target.resilience().and_then(|r| r.expiry.as_ref()) {
        Some(setting) => setting.as_ref(),
        None => defaults.expiry.as_ref().and_then(Option::as_ref),
    };
    expiry.is_some_and(Expiry::dead_letters)
}

/// Locks `mutex`, poisoned or not: policy state stays usable after a panic elsewhere
/// (every update to it is a single step).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a dispatcher's deliveries share: its default policies and its endpoints'
/// state (one per builder start, shared by shards).
#[derive(Debug)]
pub(crate) struct Policies {
    pub(crate) defaults: Resilience,
    pub(crate) endpoints: Endpoints,
    /// The ordering lanes of keyed dispatches.
    pub(crate) lanes: Arc<Lanes>,
    /// The paused endpoints and targets.
    pub(crate) pauses: Pauses,
}

impl Policies {
    /// What a delivery to `target` does while paused: its setting, else the default's.
    pub(crate) fn while_paused(&self, target: &Target) -> WhilePaused {
        target
            .resilience()
            .and_then(Resilience::while_paused_setting)
            .or(self.defaults.while_paused)
            .unwrap_or_default()
    }
}
