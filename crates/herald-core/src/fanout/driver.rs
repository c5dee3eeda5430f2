//! The dispatcher's fan-outs: every dispatch that did not finish in the handler, polled
//! together by one task of the dispatcher's own.
//!
//! A task per fan-out costs its spawn (tokio allocates a task's cell cache-aligned, which
//! is glibc's slow `memalign`), its place in the arbiter's task list, and a wake-up of
//! its own from the thread that answers it. One task holding every fan-out in a
//! `FuturesUnordered` allocates one small node per fan-out, and answers that arrive while it
//! waits to be polled wake it once.

use std::cell::RefCell;
use std::future::Future;
use std::mem;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::error::panic_message;

/// A dispatch's fan-out, boxed where it was made (see `delivery::boxed`).
pub(crate) type BoxedFanOut = Pin<Box<dyn Future<Output = ()>>>;

/// Where a dispatcher starts its fan-outs. Dropped with the dispatcher's shared state, that
/// is once the dispatcher and every fan-out have let go of it: the task then ends.
///
/// The state is held by this and by the task, if there is one: a second holder means
/// the task is there, none but the task means no fan-out will come.
#[derive(Default)]
pub(crate) struct FanOuts {
    shared: Rc<Inbox>,
}

#[derive(Default)]
struct Inbox {
    /// Fan-outs started since the task last looked.
    incoming: RefCell<Vec<BoxedFanOut>>,
    /// The task's waker while it waits.
    waker: RefCell<Option<Waker>>,
}

impl Inbox {
    fn wake(&self) {
        let waker = self.waker.borrow_mut().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl FanOuts {
    /// Starts `fan_out` on the current arbiter, beside the dispatcher's other fan-outs.
    pub(crate) fn start(&self, fan_out: BoxedFanOut) {
        self.shared.incoming.borrow_mut().push(fan_out);
        if Rc::strong_count(&self.shared) > 1 {
            self.shared.wake();
        } else {
            actix_rt::spawn(Driver {
                shared: Rc::clone(&self.shared),
                fan_outs: FuturesUnordered::new(),
            });
        }
    }
}

impl Drop for FanOuts {
    fn drop(&mut self) {
        self.shared.wake();
    }
}

/// The task that polls the fan-outs.
struct Driver {
    shared: Rc<Inbox>,
    fan_outs: FuturesUnordered<Caught>,
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            // Moved before any fan-out is polled (a fan-out may start another), keeping the
            // buffer's room.
            this.fan_outs
                .extend(this.shared.incoming.borrow_mut().drain(..).map(Caught));
            match this.fan_outs.poll_next_unpin(cx) {
                Poll::Ready(Some(())) => continue,
                // Only the task holds the state: the dispatcher's is gone.
                Poll::Ready(None) if Rc::strong_count(&this.shared) == 1 => {
                    return Poll::Ready(());
                }
                Poll::Ready(None) | Poll::Pending => {}
            }
            // Nothing but this task fan_outs between the look and the return.
            if this.shared.incoming.borrow().is_empty() {
                let mut waker = this.shared.waker.borrow_mut();
                match &mut *waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    waker => *waker = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
        }
    }
}

impl Drop for Driver {
    /// Its arbiter stopping: the fan-outs not yet taken are dropped here (each answers,
    /// every target failing with `Shutdown`), so that they do not keep the dispatcher's
    /// state alive. A later fan-out spawns a new task.
    fn drop(&mut self) {
        self.shared.waker.borrow_mut().take();
        let untaken = mem::take(&mut *self.shared.incoming.borrow_mut());
        drop(untaken);
    }
}

/// A fan-out whose panic ends it alone, not the task and every other fan-out. Its answer,
/// dropped as the panic unwinds, fails every target as
/// [`Panicked`](crate::ErrorKind::Panicked).
struct Caught(BoxedFanOut);

impl Future for Caught {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let fan_out = self.0.as_mut();
        catch_unwind(AssertUnwindSafe(|| fan_out.poll(cx))).unwrap_or_else(|payload| {
            let message = panic_message(&*payload);
            tracing::error!(panic = %message, "herald: a dispatch's fan-out panicked");
            Poll::Ready(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::oneshot;
    use tokio::time::timeout;

    use super::*;
    use crate::fanout::answer::{Answer, PANICKED_FAN_OUT};
    use crate::{ErrorKind, Target};

    const LIMIT: Duration = Duration::from_secs(5);

    /// Starts a fan-out that waits for the returned sender, then ends, which the returned
    /// receiver hears.
    fn start_waiting(fan_outs: &FanOuts) -> (oneshot::Sender<()>, oneshot::Receiver<()>) {
        let (go, wait) = oneshot::channel::<()>();
        let (done, ended) = oneshot::channel();
        fan_outs.start(Box::pin(async move {
            let _ = wait.await;
            let _ = done.send(());
        }));
        (go, ended)
    }

    #[actix_rt::test]
    async fn a_fan_out_that_panics_ends_alone() {
        let fan_outs = FanOuts::default();
        let (go, ended) = start_waiting(&fan_outs);
        fan_outs.start(Box::pin(async { panic!("a fan-out's bug") }));
        tokio::task::yield_now().await;
        go.send(()).unwrap();
        timeout(LIMIT, ended).await.unwrap().unwrap();

        let (go, ended) = start_waiting(&fan_outs);
        go.send(()).unwrap();
        timeout(LIMIT, ended).await.unwrap().unwrap();
        assert_eq!(Rc::strong_count(&fan_outs.shared), 2, "one task all along");
    }

    #[actix_rt::test]
    async fn a_fan_out_that_panics_answers_every_target_as_panicked() {
        let fan_outs = FanOuts::default();
        let (done, answered) = oneshot::channel();
        let targets: Arc<[Target]> = vec![Target::noop(); 3].into();
        let answer = Answer::new(targets, move |result| {
            let _ = done.send(result);
        });
        fan_outs.start(Box::pin(async move {
            let _answer = answer;
            panic!("a bug");
        }));
        let result = timeout(LIMIT, answered).await.unwrap().unwrap();
        let failures = result.unwrap_err();
        let failures = failures.failures();
        assert_eq!(failures.len(), 3);
        for failure in failures {
            let ErrorKind::Panicked { message } = failure.error.kind() else {
                panic!("{failure:?}");
            };
            assert_eq!(message, PANICKED_FAN_OUT);
        }
    }

    #[actix_rt::test]
    async fn the_task_ends_once_the_runs_are_let_go_of() {
        let fan_outs = FanOuts::default();
        let (go, ended) = start_waiting(&fan_outs);
        let shared = Rc::downgrade(&fan_outs.shared);
        drop(fan_outs);
        go.send(()).unwrap();
        timeout(LIMIT, ended).await.unwrap().unwrap();
        for _ in 0..100 {
            if shared.upgrade().is_none() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the task still holds the fan-outs' state");
    }

    #[test]
    fn a_task_dropped_drops_the_runs_it_had_not_taken() {
        let shared = Rc::new(Inbox::default());
        let (done, ended) = oneshot::channel::<()>();
        shared.incoming.borrow_mut().push(Box::pin(async move {
            let _done = done;
            std::future::pending::<()>().await;
        }));
        drop(Driver {
            shared: Rc::clone(&shared),
            fan_outs: FuturesUnordered::new(),
        });
        assert!(shared.incoming.borrow().is_empty());
        assert_eq!(
            Rc::strong_count(&shared),
            1,
            "the next fan-out spawns a task"
        );
        let mut ended = ended;
        assert_eq!(ended.try_recv(), Err(oneshot::error::TryRecvError::Closed));
    }
}
