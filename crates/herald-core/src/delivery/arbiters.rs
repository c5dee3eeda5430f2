//! The dispatcher's pool of arbiters: started with it, a lost one replaced, all
//! stopped once the dispatcher and its fan-outs have let go of them.
//!
//! An arbiter is lost when something stops it (an adapter calling
//! `Arbiter::current().stop()`, say): its actors go with it. The next batch for one of
//! them finds its mailbox closed, and the pool starts a fresh arbiter in that place and
//! the actor on it. A place is replaced at most once per [`REPLACE_EVERY`], so that an
//! adapter that stops its arbiter on every delivery costs a thread a second, not one a
//! dispatch; until then its batches fail as [`AdapterStopped`](crate::ErrorKind).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use actix_rt::{Arbiter, ArbiterHandle};
use tokio::time::Instant;

/// How often one place in the pool may be given a fresh arbiter.
pub(crate) const REPLACE_EVERY: Duration = Duration::from_secs(1);

/// The pool's arbiters.
#[derive(Debug)]
pub(crate) struct ArbiterPool {
    places: RefCell<Vec<Place>>,
}

#[derive(Debug)]
struct Place {
    arbiter: Arbiter,
    /// When a fresh arbiter was last started here.
    replaced: Option<Instant>,
}

impl ArbiterPool {
    /// Starts `size` arbiters.
    pub(crate) fn new(size: usize) -> Self {
        let places = (0..size).map(|_| Place {
            arbiter: Arbiter::new(),
            replaced: None,
        });
        Self {
            places: RefCell::new(places.collect()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.places.borrow().len()
    }

    /// The arbiter in place `index`.
    pub(crate) fn handle(&self, index: usize) -> ArbiterHandle {
        self.places.borrow()[index].arbiter.handle()
    }

    /// The arbiter in place `index`, alive: the one there, or a fresh one if that one
    /// has stopped. `None` when it has stopped and the place was replaced too lately.
    pub(crate) fn live(&self, index: usize) -> Option<ArbiterHandle> {
        let mut places = self.places.borrow_mut();
        let place = &mut places[index];
        // An arbiter that takes a task is running.
        if place.arbiter.spawn(async {}) {
            return Some(place.arbiter.handle());
        }
        let now = Instant::now();
        if !may_replace(place.replaced, now) {
            return None;
        }
        tracing::warn!(
            place = index,
            "a pool arbiter stopped; starting a fresh one"
        );
        place.arbiter = Arbiter::new();
        place.replaced = Some(now);
        Some(place.arbiter.handle())
    }
}

impl Drop for ArbiterPool {
    fn drop(&mut self) {
        for place in self.places.get_mut() {
            place.arbiter.stop();
        }
    }
}

/// Whether a place last replaced at `replaced` may be replaced at `now`.
fn may_replace(replaced: Option<Instant>, now: Instant) -> bool {
    replaced.is_none_or(|at| now.saturating_duration_since(at) >= REPLACE_EVERY)
}

/// The arbiters a dispatcher started, stopped when dropped (the pool's once its
/// adapters let go of them too).
pub(crate) struct Arbiters {
    pub(crate) pool: Option<Rc<ArbiterPool>>,
    pub(crate) own: Option<Arbiter>,
}

impl Drop for Arbiters {
    fn drop(&mut self) {
        if let Some(own) = &self.own {
            own.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_replaced_at_most_once_a_second() {
        let now = Instant::now();
        assert!(may_replace(None, now));
        assert!(!may_replace(Some(now), now));
        assert!(!may_replace(Some(now), now + REPLACE_EVERY / 2));
        assert!(may_replace(Some(now), now + REPLACE_EVERY));
        // A clock that went back never allows more.
        assert!(!may_replace(Some(now + REPLACE_EVERY), now));
    }
}
