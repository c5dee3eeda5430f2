//! Connecting to NATS: the options a deployment needs, secrets kept out of `Debug`,
//! connection changes reported in telemetry.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// No server URL was given, or one is not a NATS URL.
    #[error("invalid NATS server address: {0}")]
    Address(String),
    /// The credentials could not be read.
    #[error("NATS credentials could not be read: {0}")]
    Credentials(String),
    /// No server took the connection.
    #[error("could not connect to NATS: {0}")]
    Connect(String),
    /// A JetStream stream or consumer could not be made or read.
    #[error("JetStream: {0}")]
    JetStream(String),
    /// A subscription could not be made.
    #[error("could not subscribe: {0}")]
    Subscribe(String),
}

/// How to authenticate.
#[derive(Clone, Default)]
enum Auth {
    #[default]
    None,
    Token(String),
    UserPassword(String, String),
    Nkey(String),
    Credentials(String),
}

/// How to reach NATS: servers, a connection name, credentials, TLS, reconnects.
///
/// Secrets (token, password, nkey seed, credentials) never appear in `Debug`, logs or
/// errors.
///
/// ```
/// use std::time::Duration;
/// use herald_nats::NatsOptions;
///
/// let options = NatsOptions::new(["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"])
///     .name("orders-node-1")
///     .token("s3cr3t")
///     .max_reconnects(None)
///     .connection_timeout(Duration::from_secs(5));
/// assert!(!format!("{options:?}").contains("s3cr3t"));
/// ```
#[derive(Clone)]
pub struct NatsOptions {
    servers: Vec<String>,
    name: Option<String>,
    auth: Auth,
    require_tls: bool,
    root_certificates: Option<PathBuf>,
    max_reconnects: Option<usize>,
    connection_timeout: Duration,
}

impl NatsOptions {
    /// Options for the servers at `servers` (`nats://host:port`, `tls://host:port` or
    /// `host:port`); the client moves between them when one fails.
    pub fn new<S: Into<String>>(servers: impl IntoIterator<Item = S>) -> Self {
        Self {
            servers: servers.into_iter().map(Into::into).collect(),
            name: None,
            auth: Auth::None,
            require_tls: false,
            root_certificates: None,
            max_reconnects: None,
            connection_timeout: Duration::from_secs(5),
        }
    }

    /// Names the connection (shown by the server's monitoring).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Authenticates with a token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Token(token.into());
        self
    }

    /// Authenticates with a user and password.
    #[must_use]
    pub fn user_and_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.auth = Auth::UserPassword(user.into(), password.into());
        self
    }

    /// Authenticates with an nkey seed.
    #[must_use]
    pub fn nkey(mut self, seed: impl Into<String>) -> Self {
        self.auth = Auth::Nkey(seed.into());
        self
    }

    /// Authenticates with the contents of a `.creds` file (JWT and nkey seed).
    #[must_use]
    pub fn credentials(mut self, creds: impl Into<String>) -> Self {
        self.auth = Auth::Credentials(creds.into());
        self
    }

    /// Requires TLS (certificates verified against the bundled roots, plus
    /// [`root_certificates`](Self::root_certificates)). Default is what the server
    /// asks for.
    #[must_use]
    pub fn require_tls(mut self, required: bool) -> Self {
        self.require_tls = required;
        self
    }

    /// Trusts the CA certificates in the PEM file at `path` too.
    #[must_use]
    pub fn root_certificates(mut self, path: impl Into<PathBuf>) -> Self {
        self.root_certificates = Some(path.into());
        self
    }

    /// Gives up after this many failed reconnects in a row; `None` (the default) never
    /// gives up.
    #[must_use]
    pub fn max_reconnects(mut self, max: Option<usize>) -> Self {
        self.max_reconnects = max;
        self
    }

    /// Bounds each connection attempt. Default is 5 seconds.
    #[must_use]
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Connects. Connection changes (connected, disconnected, errors from the server)
    /// become `tracing` events on target `herald::nats`; the client reconnects on its
    /// own.
    ///
    /// # Errors
    ///
    /// No server given, unreadable credentials, or no server reachable.
    pub async fn connect(self) -> Result<Client, NatsError> {
        if self.servers.is_empty() {
            return Err(NatsError::Address("no server given".to_owned()));
        }
        let addresses = self
            .servers
            .iter()
            .map(|server| {
                server
                    .parse::<async_nats::ServerAddr>()
                    .map_err(|_| NatsError::Address(redact_url(server)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut options = match self.auth {
            Auth::None => ConnectOptions::new(),
            Auth::Token(token) => ConnectOptions::with_token(token),
            Auth::UserPassword(user, password) => {
                ConnectOptions::with_user_and_password(user, password)
            }
            Auth::Nkey(seed) => ConnectOptions::with_nkey(seed),
            Auth::Credentials(creds) => ConnectOptions::with_credentials(&creds)
                .map_err(|_| NatsError::Credentials("not a valid .creds file".to_owned()))?,
        };
        if let Some(name) = &self.name {
            options = options.name(name);
        }
        if let Some(path) = self.root_certificates {
            options = options.add_root_certificates(path);
        }
        let name = self.name.unwrap_or_default();
        options = options
            .require_tls(self.require_tls)
            .max_reconnects(self.max_reconnects)
            .connection_timeout(self.connection_timeout)
            .event_callback(move |event| {
                let name = name.clone();
                async move { report(&name, &event) }
            });
        options
            .connect(addresses)
            .await
            .map_err(|error| NatsError::Connect(error.to_string()))
    }
}

/// A connection event, in telemetry.
fn report(name: &str, event: &Event) {
    match event {
        Event::Connected => {
            tracing::info!(target: "herald::nats", connection = name, "nats connected")
        }
        Event::Disconnected => {
            tracing::warn!(target: "herald::nats", connection = name, "nats disconnected")
        }
        Event::Closed => {
            tracing::warn!(target: "herald::nats", connection = name, "nats connection closed")
        }
        other => {
            tracing::warn!(target: "herald::nats", connection = name, event = %other, "nats event")
        }
    }
}

/// A server URL without userinfo, for errors.
fn redact_url(server: &str) -> String {
    match server.split_once('@') {
        Some((scheme_and_user, host)) => {
            let scheme = scheme_and_user.split("://").next().unwrap_or_default();
            format!("{scheme}://[REDACTED]@{host}")
        }
        None => server.to_owned(),
    }
}

impl fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            Auth::None => "none",
            Auth::Token(_) => "token [REDACTED]",
            Auth::UserPassword(..) => "user and password [REDACTED]",
            Auth::Nkey(_) => "nkey [REDACTED]",
            Auth::Credentials(_) => "credentials [REDACTED]",
        };
        let servers: Vec<String> = self.servers.iter().map(|s| redact_url(s)).collect();
        f.debug_struct("NatsOptions")
            .field("servers", &servers)
            .field("name", &self.name)
            .field("auth", &auth)
            .field("require_tls", &self.require_tls)
            .field("root_certificates", &self.root_certificates)
            .field("max_reconnects", &self.max_reconnects)
            .field("connection_timeout", &self.connection_timeout)
            .finish()
    }
}
