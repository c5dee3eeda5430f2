//! A receiving actor for tests: it records every signal it gets and answers as told.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Actor, ActorContext, Addr, Context, Handler, Message, ResponseFuture};
use herald_core::{Rejection, SignalMessage};
use herald_signal::Signal;

use crate::within;

/// What a [`Recorder`] that rejects says.
pub const REJECTION: &str = "rejected by the test receiver";

/// How a [`Recorder`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `Ok(())`.
    Accept,
    /// A [`Rejection`] saying [`REJECTION`].
    Reject,
    /// Never answers within a test: holds the reply for an hour.
    Hang,
}

/// What a [`Recorder`] keeps of each signal.
pub trait Record: Default + Send + Sync + 'static {
    /// Records one signal.
    fn record(&self, signal: &Arc<Signal>);
}

/// Counts the signals.
impl Record for AtomicUsize {
    fn record(&self, _: &Arc<Signal>) {
        self.fetch_add(1, Ordering::SeqCst);
    }
}

/// Keeps every signal, in arrival order.
impl Record for Mutex<Vec<Signal>> {
    fn record(&self, signal: &Arc<Signal>) {
        self.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((**signal).clone());
    }
}

/// A receiving actor: records what it gets in `R` (a count by default) and answers as
/// its [`Answer`] says. [`Stop`] stops it.
pub struct Recorder<R: Record = AtomicUsize> {
    record: Arc<R>,
    answer: Answer,
    capacity: Option<usize>,
}

impl<R: Record> std::fmt::Debug for Recorder<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("answer", &self.answer)
            .finish_non_exhaustive()
    }
}

impl<R: Record> Recorder<R> {
    /// One that records into `record` (shared, e.g. by several recorders), with actix's
    /// default mailbox; start it where the test wants it.
    pub fn new(answer: Answer, record: Arc<R>) -> Self {
        Self {
            record,
            answer,
            capacity: None,
        }
    }

    /// Starts one with actix's default mailbox (16 messages); returns its address and
    /// what it records.
    pub fn start(answer: Answer) -> (Addr<Self>, Arc<R>) {
        Self::start_with(answer, None)
    }

    /// Starts one whose mailbox holds `capacity` messages.
    pub fn start_with_capacity(answer: Answer, capacity: usize) -> (Addr<Self>, Arc<R>) {
        Self::start_with(answer, Some(capacity))
    }

    fn start_with(answer: Answer, capacity: Option<usize>) -> (Addr<Self>, Arc<R>) {
        let record = Arc::new(R::default());
        let recorder = Self {
            record: Arc::clone(&record),
            answer,
            capacity,
        };
        (recorder.start(), record)
    }
}

impl<R: Record> Actor for Recorder<R> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(capacity) = self.capacity {
            ctx.set_mailbox_capacity(capacity);
        }
    }
}

impl<R: Record> Handler<SignalMessage> for Recorder<R> {
    type Result = ResponseFuture<Result<(), Rejection>>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        self.record.record(message.signal());
        let answer = self.answer;
        Box::pin(async move {
            match answer {
                Answer::Accept => Ok(()),
                Answer::Reject => Err(Rejection::new(REJECTION)),
                Answer::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                }
            }
        })
    }
}

/// Stops the [`Recorder`] that receives it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Stop;

impl<R: Record> Handler<Stop> for Recorder<R> {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Waits (bounded by [`within`]) until `counter` reaches `value`.
pub async fn until_count(what: &str, counter: &AtomicUsize, value: usize) {
    within(what, async {
        while counter.load(Ordering::SeqCst) < value {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

/// Waits (bounded by [`within`]) until `seen` holds `n` signals.
pub async fn until_seen(what: &str, seen: &Mutex<Vec<Signal>>, n: usize) {
    within(what, async {
        while seen.lock().unwrap_or_else(|p| p.into_inner()).len() < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}
