//! Dead letters kept in a JetStream stream: they survive a crash, a deploy and a
//! server restart, and are listed, redriven and expired there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix::{Actor, Addr, Context, Handler, ResponseFuture};
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::{self, stream::Stream};
use futures_util::StreamExt;
use herald_core::resilience::{DeadLetter, ERROR_DEST, ERROR_DEST_ID, ERROR_KIND, RedriveReport};
use herald_core::{Dispatcher, ErrorKind, Fingerprint, Rejection, SignalMessage, Target};
use herald_signal::{ExtensionValue, Signal};

use crate::codec::{BodyMode, STORED_LIMIT, decode, encode};
use crate::connect::NatsError;
use crate::publish::until_stored;
use crate::stream::StreamSettings;
use crate::supervise::{ClientHandle, same};
use crate::window::{Reader, Start, Window};

/// A dead-letter store on JetStream: a dispatcher's (or an application's) dead letters,
/// in a stream of their own, in files unless the settings say otherwise.
///
/// Give its [`target`](Self::target) as the dead-letter target: a delivery that finally
/// fails reports "dead-lettered" only once the stream has stored its dead letter (the
/// store's publish waits out a server's absence for up to
/// [`timeout`](Self::timeout), 30 s unless set; past that the dead letter is reported
/// as failed, with the original failure). Then [`list`](Self::list) them by time
/// window, target identity and error kind, [`redrive`](Self::redrive) them, and let the
/// stream's own limits ([`StreamSettings::max_age`], `max_messages`, `max_bytes`)
/// expire them.
///
/// Each dead letter is stored on subject `herald.dlq.<name>.<fingerprint>.<kind>`: the
/// failed target's [`Fingerprint`] and the failure's kind, so the server filters by
/// them.
///
/// ```no_run
/// # async fn run(client: async_nats::Client) -> Result<(), herald_nats::NatsError> {
/// use std::time::Duration;
/// use herald_core::Dispatcher;
/// use herald_core::resilience::Resilience;
/// use herald_nats::{DeadLetterStore, StreamSettings};
///
/// let settings = StreamSettings::new().max_age(Duration::from_secs(14 * 86_400));
/// let store = DeadLetterStore::open(&client, "ORDERS", &settings).await?;
/// let dispatcher = Dispatcher::builder()
///     .resilience(Resilience::new().dead_letter(store.target()))
///     .start();
/// # drop(dispatcher); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DeadLetterStore {
    client: ClientHandle,
    stream: String,
    /// `herald.dlq.<name>`.
    prefix: String,
    timeout: Duration,
    /// The JetStream context of the client last used: making one spawns a task.
    jetstream: Arc<Mutex<jetstream::Context>>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    stored: AtomicU64,
    failed: AtomicU64,
    redriven: AtomicU64,
}

/// What a [`DeadLetterStore`] has done, in this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Dead letters the stream stored.
    pub stored: u64,
    /// Dead letters that could not be stored (reported to the dispatch as failed).
    pub failed: u64,
    /// Dead letters redriven to their target and removed.
    pub redriven: u64,
}

/// Which dead letters to read: a time window, a target, an error kind, and at most how
/// many ([`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) unless set).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use herald_nats::LetterFilter;
///
/// let since = SystemTime::now() - Duration::from_secs(3600);
/// let filter = LetterFilter::new().since(since).kind("timeout").limit(500);
/// assert_eq!(filter.limit_value(), 500);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a filter does nothing until given to a store"]
pub struct LetterFilter {
    since: Option<SystemTime>,
    until: Option<SystemTime>,
    target: Option<Fingerprint>,
    kind: Option<String>,
    limit: usize,
}

impl Default for LetterFilter {
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            target: None,
            kind: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

impl LetterFilter {
    /// The most dead letters read unless set.
    pub const DEFAULT_LIMIT: usize = 100;
    /// The most dead letters one read may ask for.
    pub const MAX_LIMIT: usize = 10_000;

    /// Every dead letter, up to [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only those stored at or after `time`.
    pub fn since(mut self, time: SystemTime) -> Self {
        self.since = Some(time);
        self
    }

