//! Per-endpoint rate limits, on `governor`'s GCRA, timed by tokio's clock.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use super::breaker::positive;
use crate::{ConfigFields, TargetError};

/// At most `count` deliveries to an endpoint per `period`, with bursts of up to `burst`
/// (GCRA, by [`governor`]). A delivery over the limit waits for its turn, within its
/// timeout, or — with [`fail_fast`](Self::fail_fast), or when its turn would come too
/// late — fails at once with [`ErrorKind::RateLimited`](crate::ErrorKind::RateLimited).
///
/// ```
/// use herald_core::resilience::RateLimit;
///
/// let limit = RateLimit::per_second(100)?.burst(20)?;
/// assert_eq!(limit.burst_size(), 20);
/// # Ok::<(), herald_core::TargetError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    count: u32,
    period: Duration,
    burst: u32,
    fail_fast: bool,
}

impl RateLimit {
    /// At most `count` deliveries per second, in bursts of up to `count`.
    ///
    /// # Errors
    ///
    /// A count of 0.
    pub fn per_second(count: u32) -> Result<Self, TargetError> {
        Self::per(count, Duration::from_secs(1))
    }

    /// At most `count` deliveries per minute, in bursts of up to `count`.
    ///
    /// # Errors
    ///
    /// A count of 0.
    pub fn per_minute(count: u32) -> Result<Self, TargetError> {
        Self::per(count, Duration::from_secs(60))
    }

    fn per(count: u32, period: Duration) -> Result<Self, TargetError> {
        if count == 0 {
            return Err(TargetError::invalid_field(
                "per_second",
                "must be a whole number from 1",
            ));
        }
        Ok(Self {
            count,
            period,
            burst: count,
            fail_fast: false,
        })
    }

    /// Allows bursts of up to `burst` deliveries at once. Default is the count.
    ///
    /// # Errors
    ///
    /// A burst of 0.
    pub fn burst(mut self, burst: u32) -> Result<Self, TargetError> {
        if burst == 0 {
            return Err(TargetError::invalid_field(
                "burst",
                "must be a whole number from 1",
            ));
        }
        self.burst = burst;
        Ok(self)
    }

    /// Fails a delivery over the limit at once instead of waiting for its turn.
    #[must_use]
    pub fn fail_fast(mut self) -> Self {
        self.fail_fast = true;
        self
    }

    /// The largest burst.
    pub fn burst_size(&self) -> u32 {
        self.burst
    }

    /// Whether a delivery over the limit fails at once.
    pub fn fails_fast(&self) -> bool {
        self.fail_fast
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let second = fields.usize("per_second")?;
        let minute = fields.usize("per_minute")?;
        let mut limit = match (second, minute) {
            (Some(count), None) => Self::per_second(positive(&fields, "per_second", count)?)?,
            (None, Some(count)) => Self::per_minute(positive(&fields, "per_minute", count)?)?,
            (None, None) => {
                return Err(fields.missing("per_second"));
            }
            (Some(_), Some(_)) => {
                return Err(fields.invalid("per_minute", "cannot be given with per_second"));
            }
        };
        if let Some(burst) = fields.usize("burst")? {
            limit.burst = positive(&fields, "burst", burst)?;
        }
        if let Some(fail) = fields.one_of("on_limit", &[("wait", false), ("fail", true)])? {
            limit.fail_fast = fail;
        }
        fields.finish(&["per_second", "per_minute", "burst", "on_limit"])?;
        Ok(limit)
    }

    pub(crate) fn to_config(self) -> serde_json::Value {
        let per = if self.period == Duration::from_secs(60) {
            "per_minute"
        } else {
            "per_second"
        };
        serde_json::json!({
            per: self.count,
            "burst": self.burst,
            "on_limit": if self.fail_fast { "fail" } else { "wait" },
        })
    }

    fn quota(&self) -> Quota {
        let nonzero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let replenish = self.period / self.count.max(1);
        Quota::with_period(replenish.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(nonzero(self.count)))
            .allow_burst(nonzero(self.burst))
    }
}

/// Tokio's clock for governor, as the time since the limiter was made: paused test
/// clocks move it.
#[derive(Debug, Clone)]
struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

/// One endpoint's limiter, for the policy it was made from.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) policy: RateLimit,
    limiter: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>,
    clock: TokioClock,
    /// When its whole burst is back, counted from the last turn taken: before that,
    /// forgetting it would hand out turns already spent.
    full_at: Duration,
}

impl Limiter {
    pub(crate) fn new(policy: RateLimit) -> Self {
        let clock = TokioClock {
            start: tokio::time::Instant::now(),
        };
        Self {
            policy,
            limiter: RateLimiter::direct_with_clock(policy.quota(), clock.clone()),
            clock,
            full_at: Duration::ZERO,
        }
    }

    /// Whether its whole burst is back (forgetting it now loses nothing).
    pub(crate) fn replenished(&self) -> bool {
        self.clock.now() >= self.full_at
    }

    /// Takes a turn now (`None`), or says how long until one is free. A delivery that
    /// waits asks again after that long.
    pub(crate) fn check(&mut self) -> Option<Duration> {
        match self.limiter.check() {
            Ok(()) => {
                let quota = self.policy.quota();
                let refill = quota.replenish_interval() * quota.burst_size().get();
                self.full_at = self.clock.now() + refill;
                None
            }
            Err(not_until) => Some(not_until.wait_time_from(self.clock.now())),
        }
    }
}
