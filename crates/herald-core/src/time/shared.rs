//! Bounding many waits with few timers.
//!
//! A tokio timer per wait is registered in the runtime's timer wheel and often wakes
//! the runtime's driver to do it (a system call). Sync deliveries wait by the thousand
//! with one bound, and nearly all are answered long before it: with a timer each, the
//! timers cost a tenth of their time (`docs/PERFORMANCE.md`). So the waits on a thread
//! whose bounds run out in the same millisecond share one timer, made by the first of
//! them that has to wait (a wait that ends on its first poll needs none), and dropped
//! with the last of them. A wait may end up to a millisecond later than its bound (to
//! the end of its millisecond), on top of the timer wheel's own millisecond.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use pin_project_lite::pin_project;
use slab::Slab;
use tokio::task::Unconstrained;
use tokio::time::{Instant, Sleep};

use crate::time::deadline_after;

/// How close two bounds must be to share a timer.
const GRAIN: Duration = Duration::from_millis(1);

/// Room for this many waiters is made with a timer: growing a timer's list one
/// doubling at a time cost a sync delivery more than the rest of its wait did.
const WAITERS: usize = 64;

thread_local! {
    /// Where this thread's milliseconds are counted from, and the timer its latest
    /// wait joined.
    static LATEST: RefCell<Option<(Instant, Option<Arc<Shared>>)>> = const { RefCell::new(None) };
}

/// Polls `future` until it ends or `limit` runs out (`Err(())`).
pub(crate) fn within<F: Future>(limit: Duration, future: F) -> Within<F> {
    Within {
        future,
        limit,
        joined: Joined(None),
    }
}

pin_project! {
    /// The future of [`within`].
    pub(crate) struct Within<F> {
        #[pin]
        future: F,
        limit: Duration,
        joined: Joined,
    }
}

impl<F: Future> Future for Within<F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            this.joined.leave();
            return Poll::Ready(Ok(output));
        }
        let (shared, place) = this
            .joined
            .0
            .get_or_insert_with(|| (Shared::joined(deadline_after(*this.limit)), None));
        let mut state = shared.lock();
        if state.fired {
            return Poll::Ready(Err(()));
        }
        match place {
            Some(key) => {
                if let Some(waker) = state.waiting.get_mut(*key)
                    && !waker.will_wake(cx.waker())
                {
                    waker.clone_from(cx.waker());
                }
            }
            None => *place = Some(state.waiting.insert(cx.waker().clone())),
        }
        Poll::Pending
    }
}

/// A wait's shared timer and its place among the timer's waiters, once it waits; it
/// leaves when dropped.
struct Joined(Option<(Arc<Shared>, Option<usize>)>);

impl Joined {
    fn leave(&mut self) {
        if let Some((shared, Some(key))) = self.0.take() {
            let mut state = shared.lock();
            if !state.fired {
                state.waiting.try_remove(key);
            }
        }
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        self.leave();
    }
}

/// One timer and the waits it bounds.
struct Shared {
    at: Instant,
    state: Mutex<State>,
}

struct State {
    fired: bool,
    /// The wakers of the waits still registered.
    waiting: Slab<Waker>,
    /// The timer, polled once when made (with a [`Fire`] waker); dropped, and so
    /// deregistered, with the last wait.
    sleep: Option<Pin<Box<Unconstrained<Sleep>>>>,
}

impl Shared {
    /// The timer this thread's waits ending at `deadline` share: the one that fires at
    /// the end of `deadline`'s millisecond (counted from this thread's first wait's
    /// start).
    fn joined(deadline: Instant) -> Arc<Self> {
        LATEST.with(|latest| {
            let mut latest = latest.borrow_mut();
            // Counted from before any deadline of this thread's, so that every bound
            // ends within its millisecond.
            let (origin, shared) = latest.get_or_insert_with(|| (Instant::now(), None));
            // In `u64` nanoseconds (584 years): `u128` division is a library call.
            let grain = GRAIN.as_nanos() as u64;
            let since = deadline.saturating_duration_since(*origin).as_nanos();
            let at = u64::try_from(since)
                .ok()
                .and_then(|nanos| nanos.div_ceil(grain).checked_mul(grain))
                .and_then(|nanos| origin.checked_add(Duration::from_nanos(nanos)))
                .unwrap_or(deadline);
            if let Some(shared) = shared.as_ref().filter(|shared| shared.at == at) {
                return Arc::clone(shared);
            }
            let fresh = Self::start(at);
            *shared = Some(Arc::clone(&fresh));
            fresh
        })
    }