    /// Only those stored at or before `time`.
    pub fn until(mut self, time: SystemTime) -> Self {
        self.until = Some(time);
        self
    }

    /// Only those of `target`: the same exact identity ([`Target::fingerprint`]) that
    /// redrive matches on.
    pub fn target(mut self, target: &Target) -> Self {
        self.target = Some(target.fingerprint());
        self
    }

    /// Only those that failed with this kind ([`ErrorKind::name`], e.g. `timeout`).
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// At most `limit` (1 to [`MAX_LIMIT`](Self::MAX_LIMIT); clamped).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.clamp(1, Self::MAX_LIMIT);
        self
    }

    /// The most dead letters read.
    pub fn limit_value(&self) -> usize {
        self.limit
    }
}

/// A dead letter as the store keeps it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoredLetter {
    /// Its sequence in the stream: what [`DeadLetterStore::delete`] takes.
    pub sequence: u64,
    /// When the stream stored it.
    pub stored_at: SystemTime,
    /// The dead letter.
    pub letter: DeadLetter,
}

/// The most redrives in flight at once.
const REDRIVES_IN_FLIGHT: usize = 32;

impl DeadLetterStore {
    /// How long a dead letter may take to be stored unless set.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Opens (or makes) the store `name` (letters, digits, `-` and `_`; at most 64):
    /// stream `name` over `herald.dlq.<name>.>`, made with `settings` (an existing
    /// stream is opened as it is). Give a supervised client to go on after its
    /// connection task dies.
    ///
    /// # Errors
    ///
    /// [`NatsError::JetStream`]: a name that is not valid, or a stream the server
    /// refuses.
    pub async fn open(
        client: impl Into<ClientHandle>,
        name: &str,
        settings: &StreamSettings,
    ) -> Result<Self, NatsError> {
        if token(name).is_none() {
            return Err(NatsError::JetStream(
                "a dead-letter store's name is 1 to 64 letters, digits, '-' or '_'".to_owned(),
            ));
        }
        let client = client.into();
        let prefix = format!("herald.dlq.{name}");
        let subjects = format!("{prefix}.>");
        let context = jetstream::new(client.client());
        context
            .get_or_create_stream(settings.config(name, &[subjects.as_str()]))
            .await
            .map_err(|error| NatsError::JetStream(error.to_string()))?;
        Ok(Self {
            client,
            stream: name.to_owned(),
            prefix,
            timeout: Self::DEFAULT_TIMEOUT,
            jetstream: Arc::new(Mutex::new(context)),
            counters: Arc::default(),
        })
    }

    /// Bounds how long storing one dead letter may take (at least 1 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// A dead-letter target that stores in this store: a `pid` target, synchronous (the
    /// dispatch hears "dead-lettered" once stored), of an actor started on the current
    /// arbiter. Start it once and clone the target.
    ///
    /// A signal that carries no failure is refused.
    pub fn target(&self) -> Target {
        let sink = Sink(self.clone()).start();
        Target::pid(sink.recipient())
            .sync()
            .timeout(self.timeout + Duration::from_secs(1))
            .into()
    }

