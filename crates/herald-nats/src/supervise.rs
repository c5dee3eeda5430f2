//! A NATS client that is replaced when its connection task dies.
//!
//! async-nats runs each client's connection in a task of its own. When that task
//! panics (async-nats 0.46 does on a message whose subject is not UTF-8, which anyone
//! allowed to publish on a subscribed subject can send) or ends for good, every
//! subscription of the client ends and every publish fails, and the client never comes
//! back: reconnection is that task's job. A [`SupervisedClient`] notices (its users
//! ask it when their subscription ends) and connects a new client from the same
//! [`NatsOptions`], with bounded backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::Client;
use async_nats::client::FlushErrorKind;

use crate::connect::{NatsError, NatsOptions};

/// A client made from [`NatsOptions`], replaced when its connection task dies. Give it
/// to [`Bridge::new`](crate::Bridge::new) in place of a [`Client`]: the bridge then
/// subscribes again on the new client. Clones share the client.
///
/// ```no_run
/// # async fn run() -> Result<(), herald_nats::NatsError> {
/// use herald_nats::NatsOptions;
///
/// let supervised = NatsOptions::new(["nats://127.0.0.1:4222"]).connect_supervised().await?;
/// let client = supervised.client(); // the current client
/// # drop(client); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SupervisedClient {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    options: NatsOptions,
    current: Mutex<Client>,
    /// Taken while a replacement is being connected: one at a time.
    replacing: tokio::sync::Mutex<()>,
    replaced: AtomicU64,
    closed: AtomicBool,
}

/// The shortest and longest wait between two attempts to connect a replacement.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

impl NatsOptions {
    /// Connects a [`SupervisedClient`]: as [`connect`](Self::connect), and replaced
    /// from these options if its connection task dies.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn connect_supervised(self) -> Result<SupervisedClient, NatsError> {
        let client = self.clone().connect().await?;
        Ok(SupervisedClient {
            shared: Arc::new(Shared {
                options: self,
                current: Mutex::new(client),
                replacing: tokio::sync::Mutex::new(()),
                replaced: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
        })
    }
}

impl SupervisedClient {
    /// The current client.
    pub fn client(&self) -> Client {
        self.shared
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// How many times the client was replaced.
    pub fn replacements(&self) -> u64 {
        self.shared.replaced.load(Ordering::Relaxed)
    }

    /// Drains the current client and replaces it no more.
    pub async fn close(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        let _ = self.client().drain().await;
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Relaxed)
    }

    /// A client to go on with after `suspect` stopped working (a subscription of its
    /// ended): `suspect` itself when its connection task still runs (a subscription
    /// ended by the server, say), the current client when another user replaced it
    /// already, or a new one, connected with backoff until it connects or the
    /// supervisor is closed (`None`).
    pub(crate) async fn after_loss(&self, suspect: &Client) -> Option<Client> {
        let _one_at_a_time = self.shared.replacing.lock().await;
        if self.is_closed() {
            return None;
        }
        let current = self.client();
        if !same(&current, suspect) || !dead(suspect).await {
            return Some(current);
        }
        tracing::error!(
            target: "herald::nats",
            "the NATS client's connection task died: connecting a new client"
        );
        let mut wait = BACKOFF.0;
        loop {
            match self.shared.options.clone().connect().await {
                Ok(client) => {
                    *self
                        .shared
                        .current
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = client.clone();
                    self.shared.replaced.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(target: "herald::nats", "the NATS client was replaced");
                    return Some(client);
                }
                Err(error) => {
                    tracing::warn!(target: "herald::nats", %error, ?wait, "a replacement NATS client could not connect");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(BACKOFF.1);
                }
            }
            if self.is_closed() {
                return None;
            }
        }
    }
}

/// Whether two handles are the same client (async-nats clients share their channel).
pub(crate) fn same(a: &Client, b: &Client) -> bool {
    // Each client has statistics of its own, shared by its clones.
    Arc::ptr_eq(&a.statistics(), &b.statistics())
}

/// Whether `client`'s connection task is gone: a command can no longer be handed to
/// it, or it dropped the answer (only a task that ends drops one). A task that runs but
/// is disconnected holds the flush until it reconnects, which is not waited for.
async fn dead(client: &Client) -> bool {
    match tokio::time::timeout(Duration::from_secs(1), client.flush()).await {
        Ok(Err(error)) => matches!(
            error.kind(),
            FlushErrorKind::SendError | FlushErrorKind::FlushError
        ),
        Ok(Ok(())) | Err(_) => false,
    }
}

/// The client a bridge or an exposed name subscribes with: a plain [`Client`] (when
/// its connection task dies the subscription stops, reported) or a
/// [`SupervisedClient`] (it subscribes again on the replacement).
#[derive(Debug, Clone)]
pub enum ClientHandle {
    /// A client the application made and keeps.
    Plain(Client),
    /// A client replaced when its connection task dies.
    Supervised(SupervisedClient),
}

impl From<Client> for ClientHandle {
    fn from(client: Client) -> Self {
        Self::Plain(client)
    }
}

impl From<&Client> for ClientHandle {
    fn from(client: &Client) -> Self {
        Self::Plain(client.clone())
    }
}

impl From<SupervisedClient> for ClientHandle {
    fn from(client: SupervisedClient) -> Self {
        Self::Supervised(client)
    }
}

impl ClientHandle {
    /// The client to use now.
    pub fn client(&self) -> Client {
        match self {
            Self::Plain(client) => client.clone(),
            Self::Supervised(supervised) => supervised.client(),
        }
    }

    /// What to go on with after a subscription on `suspect` ended: see
    /// [`SupervisedClient::after_loss`]; a plain client is not replaced (`None`).
    pub(crate) async fn after_loss(&self, suspect: &Client) -> Option<Client> {
        match self {
            Self::Plain(_) => None,
            Self::Supervised(supervised) => supervised.after_loss(suspect).await,
        }
    }
}
