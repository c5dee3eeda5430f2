//! The per-endpoint circuit breaker: its settings and its state machine.

use std::time::Duration;

use tokio::time::Instant;

use crate::{ConfigFields, ErrorKind, TargetError};

/// A circuit breaker for each endpoint a target reaches: after `failures` retryable
/// failures in a row the circuit opens, and deliveries to that endpoint fail at once
/// with [`ErrorKind::CircuitOpen`] (no attempt made) until `cooldown` has passed. Then
/// it lets `probes` deliveries through (half-open): if they all succeed it closes, if
/// one fails it opens again for another cooldown.
///
/// Only failures that say the endpoint is in trouble count: those
/// [`retryable`](ErrorKind::retryable) (timeouts, refused connections, 429 and 5xx, a
/// full mailbox). A 400 or a rejection means the request was bad, not that the endpoint
/// is down: it counts as an answer, like a success. One delivery counts once, however
/// many attempts its adapter made.
///
/// ```
/// use std::time::Duration;
/// use herald_core::resilience::Breaker;
///
/// let breaker = Breaker::new().failures(3).cooldown(Duration::from_secs(10)).probes(2);
/// assert_eq!(breaker.failure_threshold(), 3);
/// assert_eq!(Breaker::default().failure_threshold(), 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    failures: u32,
    cooldown: Duration,
    probes: u32,
}

impl Default for Breaker {
    /// Opens after 5 failures in a row, for 30 seconds, then probes with 1 delivery.
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown: Duration::from_secs(30),
            probes: 1,
        }
    }
}

impl Breaker {
    /// The longest cooldown: one hour.
    pub const MAX_COOLDOWN: Duration = Duration::from_secs(3600);

    /// The default breaker (see [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens after `failures` retryable failures in a row (at least 1).
    #[must_use]
    pub fn failures(mut self, failures: u32) -> Self {
        self.failures = failures.max(1);
        self
    }

    /// Stays open for `cooldown` (at least 1 ms, at most an hour) before probing.
    #[must_use]
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown.clamp(Duration::from_millis(1), Self::MAX_COOLDOWN);
        self
    }

    /// Lets `probes` deliveries through when half-open (at least 1).
    #[must_use]
    pub fn probes(mut self, probes: u32) -> Self {
        self.probes = probes.max(1);
        self
    }

    /// Failures in a row that open the circuit.
    pub fn failure_threshold(&self) -> u32 {
        self.failures
    }

    /// How long the circuit stays open.
    pub fn cooldown_value(&self) -> Duration {
        self.cooldown
    }

    /// Deliveries let through when half-open.
    pub fn probe_count(&self) -> u32 {
        self.probes
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let mut breaker = Self::default();
        if let Some(failures) = fields.usize("failures")? {
            breaker.failures = positive(&fields, "failures", failures)?;
        }
        if let Some(cooldown) = fields.millis("cooldown_ms", Self::MAX_COOLDOWN)? {
            breaker = breaker.cooldown(cooldown);
        }
        if let Some(probes) = fields.usize("probes")? {
            breaker.probes = positive(&fields, "probes", probes)?;
        }
        fields.finish(&["failures", "cooldown_ms", "probes"])?;
        Ok(breaker)
    }

    pub(crate) fn to_config(self) -> serde_json::Value {
        serde_json::json!({
            "failures": self.failures,
            "cooldown_ms": self.cooldown.as_millis() as u64,
            "probes": self.probes,
        })
    }
}

/// A whole number from 1 to `u32::MAX`.
pub(crate) fn positive(
    fields: &ConfigFields,
    name: &str,
    value: usize,
) -> Result<u32, TargetError> {
    u32::try_from(value)
        .ok()
        .filter(|value| *value > 0)
        .ok_or_else(|| fields.invalid(name, "must be a whole number from 1"))
}

