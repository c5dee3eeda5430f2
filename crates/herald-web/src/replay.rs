//! Remembering the webhooks already received, in bounded memory, so that a captured
//! request sent again within the tolerance window is refused.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// The webhook ids seen within the tolerance window, each with its timestamp.
///
/// Bounded: at most `capacity` ids of at most [`MAX_ID`] bytes. When full, the oldest
/// goes — and the *floor* rises to its timestamp: from then on a webhook stamped at or
/// before the floor is refused as a possible replay, since its id may be the one
/// forgotten. A flood of valid webhooks thus narrows the window rather than opening a
/// hole in it.
#[derive(Debug, Clone)]
pub(crate) struct ReplayGuard {
    inner: Arc<Mutex<Seen>>,
}

/// The longest webhook id kept; a longer one is refused.
pub(crate) const MAX_ID: usize = 256;

#[derive(Debug)]
struct Seen {
    capacity: usize,
    by_id: HashMap<Box<str>, u64>,
    by_time: BTreeSet<(u64, Box<str>)>,
    /// Webhooks stamped at or before this may have been forgotten.
    floor: Option<u64>,
}

/// Why the guard refused a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its id was seen within the window.
    Seen,
    /// Its timestamp is at or before the floor (the guard overflowed), or its id is
    /// too long to keep.
    Unsure,
}

impl ReplayGuard {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Seen {
                capacity: capacity.max(1),
                by_id: HashMap::new(),
                by_time: BTreeSet::new(),
                floor: None,
            })),
        }
    }

    /// Records webhook `id` stamped `timestamp` (unix seconds), forgetting those
    /// stamped before `oldest` (out of the window now); refused when seen already.
    pub(crate) fn check(&self, id: &str, timestamp: u64, oldest: u64) -> Result<(), Refused> {
        if id.len() > MAX_ID {
            return Err(Refused::Unsure);
        }
        let mut seen = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((stamp, _)) = seen.by_time.first()
            && *stamp < oldest
        {
            let (_, old) = seen.by_time.pop_first().expect("just seen");
            seen.by_id.remove(&old);
        }
        if seen.by_id.contains_key(id) {
            return Err(Refused::Seen);
        }
        if seen.floor.is_some_and(|floor| timestamp <= floor) {
            return Err(Refused::Unsure);
        }
        if seen.by_id.len() >= seen.capacity
            && let Some((stamp, old)) = seen.by_time.pop_first()
        {
            seen.by_id.remove(&old);
            seen.floor = Some(seen.floor.map_or(stamp, |floor| floor.max(stamp)));
            if timestamp <= stamp {
                return Err(Refused::Unsure);
            }
        }
        let id: Box<str> = id.into();
        seen.by_id.insert(id.clone(), timestamp);
        seen.by_time.insert((timestamp, id));
        Ok(())
    }

    /// Forgets webhook `id` stamped `timestamp`: it was refused after all (an overload),
    /// and the sender's retry must be taken.
    pub(crate) fn forget(&self, id: &str, timestamp: u64) {
        let mut seen = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.by_id.get(id) == Some(&timestamp) {
            let (key, stamp) = seen.by_id.remove_entry(id).expect("just seen");
            seen.by_time.remove(&(stamp, key));
        }
    }

    /// Ids kept now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap().by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_refused_the_second_time_within_the_window() {
        let guard = ReplayGuard::new(10);
        assert_eq!(guard.check("a", 100, 0), Ok(()));
        assert_eq!(guard.check("b", 100, 0), Ok(()));
        assert_eq!(guard.check("a", 101, 0), Err(Refused::Seen));
        // Out of the window, it is forgotten (the verifier refuses its stale stamp).
        assert_eq!(guard.check("c", 500, 200), Ok(()));
        assert_eq!(guard.len(), 1);
        assert_eq!(guard.check("a", 500, 200), Ok(()));
    }

    #[test]
    fn a_full_guard_raises_its_floor_instead_of_forgetting_silently() {
        let guard = ReplayGuard::new(2);
        assert_eq!(guard.check("a", 10, 0), Ok(()));
        assert_eq!(guard.check("b", 20, 0), Ok(()));
        // Full: "a" goes, so anything stamped at or before 10 is now unsure.
        assert_eq!(guard.check("c", 30, 0), Ok(()));
        assert_eq!(guard.len(), 2);
        assert_eq!(guard.check("a", 10, 0), Err(Refused::Unsure));
        assert_eq!(guard.check("d", 5, 0), Err(Refused::Unsure));
        assert_eq!(guard.check("b", 20, 0), Err(Refused::Seen));
    }

    #[test]
    fn a_forgotten_id_is_taken_again() {
        let guard = ReplayGuard::new(10);
        assert_eq!(guard.check("a", 100, 0), Ok(()));
        guard.forget("a", 100);
        assert_eq!(guard.len(), 0);
        assert_eq!(guard.check("a", 100, 0), Ok(()));
        assert_eq!(guard.check("a", 100, 0), Err(Refused::Seen));
    }

    #[test]
    fn ids_are_bounded_in_length() {
        let guard = ReplayGuard::new(2);
        assert_eq!(
            guard.check(&"x".repeat(MAX_ID + 1), 1, 0),
            Err(Refused::Unsure)
        );
        assert_eq!(guard.check(&"x".repeat(MAX_ID), 1, 0), Ok(()));
    }
}
