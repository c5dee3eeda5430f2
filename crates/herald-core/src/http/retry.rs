//! When and how long to wait before trying a delivery again.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use crate::TargetError;

/// How an `http` or `webhook` target retries: how many attempts, the backoff between
/// them, and an optional overall deadline.
///
/// Only retryable failures are retried: connect errors, timeouts, and statuses 408, 425,
/// 429 and 5xx. The wait before attempt *n + 1* is exponential (`base × 2ⁿ⁻¹`, capped at
/// `max`) with jitter, and never less than `base`; a `Retry-After` header (seconds or
/// an HTTP date) replaces it, capped at `max`. Waiting never blocks a thread.
///
/// ```
/// use std::time::Duration;
/// use herald_core::http::RetryPolicy;
///
/// let policy = RetryPolicy::new(5, Duration::from_millis(200), Duration::from_secs(5))?
///     .deadline(Duration::from_secs(30));
/// assert_eq!(policy.max_attempts(), 5);
/// assert_eq!(RetryPolicy::default().max_attempts(), 3);
/// # Ok::<(), herald_core::TargetError>(())
/// ```
///
/// Instead of exponential backoff, a [`schedule`](Self::schedule) lists each wait (as
/// Svix and Outpost do); and a [`penalty`](Self::penalty) sets the least wait after
/// signs of overload (429, 503, a timeout), whatever the backoff or schedule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    deadline: Option<Duration>,
    schedule: Option<Schedule>,
    penalty: Duration,
}

/// Explicit waits between attempts (at most 9, for 10 attempts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Schedule {
    delays: [Duration; 9],
    len: usize,
}

impl Default for RetryPolicy {
    /// 3 attempts, 100 ms to 10 s between them, no deadline.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            deadline: None,
            schedule: None,
            penalty: Duration::ZERO,
        }
    }
}

impl RetryPolicy {
    /// The most attempts a policy may make.
    pub const MAX_ATTEMPTS: u32 = 10;

    /// The longest wait between two attempts: one hour.
    pub const MAX_DELAY: Duration = Duration::from_secs(3600);

    /// The longest overall deadline: one day.
    pub const MAX_DEADLINE: Duration = Duration::from_secs(86_400);

    /// A policy of `max_attempts` (1–10, the first try counts) with waits between
    /// `base_delay` and `max_delay` (at most [`MAX_DELAY`](Self::MAX_DELAY), one hour).
    ///
    /// # Errors
    ///
    /// Attempts outside 1–10, a zero base delay, a max delay below the base or above an
    /// hour.
    pub fn new(
        max_attempts: u32,
        base_delay: Duration,
        max_delay: Duration,
    ) -> Result<Self, TargetError> {
        if !(1..=Self::MAX_ATTEMPTS).contains(&max_attempts) {
            return Err(TargetError::invalid_field(
                "max_attempts",
                "must be between 1 and 10",
            ));
        }
        if base_delay.is_zero() {
            return Err(TargetError::invalid_field(
                "base_delay_ms",
                "must be at least 1 ms",
            ));
        }
        if max_delay < base_delay {
            return Err(TargetError::invalid_field(
                "max_delay_ms",
                "must not be less than base_delay_ms",
            ));
        }
        if max_delay > Self::MAX_DELAY {
            return Err(TargetError::invalid_field(
                "max_delay_ms",
                "must be at most one hour (3600000)",
            ));
        }
        Ok(Self {
            max_attempts,
            base_delay,
            max_delay,
            deadline: None,
            schedule: None,
            penalty: Duration::ZERO,
        })
    }