/// Where an endpoint's circuit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CircuitState {
    /// Deliveries go through.
    #[default]
    Closed,
    /// Deliveries fail at once with [`ErrorKind::CircuitOpen`].
    Open,
    /// A few probe deliveries go through; the rest fail at once.
    HalfOpen,
}

impl CircuitState {
    /// A short, stable name: `closed`, `open`, `half_open`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// A change of state, to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) to: CircuitState,
    /// Failures in a row when it opened.
    pub(crate) failures: u32,
}

/// One endpoint's circuit. Time is passed in, so the machine is plain data.
#[derive(Debug, Default)]
pub(crate) struct Circuit {
    state: CircuitState,
    /// Retryable failures in a row (closed).
    failures: u32,
    /// When an open circuit may probe.
    open_until: Option<Instant>,
    /// Probes let through and not yet answered, and probes that succeeded (half-open).
    probing: u32,
    probed: u32,
}

/// Whether a delivery may go: as an ordinary one, as a probe, or not (and for how long
/// the circuit stays open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    Pass,
    Probe,
    Refuse(Duration),
}

impl Circuit {
    pub(crate) fn state(&self) -> CircuitState {
        self.state
    }

    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// Asks to deliver now; an open circuit past its cooldown turns half-open.
    pub(crate) fn admit(&mut self, policy: &Breaker, now: Instant) -> (Admit, Option<Transition>) {
        let mut transition = None;
        if self.state == CircuitState::Open {
            let until = self.open_until.unwrap_or(now);
            if now < until {
                return (Admit::Refuse(until - now), None);
            }
            self.state = CircuitState::HalfOpen;
            self.probing = 0;
            self.probed = 0;
            transition = Some(self.transition());
        }
        let admit = match self.state {
            CircuitState::Closed => Admit::Pass,
            _ if self.probing + self.probed < policy.probes => {
                self.probing += 1;
                Admit::Probe
            }
            // Half-open with every probe out: refused until they answer.
            _ => Admit::Refuse(Duration::ZERO),
        };
        (admit, transition)
    }

    /// Records how a delivery let through ended: `failed` when it says the endpoint is
    /// in trouble. A probe's delivery that never finished counts as failed.
    pub(crate) fn record(
        &mut self,
        policy: &Breaker,
        probe: bool,
        failed: bool,
        now: Instant,
    ) -> Option<Transition> {
        match (self.state, probe) {
            (CircuitState::HalfOpen, true) => {
                self.probing = self.probing.saturating_sub(1);
                if failed {
                    return Some(self.open(policy, now));
                }
                self.probed += 1;
                if self.probed >= policy.probes {
                    self.state = CircuitState::Closed;
                    self.failures = 0;
                    return Some(self.transition());
                }
                None
            }
            (CircuitState::Closed, _) if failed => {
                self.failures += 1;
                (self.failures >= policy.failures).then(|| self.open(policy, now))
            }
            (CircuitState::Closed, _) => {
                self.failures = 0;
                None
            }
            // A delivery let through before the circuit opened, or a probe of an
            // earlier half-open spell: the circuit has moved on.
            _ => None,
        }
    }

    /// Gives back a probe that made no attempt (rate-limited, or no room): it decides
    /// nothing.
    pub(crate) fn release_probe(&mut self) {
        if self.state == CircuitState::HalfOpen {
            self.probing = self.probing.saturating_sub(1);
        }
    }

    /// Closes the circuit, whatever its state (an operator's reset); the transition
    /// when it was not closed.
    pub(crate) fn reset(&mut self) -> Option<Transition> {
        let was = self.state;
        *self = Self::default();
        (was != CircuitState::Closed).then(|| self.transition())
    }

    /// Opens the circuit until `until`, whatever its state (an operator's hold); the
    /// transition when it was not open.
    pub(crate) fn hold_open(&mut self, until: Instant) -> Option<Transition> {
        let was = self.state;
        *self = Self {
            state: CircuitState::Open,
            open_until: Some(until),
            ..Self::default()
        };
        (was != CircuitState::Open).then(|| self.transition())
    }