    /// A timer that fires at `at`.
    fn start(at: Instant) -> Arc<Self> {
        let shared = Arc::new(Self {
            at,
            state: Mutex::new(State {
                fired: false,
                waiting: Slab::with_capacity(WAITERS),
                sleep: None,
            }),
        });
        // Outside the task's cooperative budget: a timer polled with the budget spent
        // is not registered but woken at once, which would end every wait now.
        let mut sleep = Box::pin(tokio::task::unconstrained(tokio::time::sleep_until(at)));
        let fire = Waker::from(Arc::new(Fire(Arc::downgrade(&shared))));
        if sleep
            .as_mut()
            .poll(&mut Context::from_waker(&fire))
            .is_ready()
        {
            shared.lock().fired = true;
        } else {
            shared.lock().sleep = Some(sleep);
        }
        shared
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is one step: a panic elsewhere leaves the state usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wakes a timer's waits when it fires: holds it weakly, so that a timer whose waits
/// have all ended is dropped at once rather than at its deadline.
struct Fire(Weak<Shared>);

impl Wake for Fire {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        let waiting = {
            let mut state = shared.lock();
            state.fired = true;
            state.sleep = None;
            std::mem::take(&mut state.waiting)
        };
        for (_, waker) in waiting {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::pending;

    use super::*;

    const LIMIT: Duration = Duration::from_millis(250);

    /// Polls `wait` once: whether it is still pending.
    async fn pending_now<F: Future + Unpin>(wait: &mut F) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *wait).poll(cx).is_pending())).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_that_ends_in_time_is_its_future_and_makes_no_timer() {
        assert_eq!(within(LIMIT, async { 7 }).await, Ok(7));
        let latest = LATEST.with(|latest| latest.borrow().as_ref().map(|l| l.1.is_some()));
        assert_eq!(latest, None, "nothing waited, so no timer was made");
    }

    #[tokio::test(start_paused = true)]
    async fn waits_bounded_in_the_same_millisecond_share_one_timer_and_all_end() {
        let start = Instant::now();
        let mut first = Box::pin(within(LIMIT, pending::<()>()));
        let mut second = Box::pin(within(LIMIT, pending::<()>()));
        let mut third = Box::pin(within(LIMIT, pending::<()>()));
        for wait in [&mut first, &mut second, &mut third] {
            assert!(pending_now(wait).await);
        }
        let shared = |wait: &Pin<Box<Within<_>>>| Arc::clone(&wait.joined.0.as_ref().unwrap().0);
        assert!(Arc::ptr_eq(&shared(&first), &shared(&second)));
        assert!(Arc::ptr_eq(&shared(&first), &shared(&third)));
        // One leaves early; the others still end at the bound.
        drop(second);
        assert_eq!(shared(&first).lock().waiting.len(), 2);
        assert_eq!(first.await, Err(()));
        assert_eq!(third.await, Err(()));
        let waited = start.elapsed();
        assert!(LIMIT <= waited && waited <= LIMIT + 2 * GRAIN, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_made_when_the_task_has_spent_its_budget_still_waits() {
        let mut wait = Box::pin(within(LIMIT, pending::<()>()));
        std::future::poll_fn(|cx| {
            // Spend the task's cooperative budget (128 ready polls) in one poll.
            for _ in 0..200 {
                let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
                let _ = tx.send(());
                let _ = Pin::new(&mut rx).poll(cx);
            }
            assert!(wait.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        let start = Instant::now();
        assert_eq!(wait.await, Err(()));
        assert!(start.elapsed() >= LIMIT, "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_bound_after_a_longer_one_is_not_held_to_it() {
        let mut long = Box::pin(within(Duration::from_secs(5), pending::<()>()));
        assert!(pending_now(&mut long).await);
        let start = Instant::now();
        assert_eq!(within(LIMIT, pending::<()>()).await, Err(()));
        let waited = start.elapsed();
        assert!(LIMIT <= waited && waited <= LIMIT + 2 * GRAIN, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_bound_gets_a_timer_of_its_own() {
        let mut early = Box::pin(within(LIMIT, pending::<()>()));
        assert!(pending_now(&mut early).await);
        tokio::time::advance(Duration::from_millis(10)).await;
        let mut late = Box::pin(within(LIMIT, pending::<()>()));
        assert!(pending_now(&mut late).await);
        let at = |wait: &Pin<Box<Within<_>>>| wait.joined.0.as_ref().unwrap().0.at;
        assert_eq!(at(&late) - at(&early), Duration::from_millis(10));
        assert_eq!(early.await, Err(()));
        // The early timer fired; the late one has not.
        assert!(pending_now(&mut late).await);
        assert_eq!(late.await, Err(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_whose_waits_all_ended_is_dropped() {
        let mut wait = Box::pin(within(LIMIT, pending::<()>()));
        assert!(pending_now(&mut wait).await);
        let weak = Arc::downgrade(&wait.joined.0.as_ref().unwrap().0);
        drop(wait);
        // Only the thread's "latest" still holds it; the next bound replaces it.
        tokio::time::advance(Duration::from_millis(5)).await;
        let mut next = Box::pin(within(LIMIT, pending::<()>()));
        assert!(pending_now(&mut next).await);
        assert!(weak.upgrade().is_none(), "the first timer is gone");
    }
}
