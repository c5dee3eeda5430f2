//! Expiry: a signal too old to deliver ends before its attempt.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use herald_signal::Signal;

use crate::{ConfigFields, TargetError};

/// What a target does with signals past their time. Every delivery honours the
/// signal's own CloudEvents [`expirytime`](herald_signal::EXPIRYTIME), with or without
/// this policy; an `Expiry` adds a **max age** (the signal's `time` plus it) and chooses
/// whether an expired delivery is dead-lettered (by default it is not: an expired signal
/// was not worth delivering, and is not worth keeping either).
///
/// An expired delivery fails with [`ErrorKind::Expired`](crate::ErrorKind::Expired)
/// before its first attempt, or before a retry of the `http` and `webhook` adapters,
/// and nothing is sent. Redrives, replays and durable redeliveries are checked again.
///
/// ```
/// use std::time::Duration;
/// use herald_core::resilience::Expiry;
///
/// let expiry = Expiry::new().max_age(Duration::from_secs(300)).dead_letter(true);
/// assert_eq!(expiry.max_age_value(), Some(Duration::from_secs(300)));
/// assert!(expiry.dead_letters());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub struct Expiry {
    max_age: Option<Duration>,
    dead_letter: bool,
}

impl Expiry {
    /// The longest max age: a year.
    pub const MAX_AGE: Duration = Duration::from_secs(365 * 86_400);

    /// The signal's own `expirytime` only, and no dead letter for an expired delivery.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also expires a signal `age` after its `time` attribute (at least 1 ms, at most
    /// [`MAX_AGE`](Self::MAX_AGE)); a signal without a `time` has no age.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age.clamp(Duration::from_millis(1), Self::MAX_AGE));
        self
    }

    /// Whether an expired delivery goes to the target's dead letter. Default `false`.
    pub fn dead_letter(mut self, dead_letter: bool) -> Self {
        self.dead_letter = dead_letter;
        self
    }

    /// The max age, if any.
    pub fn max_age_value(&self) -> Option<Duration> {
        self.max_age
    }

    /// Whether an expired delivery is dead-lettered.
    pub fn dead_letters(&self) -> bool {
        self.dead_letter
    }

    /// When `signal` expires for a target under `policy`: the earlier of `own` (its
    /// `expirytime`, as read by its fan-out) and its `time` plus the max age.
    pub(crate) fn deadline(
        policy: Option<&Self>,
        own: Option<DateTime<Utc>>,
        signal: &Signal,
    ) -> Option<DateTime<Utc>> {
        let aged = policy
            .and_then(|policy| policy.max_age)
            .zip(signal.time())
            .and_then(|(age, time)| time.checked_add_signed(chrono_duration(age)));
        match (own, aged) {
            (Some(own), Some(aged)) => Some(own.min(aged)),
            (own, aged) => own.or(aged),
        }
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let max_age = fields.millis("max_age_ms", Self::MAX_AGE)?;
        let dead_letter = fields.bool("dead_letter")?.unwrap_or(false);
        fields.finish(&["max_age_ms", "dead_letter"])?;
        let expiry = Self::new().dead_letter(dead_letter);
        Ok(match max_age {
            Some(age) => expiry.max_age(age),
            None => expiry,
        })
    }

    pub(crate) fn to_config(self) -> serde_json::Value {
        let mut config = serde_json::json!({ "dead_letter": self.dead_letter });
        if let Some(age) = self.max_age {
            config["max_age_ms"] = (age.as_millis() as u64).into();
        }
        config
    }
}

/// Whether `deadline` has passed.
pub(crate) fn passed(deadline: Option<DateTime<Utc>>) -> bool {
    passed_after(deadline, Duration::ZERO)
}

/// Whether `deadline` will have passed `wait` from now.
pub(crate) fn passed_after(deadline: Option<DateTime<Utc>>, wait: Duration) -> bool {
    deadline.is_some_and(|deadline| {
        Utc::now()
            .checked_add_signed(chrono_duration(wait))
            .is_none_or(|then| deadline <= then)
    })
}

/// `age` as chrono counts it (at most [`Expiry::MAX_AGE`], so it fits).
fn chrono_duration(age: Duration) -> TimeDelta {
    TimeDelta::from_std(age).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_earlier_of_expirytime_and_max_age() {
        let time = Utc::now();
        let signal = |expiry: Option<DateTime<Utc>>| {
            let builder = Signal::builder("t").time(time);
            match expiry {
                Some(at) => builder.expirytime(at),
                None => builder,
            }
            .build()
            .unwrap()
        };
        let deadline =
            |policy, signal: Signal| Expiry::deadline(policy, signal.expirytime(), &signal);
        let minute = Duration::from_secs(60);
        let aged = Expiry::new().max_age(minute);
        assert_eq!(Expiry::deadline(None, None, &signal(None)), None);
        assert_eq!(
            Expiry::deadline(Some(&Expiry::new()), None, &signal(None)),
            None
        );
        assert_eq!(
            Expiry::deadline(Some(&aged), None, &signal(None)),
            Some(time + minute)
        );
        let soon = time + Duration::from_secs(10);
        assert_eq!(deadline(Some(&aged), signal(Some(soon))), Some(soon));
        let late = time + Duration::from_secs(3600);
        assert_eq!(
            deadline(Some(&aged), signal(Some(late))),
            Some(time + minute)
        );
        assert_eq!(deadline(None, signal(Some(late))), Some(late));
        assert!(!passed(Some(late)));
        assert!(passed(Some(time - minute)));
    }
}