    /// A policy that waits `delays[n - 1]` after failed attempt *n*: one attempt more
    /// than there are delays. A `Retry-After` is capped at the longest delay.
    ///
    /// ```
    /// use std::time::Duration;
    /// use herald_core::http::RetryPolicy;
    ///
    /// let secs = Duration::from_secs;
    /// let policy = RetryPolicy::schedule(&[secs(1), secs(5), secs(30)])?;
    /// assert_eq!(policy.max_attempts(), 4);
    /// assert_eq!(policy.delays(), Some(&[secs(1), secs(5), secs(30)][..]));
    /// # Ok::<(), herald_core::TargetError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// No delays or more than 9, a delay under 1 ms or over an hour.
    pub fn schedule(delays: &[Duration]) -> Result<Self, TargetError> {
        let field = "schedule_ms";
        if delays.is_empty() || delays.len() > Self::MAX_ATTEMPTS as usize - 1 {
            return Err(TargetError::invalid_field(field, "must list 1 to 9 delays"));
        }
        if delays
            .iter()
            .any(|delay| delay.is_zero() || *delay > Self::MAX_DELAY)
        {
            return Err(TargetError::invalid_field(
                field,
                "delays must be from 1 ms to one hour (3600000)",
            ));
        }
        let mut schedule = Schedule {
            delays: [Duration::ZERO; 9],
            len: delays.len(),
        };
        schedule.delays[..delays.len()].copy_from_slice(delays);
        Ok(Self {
            max_attempts: delays.len() as u32 + 1,
            base_delay: delays.iter().copied().min().unwrap_or_default(),
            max_delay: delays.iter().copied().max().unwrap_or_default(),
            deadline: None,
            schedule: Some(schedule),
            penalty: Duration::ZERO,
        })
    }

    /// Sets the least wait after a 429, a 503 or a timeout, when the backoff, the
    /// schedule or the receiver's `Retry-After` asks for less (at most an hour).
    /// Default is none.
    #[must_use]
    pub fn penalty(mut self, penalty: Duration) -> Self {
        self.penalty = penalty.min(Self::MAX_DELAY);
        self
    }

    /// The scheduled waits, when the policy has a schedule.
    pub fn delays(&self) -> Option<&[Duration]> {
        self.schedule
            .as_ref()
            .map(|schedule| &schedule.delays[..schedule.len])
    }

    /// The least wait after signs of overload.
    pub fn penalty_value(&self) -> Duration {
        self.penalty
    }

    /// The wait after failed attempt `attempt` (from 1) that failed with `kind`: the
    /// receiver's `Retry-After` (already capped), else the schedule's or the backoff's
    /// wait; never less than the penalty after overload.
    pub fn wait_after(
        &self,
        attempt: u32,
        kind: &crate::ErrorKind,
        retry_after: Option<Duration>,
        random: u64,
    ) -> Duration {
        let wait = retry_after.unwrap_or_else(|| match self.delays() {
            Some(delays) => delays[(attempt.max(1) as usize - 1).min(delays.len() - 1)],
            None => self.backoff(attempt, random),
        });
        let overloaded = match kind {
            crate::ErrorKind::Timeout(_) => true,
            crate::ErrorKind::HttpStatus { status, .. } => matches!(status, 429 | 503),
            _ => false,
        };
        if overloaded {
            wait.max(self.penalty)
        } else {
            wait
        }
    }

    /// The longest wait between two attempts, penalty included.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn longest_wait(&self) -> Duration {
        self.max_delay.max(self.penalty)
    }

    /// One attempt, no retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets an overall budget for all attempts and waits: no retry starts that would
    /// wait past it. A budget over [`MAX_DEADLINE`](Self::MAX_DEADLINE) (one day) counts
    /// as one day. Default is none.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline.min(Self::MAX_DEADLINE));
        self
    }

    /// The most attempts, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The shortest wait between attempts.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The longest wait between attempts.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The overall budget, if any.
    pub fn overall_deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The wait after failed attempt `attempt` (from 1), given a random number: half the
    /// exponential step plus a random part of the other half, within `[base, max]`.
    pub fn backoff(&self, attempt: u32, random: u64) -> Duration {
        let step = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        let half = step / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = Duration::from_nanos(random % jitter_nanos.saturating_add(1));
        (half + jitter).clamp(self.base_delay, self.max_delay)
    }

    /// The wait a `Retry-After` value (seconds or an HTTP date) asks for, capped at the
    /// max delay; `None` when it is neither.
    pub fn retry_after(&self, value: &str, now: SystemTime) -> Option<Duration> {
        let value = value.trim();
        let wait = match value.parse::<u64>() {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => httpdate::parse_http_date(value)
                .ok()?
                .duration_since(now)
                .unwrap_or_default(),
        };
        Some(wait.min(self.max_delay))
    }
}

