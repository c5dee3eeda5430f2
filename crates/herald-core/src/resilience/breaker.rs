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
/// With [`disable_after`](Self::disable_after), an endpoint whose circuit has not
/// closed for that long is **disabled**: its circuit stays open between probes
/// [`probe_every`](Self::probe_every) apart (one delivery each) instead of every
/// cooldown, and closes (the endpoint **recovers**) when a probe succeeds, or when an
/// operator resets it ([`ResetCircuit`](crate::resilience::ResetCircuit)). Each is
/// announced (`herald.endpoint.disabled`, `.recovered`, `.enabled`; see
/// [`circuit_signals`](crate::DispatcherBuilder::circuit_signals)).
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
    disable_after: Option<Duration>,
    probe_every: Duration,
}

impl Default for Breaker {
    /// Opens after 5 failures in a row, for 30 seconds, then probes with 1 delivery;
    /// never disables.
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown: Duration::from_secs(30),
            probes: 1,
            disable_after: None,
            probe_every: Self::DEFAULT_PROBE_EVERY,
        }
    }
}

impl Breaker {
    /// The longest cooldown: one hour.
    pub const MAX_COOLDOWN: Duration = Duration::from_secs(3600);
    /// The longest [`disable_after`](Self::disable_after): 30 days.
    pub const MAX_DISABLE_AFTER: Duration = Duration::from_secs(30 * 86_400);
    /// The longest [`probe_every`](Self::probe_every): a day.
    pub const MAX_PROBE_EVERY: Duration = Duration::from_secs(86_400);
    /// The default [`probe_every`](Self::probe_every): ten minutes.
    pub const DEFAULT_PROBE_EVERY: Duration = Duration::from_secs(600);

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

    /// Disables the endpoint once its circuit has been open (or half-open) without
    /// closing for `after` (at least 1 ms, at most 30 days): it is then probed every
    /// [`probe_every`](Self::probe_every) only. Default is never.
    #[must_use]
    pub fn disable_after(mut self, after: Duration) -> Self {
        self.disable_after = Some(after.clamp(Duration::from_millis(1), Self::MAX_DISABLE_AFTER));
        self
    }

    /// How far apart a disabled endpoint's probes are (at least 1 ms, at most a day).
    /// Default ten minutes.
    #[must_use]
    pub fn probe_every(mut self, every: Duration) -> Self {
        self.probe_every = every.clamp(Duration::from_millis(1), Self::MAX_PROBE_EVERY);
        self
    }

    /// How long a circuit stays unclosed before its endpoint is disabled, if ever.
    pub fn disable_after_value(&self) -> Option<Duration> {
        self.disable_after
    }

    /// How far apart a disabled endpoint's probes are.
    pub fn probe_every_value(&self) -> Duration {
        self.probe_every
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
        if let Some(after) = fields.millis("disable_after_ms", Self::MAX_DISABLE_AFTER)? {
            breaker = breaker.disable_after(after);
        }
        if let Some(every) = fields.millis("probe_every_ms", Self::MAX_PROBE_EVERY)? {
            breaker = breaker.probe_every(every);
        }
        fields.finish(&[
            "failures",
            "cooldown_ms",
            "probes",
            "disable_after_ms",
            "probe_every_ms",
        ])?;
        Ok(breaker)
    }

    pub(crate) fn to_config(self) -> serde_json::Value {
        let mut config = serde_json::json!({
            "failures": self.failures,
            "cooldown_ms": self.cooldown.as_millis() as u64,
            "probes": self.probes,
        });
        if let Some(after) = self.disable_after {
            config["disable_after_ms"] = (after.as_millis() as u64).into();
            config["probe_every_ms"] = (self.probe_every.as_millis() as u64).into();
        }
        config
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
    /// Open for long (see [`Breaker::disable_after`]): deliveries fail at once with
    /// [`ErrorKind::CircuitOpen`] and one probe goes every
    /// [`probe_every`](Breaker::probe_every).
    Disabled,
}

impl CircuitState {
    /// A short, stable name: `closed`, `open`, `half_open`, `disabled`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
            Self::Disabled => "disabled",
        }
    }
}

/// A change of state, to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) to: CircuitState,
    /// Failures in a row when it opened.
    pub(crate) failures: u32,
    /// Closed after being disabled: by a probe (`Recovered`) or an operator
    /// (`Enabled`).
    pub(crate) revived: Option<Revived>,
    /// Disabled again after a failed probe (announced once, when first disabled).
    pub(crate) again: bool,
}

