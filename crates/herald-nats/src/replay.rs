//! Replay: the signals a durable stream kept, delivered again to chosen targets — for
//! an endpoint that was down longer than its retries.

use std::sync::Arc;
use std::time::SystemTime;

use actix::Addr;
use async_nats::jetstream;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use herald_core::{Dispatch, Dispatcher, IntoTargets, Outcome, Pattern, PatternError, Target};

use crate::codec::{STORED_LIMIT, decode};
use crate::connect::NatsError;
use crate::durable::Durable;
use crate::window::{Reader, Start, Window};

/// A replay, before it runs: which stretch of the stream, which signals, to which
/// targets, how many at once. Made by [`Durable::replay`]; run with
/// [`run`](Self::run).
///
/// Every signal read is dispatched to the targets through the dispatcher, as any
/// dispatch (their policies apply: a target's dedupe reports a signal it already took
/// as a duplicate, its dead letter keeps one that fails again). At most
/// [`max_in_flight`](Self::max_in_flight) dispatches run at once; they are counted in
/// stream order, so [`ReplayReport::next_sequence`] is where to resume: a replay
/// stopped (dropped, or failed mid-way) and started again from there delivers nothing
/// twice but what was in flight.
///
/// ```no_run
/// # async fn run(durable: herald_nats::Durable, dispatcher: actix::Addr<herald_core::Dispatcher>,
/// #     target: herald_core::Target) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::{Duration, SystemTime};
///
/// let outage_began = SystemTime::now() - Duration::from_secs(3 * 3600);
/// let report = durable
///     .replay(dispatcher, [target])
///     .since(outage_began)
///     .types("order.**")?
///     .on_progress(1_000, |report| tracing::info!(read = report.read, "replaying"))
///     .run()
///     .await?;
/// println!("{} delivered, {} failed, resume at {}", report.delivered, report.failed, report.next_sequence);
/// # Ok(()) }
/// ```
#[must_use = "a replay does nothing until run"]
pub struct Replay {
    durable: Durable,
    dispatcher: Addr<Dispatcher>,
    targets: Arc<[Target]>,
    window: Window,
    types: Option<Pattern>,
    max_in_flight: usize,
    progress: Option<(u64, Progress)>,
}

/// What a replay calls with its report so far.
type Progress = Box<dyn FnMut(&ReplayReport)>;

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("stream", &self.durable.stream_name())
            .field("window", &self.window)
            .field("types", &self.types)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

/// What a replay did. Deliveries are counted per signal and target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// Signals read from the stream.
    pub read: u64,
    /// Signals whose type the pattern did not match: not dispatched.
    pub skipped: u64,
    /// Stored messages that were not signals: not dispatched.
    pub malformed: u64,
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Deliveries the target's dedupe reported as duplicates (it had the signal).
    pub duplicates: u64,
    /// Deliveries that failed (expired ones apart).
    pub failed: u64,
    /// Deliveries that ended [`Expired`](herald_core::ErrorKind::Expired): the signal's
    /// `expirytime`, or the target's max age, had passed. Nothing was sent for them.
    pub expired: u64,
    /// The first stream sequence not yet done: give it to
    /// [`from_sequence`](Replay::from_sequence) to go on. Past the window's end once
    /// the replay finished.
    pub next_sequence: u64,
    /// Why the replay stopped before the window's end (the stream stopped answering,
    /// say); `None` when it read it all.
    pub stopped: Option<String>,
}

impl Durable {
    /// A replay of this stream's signals to `targets` through `dispatcher`: from the
    /// first signal kept to the last stored when it starts, unless narrowed.
    pub fn replay(&self, dispatcher: Addr<Dispatcher>, targets: impl IntoTargets) -> Replay {
        Replay {
            durable: self.clone(),
            dispatcher,
            targets: targets.into_targets(),
            window: Window::default(),
            types: None,
            max_in_flight: 64,
            progress: None,
        }
    }
}

impl Replay {
    /// Starts at stream sequence `sequence` (a report's
    /// [`next_sequence`](ReplayReport::next_sequence), to resume).
    pub fn from_sequence(mut self, sequence: u64) -> Self {
        self.window.start = Start::Sequence(sequence);
        self
    }

    /// Starts at the first signal stored at or after `time`.
    pub fn since(mut self, time: SystemTime) -> Self {
        self.window.start = Start::Time(time);
        self
    }

    /// Ends after stream sequence `sequence`.
    pub fn until_sequence(mut self, sequence: u64) -> Self {
        self.window.until_sequence = Some(sequence);
        self
    }

    /// Ends with the last signal stored at or before `time`.
    pub fn until(mut self, time: SystemTime) -> Self {
        self.window.until = Some(time);
        self
    }

    /// Reads only the stream's subjects matching `filter` (the server filters).
    pub fn subject(mut self, filter: impl Into<String>) -> Self {
        self.window.filter = Some(filter.into());
        self
    }

