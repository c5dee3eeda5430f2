//! Several dispatchers behind one handle, for applications on many cores.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::dev::Request;
use actix::{Addr, MailboxError};
use futures_util::future::join_all;

use super::{DispatchExt, DispatchHandle, Dispatcher};
use crate::{Dispatch, DispatchResult, Shutdown, Stats, StatsSnapshot};

/// Dispatchers on arbiters of their own, sent to like one: made by
/// [`DispatcherBuilder::start_sharded`](crate::DispatcherBuilder::start_sharded).
///
/// [`send`](Self::send) and [`dispatch_async`](DispatchExt::dispatch_async) read as
/// they do on an `Addr<Dispatcher>`; each dispatch goes to one shard, picked by its
/// [`key`](Dispatch::key) or in turn. One dispatcher runs on one thread; `N` shards
/// use up to `N` (see `docs/PERFORMANCE.md` for the scaling model). Cloning is cheap;
/// the shards stop when every clone is dropped and their running dispatches end, or
/// after [`shutdown`](Self::shutdown).
#[derive(Clone)]
pub struct Sharded {
    shards: Arc<[Addr<Dispatcher>]>,
    next: Arc<AtomicUsize>,
}

impl Sharded {
    pub(crate) fn new(shards: Vec<Addr<Dispatcher>>) -> Self {
        Self {
            shards: shards.into(),
            next: Arc::default(),
        }
    }

    /// Sends `dispatch` to its shard; await the answer as from `Addr::send`.
    pub fn send(&self, dispatch: Dispatch) -> Request<Dispatcher, Dispatch> {
        self.shard(&dispatch).send(dispatch)
    }

    /// The shard `dispatch` goes to: by its key, or the next in turn.
    pub fn shard(&self, dispatch: &Dispatch) -> &Addr<Dispatcher> {
        let count = self.shards.len();
        let index = match dispatch.shard_key() {
            Some(key) => (key.get() % count as u64) as usize,
            None => self.next.fetch_add(1, Ordering::Relaxed) % count,
        };
        &self.shards[index]
    }

    /// Every shard's address, e.g. to send [`CheckTargets`](crate::CheckTargets) to one.
    pub fn shards(&self) -> &[Addr<Dispatcher>] {
        &self.shards
    }

    /// The shards' counters, added up.
    pub async fn stats(&self) -> Result<StatsSnapshot, MailboxError> {
        let mut total = StatsSnapshot::default();
        for stats in join_all(self.shards.iter().map(|shard| shard.send(Stats))).await {
            total.add(&stats?);
        }
        Ok(total)
    }

    /// Sends every shard `shutdown` (a [`Shutdown`], or its grace period), and waits
    /// until each has drained.
    pub async fn shutdown(&self, shutdown: impl Into<Shutdown>) -> Result<(), MailboxError> {
        let shutdown = shutdown.into();
        let sends = self.shards.iter().map(|shard| shard.send(shutdown));
        join_all(sends).await.into_iter().collect()
    }
}

impl DispatchExt for Sharded {
    fn dispatch(&self, dispatch: Dispatch) -> impl Future<Output = DispatchResult> + 'static {
        self.shard(&dispatch).dispatch(dispatch)
    }

    fn dispatch_async(&self, dispatch: Dispatch) -> DispatchHandle {
        self.shard(&dispatch).dispatch_async(dispatch)
    }
}

impl fmt::Debug for Sharded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sharded")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}