/// A random number for jitter, from the standard library's randomly keyed hasher.
pub fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bounds_are_checked() {
        let ms = Duration::from_millis;
        assert!(RetryPolicy::new(0, ms(1), ms(2)).is_err());
        assert!(RetryPolicy::new(11, ms(1), ms(2)).is_err());
        assert!(RetryPolicy::new(1, ms(0), ms(2)).is_err());
        let error = RetryPolicy::new(3, ms(10), ms(5)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "field `max_delay_ms` must not be less than base_delay_ms"
        );
        assert!(RetryPolicy::new(10, ms(5), ms(5)).is_ok());
    }

    #[test]
    fn a_schedule_gives_each_wait_and_a_penalty_holds_after_overload() {
        let ms = Duration::from_millis;
        let policy = RetryPolicy::schedule(&[ms(10), ms(200), ms(3000)])
            .unwrap()
            .penalty(ms(1000));
        let bad = crate::ErrorKind::HttpStatus {
            status: 500,
            body: String::new(),
        };
        let busy = crate::ErrorKind::HttpStatus {
            status: 429,
            body: String::new(),
        };
        assert_eq!(policy.wait_after(1, &bad, None, 7), ms(10));
        assert_eq!(policy.wait_after(2, &bad, None, 7), ms(200));
        assert_eq!(policy.wait_after(3, &bad, None, 7), ms(3000));
        assert_eq!(policy.wait_after(1, &busy, None, 7), ms(1000));
        assert_eq!(
            policy.wait_after(1, &crate::ErrorKind::Timeout(ms(5)), Some(ms(2)), 7),
            ms(1000)
        );
        assert_eq!(policy.wait_after(3, &busy, Some(ms(1500)), 7), ms(1500));
        assert!(RetryPolicy::schedule(&[]).is_err());
        assert!(RetryPolicy::schedule(&[ms(1); 10]).is_err());
        assert!(RetryPolicy::schedule(&[ms(0)]).is_err());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let policy =
            RetryPolicy::new(3, Duration::from_millis(100), Duration::from_secs(10)).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(policy.retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            policy.retry_after("3600", now),
            Some(Duration::from_secs(10))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(4));
        assert_eq!(
            policy.retry_after(&later, now),
            Some(Duration::from_secs(4))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(4));
        assert_eq!(policy.retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(policy.retry_after("soon", now), None);
    }

    proptest! {
        #[test]
        fn backoff_stays_within_base_and_max(
            attempts in 1u32..=10,
            base_ms in 1u64..5_000,
            spread in 0u64..60_000,
            attempt in 1u32..40,
            random in any::<u64>(),
        ) {
            let base = Duration::from_millis(base_ms);
            let max = base + Duration::from_millis(spread);
            let policy = RetryPolicy::new(attempts, base, max).unwrap();
            let wait = policy.backoff(attempt, random);
            prop_assert!(base <= wait && wait <= max, "{wait:?} outside {base:?}..={max:?}");
        }

        #[test]
        fn backoff_grows_until_the_cap(base_ms in 1u64..100, random in any::<u64>()) {
            let base = Duration::from_millis(base_ms);
            let policy = RetryPolicy::new(10, base, Duration::from_secs(3600)).unwrap();
            // The lower bound of each step doubles: half of base × 2ⁿ⁻¹.
            for attempt in 2..8u32 {
                let floor = (base * (1 << (attempt - 1))) / 2;
                prop_assert!(policy.backoff(attempt, random) >= floor.max(base));
            }
        }
    }
}
