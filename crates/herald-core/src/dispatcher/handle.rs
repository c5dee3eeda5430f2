//! Dispatching on a dispatcher's address with one result type, waiting or not.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix::Addr;
use tokio::sync::oneshot;

use super::Dispatcher;
use crate::dispatch::{Admission, Detached, fail_all};
use crate::{ActorId, Dispatch, DispatchResult, ErrorKind, Target};

/// Dispatching on a dispatcher's address (or a [`Sharded`](crate::Sharded) handle) with
/// one result type, whatever became of the dispatcher.
pub trait DispatchExt {
    /// Dispatches and waits for the result, as `Addr::send` does, but always answers a
    /// [`DispatchResult`]: once the dispatcher has stopped (after a
    /// [`Shutdown`](crate::Shutdown), or with its system), every target fails with
    /// [`ErrorKind::Shutdown`] (no attempt made) where `send` would give actix's
    /// `MailboxError`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use herald_core::{Dispatch, DispatchExt, Dispatcher, ErrorKind, Shutdown, Target};
    /// use herald_signal::Signal;
    ///
    /// # actix::System::new().block_on(async {
    /// let dispatcher = Dispatcher::builder().start();
    /// dispatcher.send(Shutdown::new(Duration::from_secs(1))).await.unwrap();
    /// let signal = Signal::new("order.placed", serde_json::json!({})).unwrap();
    /// let dispatch = Dispatch::new(signal, [Target::noop()]);
    /// let error = dispatcher.dispatch(dispatch).await.unwrap_err();
    /// assert!(matches!(error.first().error.kind(), ErrorKind::Shutdown));
    /// # });
    /// ```
    fn dispatch(&self, dispatch: Dispatch) -> impl Future<Output = DispatchResult> + 'static;

    /// Starts `dispatch` without waiting for it. Await the returned handle for its
    /// result, or drop it: the dispatch runs to completion either way, and its failures
    /// still reach telemetry (a `WARN` event) and [`Stats`](crate::Stats).
    ///
    /// Never waits. Detached dispatches queue under the dispatcher's admission permits
    /// (as many as its [mailbox capacity](crate::DispatcherBuilder::mailbox_capacity)),
    /// whichever clone of the address sends them: when none is free, the handle
    /// resolves at once with every target failing [`ErrorKind::Overloaded`], counted in
    /// [`StatsSnapshot::refused`](crate::StatsSnapshot::refused); when the dispatcher has
    /// stopped, with [`ErrorKind::Shutdown`]. Either way a `WARN` event says so.
    fn dispatch_async(&self, dispatch: Dispatch) -> DispatchHandle;
}

impl DispatchExt for Addr<Dispatcher> {
    fn dispatch(&self, dispatch: Dispatch) -> impl Future<Output = DispatchResult> + 'static {
        let targets = Arc::clone(&dispatch.targets);
        let sent = self.send(dispatch);
        async move {
            sent.await
                .unwrap_or_else(|_stopped| fail_all(&targets, || (ErrorKind::Shutdown, 0)))
        }
    }

    fn dispatch_async(&self, dispatch: Dispatch) -> DispatchHandle {
        let (reply, receiver) = oneshot::channel();
        let targets = Arc::clone(&dispatch.targets);
        let detached = |permit| Detached::new(dispatch, Some(reply), permit);
        match Admission::of(ActorId::of(self)) {
            None => detached(None).refuse(|| ErrorKind::Shutdown),
            Some(admission) => match admission.admit() {
                None => detached(None).refuse(|| ErrorKind::Overloaded),
                // The permit is the bound; a closed mailbox drops the message, which
                // then reports every target.
                Some(permit) => self.do_send(detached(Some(permit))),
            },
        }
        DispatchHandle { receiver, targets }
    }
}

/// The completion of a detached dispatch. Await it for the result, or drop it.
#[derive(Debug)]
#[must_use = "drop the handle explicitly to ignore the dispatch's result"]
pub struct DispatchHandle {
    receiver: oneshot::Receiver<DispatchResult>,
    targets: Arc<[Target]>,
}

impl DispatchHandle {
    /// The result, if the dispatch has ended already, without waiting: a dispatch
    /// refused at admission (every target [`ErrorKind::Overloaded`], or
    /// [`ErrorKind::Shutdown`] once the dispatcher has stopped) has ended when
    /// [`dispatch_async`](DispatchExt::dispatch_async) returns, so this tells a caller
    /// that must answer at once (an HTTP ingress: 429 or 503) whether it was taken.
    /// Once it has answered `Some`, the result is spent: awaiting the handle after
    /// that reports every target as [`ErrorKind::Shutdown`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use herald_core::{Dispatch, DispatchExt, Dispatcher, ErrorKind, Shutdown, Target};
    /// use herald_signal::Signal;
    ///
    /// # actix::System::new().block_on(async {
    /// let dispatcher = Dispatcher::builder().start();
    /// let signal = Signal::new("order.placed", serde_json::json!({})).unwrap();
    /// let mut handle = dispatcher.dispatch_async(Dispatch::new(signal.clone(), [Target::noop()]));
    /// assert!(handle.try_result().is_none(), "taken: it runs on its own");
    ///
    /// dispatcher.send(Shutdown::new(Duration::from_secs(1))).await.unwrap();
    /// let mut handle = dispatcher.dispatch_async(Dispatch::new(signal, [Target::noop()]));
    /// let refused = handle.try_result().expect("refused at once").unwrap_err();
    /// assert!(matches!(refused.first().error.kind(), ErrorKind::Shutdown));
    /// # });
    /// ```
    pub fn try_result(&mut self) -> Option<DispatchResult> {
        match self.receiver.try_recv() {
            Ok(result) => Some(result),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => {
                Some(fail_all(&self.targets, || (ErrorKind::Shutdown, 1)))
            }
        }
    }
}

impl Future for DispatchHandle {
    type Output = DispatchResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DispatchResult> {
        // The message and the fan-out both answer as they drop, so this only finds the
        // sender gone if the thread that held it died; every target is reported then
        // too, each at its own index.
        Pin::new(&mut self.receiver).poll(cx).map(|result| {
            // The thread died: any target may have begun.
            result.unwrap_or_else(|_| fail_all(&self.targets, || (ErrorKind::Shutdown, 1)))
        })
    }
}