/// How a disabled endpoint came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revived {
    /// A probe succeeded.
    Recovered,
    /// An operator reset its circuit.
    Enabled,
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
    /// Since when it has not been closed.
    failing_since: Option<Instant>,
    /// It was disabled, and has not closed since.
    disabled: bool,
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
        if matches!(self.state, CircuitState::Open | CircuitState::Disabled) {
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
            _ if self.probing + self.probed < self.probes(policy) => {
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
                // A disabled endpoint's probe is one delivery.
                if self.probed >= policy.probes || self.disabled {
                    let revived = self.disabled.then_some(Revived::Recovered);
                    self.close();
                    return Some(Transition {
                        revived,
                        ..self.transition()
                    });
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
        let revived = self.disabled.then_some(Revived::Enabled);
        *self = Self::default();
        (was != CircuitState::Closed).then(|| Transition {
            revived,
            ..self.transition()
        })
    }

    /// Closed: its failures forgotten.
    fn close(&mut self) {
        self.state = CircuitState::Closed;
        self.failures = 0;
        self.failing_since = None;
        self.disabled = false;
    }

    /// Probes let through when half-open: one for a disabled endpoint.
    fn probes(&self, policy: &Breaker) -> u32 {
        if self.disabled { 1 } else { policy.probes }
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

    /// Opens the circuit, or disables it when it has failed for long enough.
    fn open(&mut self, policy: &Breaker, now: Instant) -> Transition {
        let since = *self.failing_since.get_or_insert(now);
        let long = policy
            .disable_after
            .is_some_and(|after| now.saturating_duration_since(since) >= after);
        let again = self.disabled;
        self.disabled |= long;
        let (state, wait) = match self.disabled {
            true => (CircuitState::Disabled, policy.probe_every),
            false => (CircuitState::Open, policy.cooldown),
        };
        self.state = state;
        self.open_until = Some(now + wait);
        self.probing = 0;
        self.probed = 0;
        let transition = Transition {
            again,
            ..self.transition()
        };
        self.failures = 0;
        transition
    }

    fn transition(&self) -> Transition {
        Transition {
            to: self.state,
            failures: self.failures,
            revived: None,
            again: false,
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
    fn a_circuit_open_for_long_is_disabled_and_probed_once_per_interval() {
        let secs = Duration::from_secs;
        let policy = Breaker::new()
            .failures(1)
            .cooldown(secs(10))
            .probes(3)
            .disable_after(secs(15))
            .probe_every(secs(100));
        let t0 = Instant::now();
        let mut circuit = Circuit::default();
        assert_eq!(
            circuit.record(&policy, false, true, t0).unwrap().to,
            CircuitState::Open
        );
        // The probe at 10 s fails, under 15 s: open again.
        assert_eq!(circuit.admit(&policy, t0 + secs(10)).0, Admit::Probe);
        let open = circuit.record(&policy, true, true, t0 + secs(10)).unwrap();
        assert_eq!(open.to, CircuitState::Open);
        // The probe at 20 s fails past 15 s: disabled, for 100 s.
        circuit.admit(&policy, t0 + secs(20));
        let disabled = circuit.record(&policy, true, true, t0 + secs(20)).unwrap();
        assert_eq!(
            (disabled.to, disabled.again),
            (CircuitState::Disabled, false)
        );
        assert_eq!(
            circuit.admit(&policy, t0 + secs(30)).0,
            Admit::Refuse(secs(90))
        );
        // One probe, not three; failed, it is disabled again (not announced again).
        assert_eq!(circuit.admit(&policy, t0 + secs(120)).0, Admit::Probe);
        assert_eq!(
            circuit.admit(&policy, t0 + secs(120)).0,
            Admit::Refuse(Duration::ZERO)
        );
        let again = circuit.record(&policy, true, true, t0 + secs(120)).unwrap();
        assert_eq!((again.to, again.again), (CircuitState::Disabled, true));
        // One probe that succeeds closes it: recovered.
        circuit.admit(&policy, t0 + secs(220));
        let closed = circuit
            .record(&policy, true, false, t0 + secs(220))
            .unwrap();
        assert_eq!(closed.to, CircuitState::Closed);
        assert_eq!(closed.revived, Some(Revived::Recovered));
        // A fresh failure starts the clock again: open, not disabled.
        let open = circuit
            .record(&policy, false, true, t0 + secs(300))
            .unwrap();
        assert_eq!(open.to, CircuitState::Open);
        assert_eq!(circuit.reset().unwrap().revived, None);
    }

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