    fn open(&mut self, policy: &Breaker, now: Instant) -> Transition {
        self.state = CircuitState::Open;
        self.open_until = Some(now + policy.cooldown);
        self.probing = 0;
        self.probed = 0;
        let transition = self.transition();
        self.failures = 0;
        transition
    }

    fn transition(&self) -> Transition {
        Transition {
            to: self.state,
            failures: self.failures,
        }
    }
}

/// What a delivery's end says of its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It answered: a success, or a failure that says the request was bad (a 4xx, a
    /// rejection).
    Up,
    /// It is in trouble: a retryable failure (timeout, refused, 429, 5xx, full mailbox).
    Down,
    /// Nothing: Herald failed the delivery itself without trying the endpoint (an open
    /// circuit, a rate limit, overload, shutdown, the deadline, a bad target, a panic).
    Untried,
}

/// The verdict on a delivery that ended with `error` (`None`: it succeeded).
pub(crate) fn verdict(error: Option<&ErrorKind>) -> Verdict {
    match error {
        None => Verdict::Up,
        Some(
            ErrorKind::CircuitOpen { .. }
            | ErrorKind::RateLimited
            | ErrorKind::Overloaded
            | ErrorKind::Shutdown
            | ErrorKind::DeadlineExceeded
            | ErrorKind::InvalidTarget(_)
            | ErrorKind::TooLarge { .. }
            | ErrorKind::Expired
            | ErrorKind::LaneBlocked
            | ErrorKind::Paused
            | ErrorKind::Panicked { .. },
        ) => Verdict::Untried,
        Some(kind) if kind.retryable() => Verdict::Down,
        Some(_) => Verdict::Up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_probes_and_closes() {
        let policy = Breaker::new().failures(2).cooldown(Duration::from_secs(5));
        let t0 = Instant::now();
        let mut circuit = Circuit::default();
        assert_eq!(circuit.admit(&policy, t0).0, Admit::Pass);
        assert_eq!(circuit.record(&policy, false, true, t0), None);
        let opened = circuit.record(&policy, false, true, t0).unwrap();
        assert_eq!(opened.to, CircuitState::Open);
        assert_eq!(opened.failures, 2);
        assert_eq!(
            circuit.admit(&policy, t0 + Duration::from_secs(1)).0,
            Admit::Refuse(Duration::from_secs(4))
        );
        let later = t0 + Duration::from_secs(5);
        let (admit, half) = circuit.admit(&policy, later);
        assert_eq!(admit, Admit::Probe);
        assert_eq!(half.unwrap().to, CircuitState::HalfOpen);
        // The one probe is out: others are refused.
        assert_eq!(
            circuit.admit(&policy, later).0,
            Admit::Refuse(Duration::ZERO)
        );
        let closed = circuit.record(&policy, true, false, later).unwrap();
        assert_eq!(closed.to, CircuitState::Closed);
        assert_eq!(circuit.admit(&policy, later).0, Admit::Pass);
    }

    #[test]
    fn a_failed_probe_reopens_and_a_success_in_between_resets_the_count() {
        let policy = Breaker::new().failures(2).cooldown(Duration::from_secs(1));
        let t0 = Instant::now();
        let mut circuit = Circuit::default();
        circuit.record(&policy, false, true, t0);
        circuit.record(&policy, false, false, t0);
        assert_eq!(circuit.record(&policy, false, true, t0), None);
        assert!(circuit.record(&policy, false, true, t0).is_some());
        let later = t0 + Duration::from_secs(1);
        assert_eq!(circuit.admit(&policy, later).0, Admit::Probe);
        let reopened = circuit.record(&policy, true, true, later).unwrap();
        assert_eq!(reopened.to, CircuitState::Open);
        assert!(matches!(circuit.admit(&policy, later).0, Admit::Refuse(_)));
    }
}
