//! The `Dispatch` message and its detached form.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix::{Addr, Message};
use herald_signal::Signal;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Span;

use super::Dispatcher;
use super::report::{DispatchError, DispatchResult, TargetFailure, conclude};
use crate::{ActorId, DeliveryError, ErrorKind, Target};

/// Deliver one signal to one or many targets: the message a [`Dispatcher`] handles.
///
/// Targets run in parallel, at most the dispatcher's `max_concurrency` at a time
/// (override per dispatch with [`Dispatch::max_concurrency`]). Every target is
/// attempted; the answer is `Ok` with each target's outcome when all succeeded, or a
/// [`DispatchError`](crate::DispatchError) holding every failure.
///
/// The caller's current `tracing` span, taken when the `Dispatch` is created, becomes
/// the parent of the dispatch's spans.
///
/// ```
/// # use herald_core::{Dispatch, Dispatcher, Target};
/// # use herald_signal::Signal;
/// # actix::System::new().block_on(async {
/// let dispatcher = Dispatcher::builder().start();
/// let signal = Signal::new("user.created", serde_json::json!({"id": 1})).unwrap();
/// let report = dispatcher
///     .send(Dispatch::new(signal, [Target::noop(), Target::logger().into()])
///         .deadline(std::time::Duration::from_secs(2)))
///     .await
///     .expect("dispatcher is running")
///     .expect("every target succeeded");
/// assert_eq!(report.len(), 2);
/// # });
/// ```
#[derive(Debug)]
#[must_use = "a dispatch does nothing until it is sent to a dispatcher"]
pub struct Dispatch {
    pub(crate) signal: Arc<Signal>,
    pub(crate) targets: Vec<Target>,
    pub(crate) max_concurrency: Option<usize>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) caller: Option<ActorId>,
    pub(crate) parent: Span,
}

impl Dispatch {
    /// A dispatch of `signal` to `targets`.
    pub fn new<T: Into<Target>>(
        signal: impl Into<Arc<Signal>>,
        targets: impl IntoIterator<Item = T>,
    ) -> Self {
        Self {
            signal: signal.into(),
            targets: targets.into_iter().map(Into::into).collect(),
            max_concurrency: None,
            deadline: None,
            caller: None,
            parent: Span::current(),
        }
    }

    /// Sets how many of this dispatch's targets may be in flight at once; values below
    /// 1 count as 1. Default is the dispatcher's
    /// [`max_concurrency`](crate::DispatcherBuilder::max_concurrency).
    pub fn max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = Some(limit.max(1));
        self
    }

    /// Sets an overall budget, counted from now: targets not finished when it runs out
    /// fail with [`ErrorKind::DeadlineExceeded`]. Default is none (each adapter's own
    /// timeouts still apply).
    pub fn deadline(mut self, budget: Duration) -> Self {
        self.deadline = Some(Instant::now() + budget);
        self
    }

    /// Names the actor that dispatches, so that a synchronous delivery back to it fails
    /// at once with [`ErrorKind::CallingSelf`] instead of deadlocking. Pass
    /// `&ctx.address()` from inside a handler. Default is none.
    pub fn caller(mut self, caller: impl Into<ActorId>) -> Self {
        self.caller = Some(caller.into());
        self
    }

    /// The signal.
    pub fn signal(&self) -> &Arc<Signal> {
        &self.signal
    }

    /// The targets.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Every target failing with the same reason: for a dispatch that never ran.
    pub(crate) fn fail_all(&self, kind: impl Fn() -> ErrorKind) -> DispatchResult {
        conclude(
            self.targets
                .iter()
                .map(|target| {
                    Some(Err(DeliveryError::new(
                        target.adapter_name().clone(),
                        target.describe().to_string(),
                        kind(),
                    )))
                })
                .collect(),
        )
    }
}

impl Message for Dispatch {
    type Result = DispatchResult;
}

/// A dispatch that runs on its own; see [`DispatchExt::dispatch_async`].
#[derive(Debug)]
pub(crate) struct Detached {
    pub(crate) dispatch: Option<Dispatch>,
    pub(crate) reply: Option<oneshot::Sender<DispatchResult>>,
}

impl Detached {
    pub(crate) fn take(&mut self) -> (Dispatch, oneshot::Sender<DispatchResult>) {
        match (self.dispatch.take(), self.reply.take()) {
            (Some(dispatch), Some(reply)) => (dispatch, reply),
            _ => unreachable!("a detached dispatch is taken once"),
        }
    }
}

impl Drop for Detached {
    /// Dropped unhandled (the dispatcher stopped): every target is reported failed.
    fn drop(&mut self) {
        if let (Some(dispatch), Some(reply)) = (self.dispatch.take(), self.reply.take()) {
            let _ = reply.send(dispatch.fail_all(|| ErrorKind::NotAlive));
        }
    }
}

impl Message for Detached {
    type Result = ();
}

/// Fire-and-forget dispatching on a dispatcher's address.
pub trait DispatchExt {
    /// Starts `dispatch` without waiting for it. Await the returned handle for its
    /// result, or drop it: the dispatch runs to completion either way, and its failures
    /// still reach telemetry (a `WARN` event) and [`Stats`](crate::Stats).
    ///
    /// Never waits: when the dispatcher's mailbox is full, the handle resolves at once
    /// with every target failing [`ErrorKind::Overloaded`].
    fn dispatch_async(&self, dispatch: Dispatch) -> DispatchHandle;
}

impl DispatchExt for Addr<Dispatcher> {
    fn dispatch_async(&self, dispatch: Dispatch) -> DispatchHandle {
        let (reply, receiver) = oneshot::channel();
        let detached = Detached {
            dispatch: Some(dispatch),
            reply: Some(reply),
        };
        if let Err(error) = self.try_send(detached) {
            let full = matches!(error, actix::dev::SendError::Full(_));
            let mut detached = error.into_inner();
            let (dispatch, reply) = detached.take();
            let result = dispatch.fail_all(|| {
                if full {
                    ErrorKind::Overloaded
                } else {
                    ErrorKind::NotAlive
                }
            });
            let _ = reply.send(result);
        }
        DispatchHandle { receiver }
    }
}

/// The completion of a detached dispatch. Await it for the result, or drop it.
#[derive(Debug)]
#[must_use = "drop the handle explicitly to ignore the dispatch's result"]
pub struct DispatchHandle {
    receiver: oneshot::Receiver<DispatchResult>,
}

impl Future for DispatchHandle {
    type Output = DispatchResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DispatchResult> {
        // The message reports on drop, so the sender only vanishes unanswered if the
        // dispatch task itself died; that is reported too, not lost.
        Pin::new(&mut self.receiver).poll(cx).map(|result| {
            result.unwrap_or_else(|_| {
                let error = DeliveryError::new("dispatcher", "dispatch", ErrorKind::AdapterStopped);
                Err(DispatchError::new(
                    vec![TargetFailure { index: 0, error }],
                    Vec::new(),
                ))
            })
        })
    }
}