    /// Dispatches only signals whose type matches `pattern` (a bus pattern: `*` one
    /// segment, `**` any); the others are counted as skipped.
    ///
    /// # Errors
    ///
    /// A pattern that is not valid.
    pub fn types(mut self, pattern: &str) -> Result<Self, PatternError> {
        self.types = Some(Pattern::parse(pattern)?);
        Ok(self)
    }

    /// At most `max` dispatches at once (at least 1). Default is 64.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// Calls `progress` with the report so far every `every` signals read (at least
    /// 1), and once at the end. An `INFO` event `herald::nats` "replay progress" goes
    /// with each call; without a callback, one every 10,000 signals.
    pub fn on_progress(
        mut self,
        every: u64,
        progress: impl FnMut(&ReplayReport) + 'static,
    ) -> Self {
        self.progress = Some((every.max(1), Box::new(progress)));
        self
    }

    /// Runs the replay to the window's end, or until the stream stops answering
    /// (then [`ReplayReport::stopped`] says why, and `next_sequence` where to resume).
    ///
    /// # Errors
    ///
    /// [`NatsError::JetStream`]: the stream could not be read at all (gone, or a
    /// filter the server refuses).
    pub async fn run(mut self) -> Result<ReplayReport, NatsError> {
        let mut stream = self.durable.stream().await?;
        let mut reader = Reader::open(&mut stream, &self.window).await?;
        let mut report = ReplayReport {
            next_sequence: match self.window.start {
                Start::Sequence(sequence) => sequence.max(1),
                _ => 1,
            },
            ..ReplayReport::default()
        };
        let every = self.progress.as_ref().map_or(10_000, |(every, _)| *every);
        // Done in stream order, so that `next_sequence` is a true watermark.
        let mut flight = FuturesOrdered::new();
        loop {
            while flight.len() >= self.max_in_flight {
                if let Some(done) = flight.next().await {
                    report.add(done);
                }
            }
            while let Some(Some(done)) = flight.next().now_or_never() {
                report.add(done);
            }
            let read = match reader.next().await {
                Ok(Some(read)) => read,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(target: "herald::nats", stream = self.durable.stream_name(), %error, "replay stopped");
                    report.stopped = Some(error.to_string());
                    break;
                }
            };
            report.read += 1;
            flight.push_back(self.dispatch(read.sequence, &read.message));
            if report.read.is_multiple_of(every) {
                self.progressed(&report);
            }
        }
        while let Some(done) = flight.next().await {
            report.add(done);
        }
        self.progressed(&report);
        Ok(report)
    }

    /// The dispatch of one stored message, counted when it is done.
    fn dispatch(
        &self,
        sequence: u64,
        message: &jetstream::Message,
    ) -> LocalBoxFuture<'static, (u64, Counts)> {
        let mut counts = Counts::default();
        let signal = match decode(message.headers.as_ref(), &message.payload, STORED_LIMIT) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(target: "herald::nats", sequence, %error, "replay: not a signal");
                counts.malformed = 1;
                return futures_util::future::ready((sequence, counts)).boxed_local();
            }
        };
        if self
            .types
            .as_ref()
            .is_some_and(|types| !types.matches(signal.ty()))
        {
            counts.skipped = 1;
            return futures_util::future::ready((sequence, counts)).boxed_local();
        }
        let targets = self.targets.len() as u64;
        let sent = self
            .dispatcher
            .send(Dispatch::new(signal, Arc::clone(&self.targets)));
        async move {
            match sent.await {
                Ok(Ok(report)) => counts.tally(report.outcomes().iter()),
                Ok(Err(error)) => {
                    counts.tally(error.delivered().iter().map(|(_, outcome)| outcome));
                    let expired = error
                        .failures()
                        .iter()
                        .filter(|f| matches!(f.error.kind(), herald_core::ErrorKind::Expired))
                        .count() as u64;
                    counts.expired = expired;
                    counts.failed = error.failures().len() as u64 - expired;
                }
                Err(_) => counts.failed = targets,
            }
            (sequence, counts)
        }
        .boxed_local()
    }

    fn progressed(&mut self, report: &ReplayReport) {
        tracing::info!(
            target: "herald::nats",
            stream = self.durable.stream_name(),
            read = report.read,
            delivered = report.delivered,
            failed = report.failed,
            next_sequence = report.next_sequence,
            "replay progress"
        );
        if let Some((_, progress)) = &mut self.progress {
            progress(report);
        }
    }
}

/// What one stored message came to.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    skipped: u64,
    malformed: u64,
    delivered: u64,
    duplicates: u64,
    failed: u64,
    expired: u64,
}

impl Counts {
    fn tally<'a>(&mut self, outcomes: impl Iterator<Item = &'a Outcome>) {
        for outcome in outcomes {
            match outcome {
                Outcome::Duplicate => self.duplicates += 1,
                _ => self.delivered += 1,
            }
        }
    }
}

impl ReplayReport {
    fn add(&mut self, (sequence, counts): (u64, Counts)) {
        self.skipped += counts.skipped;
        self.malformed += counts.malformed;
        self.delivered += counts.delivered;
        self.duplicates += counts.duplicates;
        self.failed += counts.failed;
        self.expired += counts.expired;
        self.next_sequence = sequence + 1;
    }
}
