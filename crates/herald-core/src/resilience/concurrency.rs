//! Per-endpoint concurrency: a fixed cap, or one that follows the endpoint (AIMD).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::breaker::positive;
use crate::{ConfigFields, ErrorKind, TargetError};

/// At most `max` deliveries to one endpoint at once, so one slow endpoint cannot hold
/// every in-flight slot of the dispatcher; a delivery over the cap waits for room,
/// within its timeout.
///
/// [`adaptive`](Self::adaptive) makes the cap follow the endpoint, in the spirit of
/// Vector's adaptive request concurrency: it starts at 1 and grows by about one per
/// round of deliveries while they succeed and their latency stays near the lowest
/// seen; it shrinks by a tenth when latency rises past 1.5 × that, and halves on signs
/// of overload (timeouts, 429, 503, a full mailbox); never above `max`, never below 1.
/// Its current value is in [`Stats`](crate::Stats).
///
/// ```
/// use herald_core::resilience::Concurrency;
///
/// let fixed = Concurrency::max(4)?;
/// let adaptive = Concurrency::adaptive(32)?;
/// assert!(adaptive.is_adaptive() && !fixed.is_adaptive());
/// # Ok::<(), herald_core::TargetError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    max: u32,
    adaptive: bool,
}

impl Concurrency {
    /// A fixed cap of `max` deliveries at once.
    ///
    /// # Errors
    ///
    /// A cap of 0.
    pub fn max(max: u32) -> Result<Self, TargetError> {
        if max == 0 {
            return Err(TargetError::invalid_field(
                "max",
                "must be a whole number from 1",
            ));
        }
        Ok(Self {
            max,
            adaptive: false,
        })
    }

    /// A cap that follows the endpoint, from 1 up to `max`.
    ///
    /// # Errors
    ///
    /// A cap of 0.
    pub fn adaptive(max: u32) -> Result<Self, TargetError> {
        Ok(Self {
            adaptive: true,
            ..Self::max(max)?
        })
    }

    /// The highest cap.
    pub fn max_value(&self) -> u32 {
        self.max
    }

    /// Whether the cap follows the endpoint.
    pub fn is_adaptive(&self) -> bool {
        self.adaptive
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let max = match fields.usize("max")? {
            Some(max) => positive(&fields, "max", max)?,
            None => {
                return Err(fields.missing("max"));
            }
        };
        let adaptive = fields.bool("adaptive")?.unwrap_or(false);
        fields.finish(&["max", "adaptive"])?;
        Ok(Self { max, adaptive })
    }

    pub(crate) fn to_config(self) -> serde_json::Value {
        serde_json::json!({ "max": self.max, "adaptive": self.adaptive })
    }
}

/// One endpoint's concurrency gate.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    room: Notify,
}

#[derive(Debug, Default)]
struct GateState {
    in_flight: usize,
    /// The adaptive cap (fractional, so that it can grow by 1/cap per success); `None`
    /// until an adaptive policy first uses the gate.
    limit: Option<f64>,
    /// The lowest latency seen, drifting up slowly so that it can follow an endpoint
    /// that got slower for good.
    floor: Option<Duration>,
    /// Samples to ignore after a cut, so that one round of slow answers cuts once.
    hold: usize,
    /// The policy last used here (for `Stats`).
    policy: Option<Concurrency>,
}

impl GateState {
    fn cap(&self, policy: &Concurrency) -> usize {
        let max = policy.max as usize;
        match (policy.adaptive, self.limit) {
            (true, Some(limit)) => (limit as usize).clamp(1, max),
            (true, None) => 1,
            (false, _) => max,
        }
    }
}

/// A place in the gate, given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    gate: Arc<Gate>,
    policy: Concurrency,
}

impl Gate {
    /// Waits for room under `policy`'s cap.
    pub(crate) async fn enter(self: &Arc<Self>, policy: Concurrency) -> Permit {
        loop {
            let notified = self.room.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if let Some(permit) = self.try_enter(policy) {
                return permit;
            }
            notified.await;
        }
    }