    /// What this store has done in this process.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            stored: self.counters.stored.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            redriven: self.counters.redriven.load(Ordering::Relaxed),
        }
    }

    /// Stores `signal`, a dead letter: the dispatch's answer waits for this.
    async fn keep(&self, signal: &Signal) -> Result<(), Rejection> {
        // Read in place: `DeadLetter::from_signal` would copy the original out.
        let text = |name| match signal.extension(name) {
            Some(ExtensionValue::String(text)) => Some(text.as_str()),
            _ => None,
        };
        let (Some(kind), Some(_)) = (text(ERROR_KIND), text(ERROR_DEST)) else {
            return Err(Rejection::new("not a dead letter: it carries no failure"));
        };
        let destination = text(ERROR_DEST_ID).and_then(Fingerprint::parse);
        let subject = self.subject(destination, kind);
        let (mut headers, payload) = encode(signal, BodyMode::Structured);
        // Its own id: two targets' dead letters of one signal share the signal's id,
        // and a duplicate window keyed on it would keep only the first.
        headers.insert("Nats-Msg-Id", uuid::Uuid::now_v7().to_string().as_str());
        let jetstream = self.jetstream();
        let stored = tokio::time::timeout(
            self.timeout,
            until_stored(&jetstream, || {
                Ok((subject.clone().into(), headers.clone(), payload.clone()))
            }),
        )
        .await
        .unwrap_or(Err(ErrorKind::Timeout(self.timeout)));
        match stored {
            Ok(()) => {
                self.counters.stored.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(target: "herald::nats", store = self.stream, %error, "a dead letter could not be stored");
                Err(Rejection::new(format!(
                    "the dead-letter store did not store it: {error}"
                )))
            }
        }
    }

    /// `herald.dlq.<name>.<fingerprint>.<kind>`; a token that is not one (a dead letter
    /// made without a fingerprint, a kind from untrusted data) becomes `_`.
    fn subject(&self, destination: Option<Fingerprint>, kind: &str) -> String {
        let destination = destination.map_or_else(|| "_".to_owned(), |d| d.to_string());
        format!(
            "{}.{destination}.{}",
            self.prefix,
            token(kind).unwrap_or("_")
        )
    }

    /// The subject filter of `filter`; `None` when it can match nothing.
    fn filter_subject(&self, filter: &LetterFilter) -> Option<String> {
        let destination = filter
            .target
            .map_or_else(|| "*".to_owned(), |d| d.to_string());
        let kind = match &filter.kind {
            Some(kind) => token(kind)?,
            None => "*",
        };
        Some(format!("{}.{destination}.{kind}", self.prefix))
    }

    /// A JetStream context on the current client.
    fn jetstream(&self) -> jetstream::Context {
        let client = self.client.client();
        let mut cached = self
            .jetstream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !same(&cached.client(), &client) {
            *cached = jetstream::new(client);
        }
        cached.clone()
    }

    async fn stream(&self) -> Result<Stream, NatsError> {
        self.jetstream()
            .get_stream(&self.stream)
            .await
            .map_err(|error| NatsError::JetStream(error.to_string()))
    }

    /// The dead letters `filter` selects, oldest first. A stored message that is not a
    /// dead letter (published there by someone else) is skipped, logged.
    ///
    /// # Errors
    ///
    /// [`NatsError::JetStream`]: the stream could not be read (gone, or the server did
    /// not answer within 10 s).
    pub async fn list(&self, filter: &LetterFilter) -> Result<Vec<StoredLetter>, NatsError> {
        let Some(subject) = self.filter_subject(filter) else {
            return Ok(Vec::new());
        };
        let window = Window {
            start: filter.since.map_or(Start::First, Start::Time),
            filter: Some(subject),
            until_sequence: None,
            until: filter.until,
        };
        let mut reader = Reader::open(&mut self.stream().await?, &window).await?;
        let mut letters = Vec::new();
        while letters.len() < filter.limit {
            let Some(read) = reader.next().await? else {
                break;
            };
            let message = &read.message;
            let letter = decode(message.headers.as_ref(), &message.payload, STORED_LIMIT)
                .ok()
                .and_then(|signal| DeadLetter::from_signal(&signal));
            match letter {
                Some(letter) => letters.push(StoredLetter {
                    sequence: read.sequence,
                    stored_at: read.stored_at,
                    letter,
                }),
                None => tracing::warn!(
                    target: "herald::nats",
                    store = self.stream,
                    sequence = read.sequence,
                    "not a dead letter: skipped"
                ),
            }
        }
        Ok(letters)
    }

    /// How many dead letters match `filter`'s target and kind (its time window and
    /// limit aside), as the server counts them.
    ///
    /// # Errors
    ///
    /// As [`list`](Self::list).
    pub async fn count(&self, filter: &LetterFilter) -> Result<u64, NatsError> {
        let Some(subject) = self.filter_subject(filter) else {
            return Ok(0);
        };
        let stream = self.stream().await?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: subject,
                ..OrderedConfig::default()
            })
            .await
            .map_err(|error| NatsError::JetStream(error.to_string()))?;
        let info = consumer.cached_info();
        let _ = stream.delete_consumer(&info.name).await;
        Ok(info.num_pending)
    }

    /// Removes dead letter `sequence`; `false` when it was not there.
    ///
    /// # Errors
    ///
    /// The stream could not be reached.
    pub async fn delete(&self, sequence: u64) -> Result<bool, NatsError> {
        let stream = self.stream().await?;
        delete(&stream, sequence).await
    }

    /// Dispatches the dead letters `filter` selects again, each to its original target
    /// found among `targets` by exact identity (as
    /// [`DeadLetter::redrive`]), up to 32 at a time.
    ///
    /// At least once: a letter is removed only once delivered, so a crash in between
    /// redrives it again next time (the receiver's dedupe, by signal id, drops it).
    /// One that fails again is stored anew with its new failure, then the old one is
    /// removed; one that matches none of `targets` stays.
    ///
    /// # Errors
    ///
    /// As [`list`](Self::list); failures of single letters are counted in the report.
    pub async fn redrive(
        &self,
        filter: &LetterFilter,
        dispatcher: &Addr<Dispatcher>,
        targets: &[Target],
    ) -> Result<RedriveReport, NatsError> {
        let letters = self.list(filter).await?;
        let stream = self.stream().await?;
        let redrives = futures_util::stream::iter(letters)
            .map(|stored| self.redrive_one(stored, &stream, dispatcher, targets))
            .buffer_unordered(REDRIVES_IN_FLIGHT);
        let mut report = RedriveReport::default();
        let mut ends = std::pin::pin!(redrives);
        while let Some(end) = ends.next().await {
            match end {
                Redriven::Delivered => report.redriven += 1,
                Redriven::Failed => report.failed += 1,
                Redriven::Unmatched => report.unmatched += 1,
            }
        }
        Ok(report)
    }

    async fn redrive_one(
        &self,
        stored: StoredLetter,
        stream: &Stream,
        dispatcher: &Addr<Dispatcher>,
        targets: &[Target],
    ) -> Redriven {
        let letter = &stored.letter;
        let Some(target) = targets.iter().find(|target| letter.failed_at(target)) else {
            return Redriven::Unmatched;
        };
        let Some(dispatch) = letter.redrive(std::slice::from_ref(target)) else {
            return Redriven::Unmatched;
        };
        let error = match dispatcher.send(dispatch).await {
            Ok(Ok(_)) => {
                self.counters.redriven.fetch_add(1, Ordering::Relaxed);
                self.forget(stream, stored.sequence).await;
                return Redriven::Delivered;
            }
            Ok(Err(error)) => error,
            Err(_) => return Redriven::Failed,
        };
        let again = error
            .failures()
            .first()
            .and_then(|failure| DeadLetter::wrap(letter.original(), &failure.error, target).ok());
        if let Some(again) = again
            && self.keep(&again).await.is_ok()
        {
            self.forget(stream, stored.sequence).await;
        }
        Redriven::Failed
    }

    /// Removes a redriven letter; one that stays is redriven again next time.
    async fn forget(&self, stream: &Stream, sequence: u64) {
        if let Err(error) = delete(stream, sequence).await {
            tracing::warn!(target: "herald::nats", store = self.stream, sequence, %error, "a redriven dead letter could not be removed");
        }
    }
}

/// How one redrive ended.
enum Redriven {
    Delivered,
    Failed,
    Unmatched,
}

async fn delete(stream: &Stream, sequence: u64) -> Result<bool, NatsError> {
    match stream.delete_message(sequence).await {
        Ok(deleted) => Ok(deleted),
        // The server answers "no message found" as an error.
        Err(error) if error.to_string().contains("no message found") => Ok(false),
        Err(error) => Err(NatsError::JetStream(error.to_string())),
    }
}

/// `text` when it is one subject token of letters, digits, `-` and `_`.
fn token(text: &str) -> Option<&str> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    (!text.is_empty() && text.len() <= 64 && text.chars().all(valid)).then_some(text)
}

/// The actor behind [`DeadLetterStore::target`].
struct Sink(DeadLetterStore);

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Sink {
    type Result = ResponseFuture<Result<(), Rejection>>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let store = self.0.clone();
        Box::pin(async move { store.keep(message.signal()).await })
    }
}