    /// Takes a place now, when there is room.
    pub(crate) fn try_enter(self: &Arc<Self>, policy: Concurrency) -> Option<Permit> {
        let mut state = self.lock();
        state.policy = Some(policy);
        if state.in_flight < state.cap(&policy) {
            state.in_flight += 1;
            return Some(Permit {
                gate: Arc::clone(self),
                policy,
            });
        }
        None
    }

    /// The current cap (`None` when no policy capped this gate yet), and deliveries
    /// in flight.
    pub(crate) fn snapshot(&self) -> (Option<usize>, usize) {
        let state = self.lock();
        (
            state.policy.map(|policy| state.cap(&policy)),
            state.in_flight,
        )
    }

    /// Deliveries in the gate now.
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        super::lock(&self.state)
    }
}

impl Permit {
    /// Whether the cap learns from this delivery.
    pub(crate) fn adaptive(&self) -> bool {
        self.policy.adaptive
    }

    /// Ends the delivery, teaching an adaptive gate from its latency and result.
    pub(crate) fn finish(self, latency: Duration, result: Result<(), &ErrorKind>) {
        if self.policy.adaptive {
            let mut state = self.gate.lock();
            learn(&mut state, &self.policy, latency, result);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        drop(state);
        self.gate.room.notify_one();
    }
}

/// One AIMD step.
fn learn(
    state: &mut GateState,
    policy: &Concurrency,
    latency: Duration,
    result: Result<(), &ErrorKind>,
) {
    let max = f64::from(policy.max);
    let limit = state.limit.unwrap_or(1.0);
    // The lowest latency seen, drifting up by 1% a sample while latency stays above.
    let floor = match state.floor {
        Some(floor) => latency.min(floor + floor / 100),
        None => latency,
    };
    state.floor = Some(floor);
    let overloaded = result.is_err_and(overload);
    let slow = latency > floor + floor / 2;
    let new = if state.hold > 0 {
        state.hold -= 1;
        limit
    } else if overloaded {
        state.hold = state.in_flight;
        limit / 2.0
    } else if slow {
        state.hold = state.in_flight;
        limit * 0.9
    } else if result.is_ok() && state.in_flight as f64 >= limit.floor() {
        limit + 1.0 / limit
    } else {
        limit
    };
    state.limit = Some(new.clamp(1.0, max));
}

/// Signs that an endpoint has more than it can take.
fn overload(kind: &ErrorKind) -> bool {
    match kind {
        ErrorKind::Timeout(_) | ErrorKind::MailboxFull => true,
        ErrorKind::HttpStatus { status, .. } => matches!(status, 429 | 503),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(state: &mut GateState, policy: &Concurrency, in_flight: usize, ms: u64) {
        state.in_flight = in_flight;
        learn(state, policy, Duration::from_millis(ms), Ok(()));
    }

    #[test]
    fn grows_while_latency_is_flat_and_settles_where_it_rises() {
        let policy = Concurrency::adaptive(64).unwrap();
        let mut state = GateState::default();
        // Latency is 10 ms up to 4 at once, 20 ms above.
        for _ in 0..2_000 {
            let in_flight = state.cap(&policy);
            let ms = if in_flight <= 4 { 10 } else { 20 };
            step(&mut state, &policy, in_flight, ms);
        }
        let cap = state.cap(&policy);
        assert!((3..=5).contains(&cap), "settled at {cap}");
    }

    #[test]
    fn overload_halves_the_cap() {
        let policy = Concurrency::adaptive(64).unwrap();
        let mut state = GateState {
            limit: Some(32.0),
            floor: Some(Duration::from_millis(10)),
            ..GateState::default()
        };
        let unavailable = ErrorKind::HttpStatus {
            status: 503,
            body: String::new(),
        };
        learn(
            &mut state,
            &policy,
            Duration::from_millis(10),
            Err(&unavailable),
        );
        assert_eq!(state.cap(&policy), 16);
    }

    #[test]
    fn a_fixed_cap_does_not_move() {
        let policy = Concurrency::max(3).unwrap();
        let state = GateState::default();
        assert_eq!(state.cap(&policy), 3);
    }
}
