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
    client_certificate: Option<(PathBuf, PathBuf)>,
    max_reconnects: Option<usize>,
    connection_timeout: Duration,
    subscription_capacity: usize,
}

impl NatsOptions {
    /// The messages a subscription holds unless set: 65,536, async-nats' own. (4,096
    /// lost a quarter of a 10,000-message burst to a bridge on one thread.)
    pub const DEFAULT_SUBSCRIPTION_CAPACITY: usize = 65_536;

    /// Options for the servers at `servers` (`nats://host:port`, `tls://host:port` or
    /// `host:port`); the client moves between them when one fails.
    pub fn new<S: Into<String>>(servers: impl IntoIterator<Item = S>) -> Self {
        Self {
            servers: servers.into_iter().map(Into::into).collect(),
            name: None,
            auth: Auth::None,
            require_tls: false,
            root_certificates: None,
            client_certificate: None,
            max_reconnects: None,
            connection_timeout: Duration::from_secs(5),
            subscription_capacity: Self::DEFAULT_SUBSCRIPTION_CAPACITY,
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

    /// Presents the client certificate (PEM file at `certificate`, leaf first) with its
    /// private key (PEM file at `key`), for servers that require mutual TLS. Debug
    /// shows the paths, never the key.
    #[must_use]
    pub fn client_certificate(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_certificate = Some((certificate.into(), key.into()));
        self
    }

    /// Gives up after this many failed reconnects in a row; `None` (the default) never
    /// gives up.
    #[must_use]
    pub fn max_reconnects(mut self, max: Option<usize>) -> Self {
        self.max_reconnects = max;
        self
    }

    /// How many messages each subscription of the client holds before its reader takes
    /// them (default 65,536, as async-nats). Past it async-nats drops
    /// the message as a slow consumer (a `WARN` on `herald::nats`). A bridge reads its
    /// subscription at once and bounds what it holds in bytes
    /// ([`Bridge::max_pending_bytes`](crate::Bridge::max_pending_bytes)), so this bounds
    /// only a burst between the client's connection task and the bridge: at most this
    /// many messages of up to the server's `max_payload` each.
    #[must_use]
    pub fn subscription_capacity(mut self, messages: usize) -> Self {
        self.subscription_capacity = messages.max(1);
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
        let mut from_urls = None;
        let mut addresses = Vec::with_capacity(self.servers.len());
        for server in &self.servers {
            let (address, auth) = split_userinfo(server)?;
            addresses.push(address);
            from_urls = from_urls.or(auth);
        }
        // Credentials given as options win over those in a URL.
        let auth = match (self.auth, from_urls) {
            (Auth::None, Some(auth)) => auth,
            (auth, _) => auth,
        };
        let mut options = match auth {
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
        if let Some((certificate, key)) = self.client_certificate {
            options = options.add_client_certificate(certificate, key);
        }
        let name = self.name.unwrap_or_default();
        options = options
            .require_tls(self.require_tls)
            .max_reconnects(self.max_reconnects)
            .connection_timeout(self.connection_timeout)
            .subscription_capacity(self.subscription_capacity)
            .event_callback(move |event| {
                let name = name.clone();
                async move { report(&name, &event) }
            });
        options
            .connect(addresses)
            .await
            .map_err(|error| NatsError::Connect(redact_text(&error.to_string(), &self.servers)))
    }
}

/// `text` with any of `servers`' URLs in it redacted.
fn redact_text(text: &str, servers: &[String]) -> String {
    servers.iter().fold(text.to_owned(), |text, server| {
        text.replace(server.as_str(), &redact_url(server))
    })
}

/// The `tracing` directive that keeps async-nats' credential-bearing events out of
/// logs: its `CONNECT` line, written at `TRACE` on target `async_nats::connection`,
/// carries the password, token, nkey and JWT as they are. Add it to any filter that
/// lets `TRACE` through (`RUST_LOG=trace,async_nats::connection=debug`, or
/// `EnvFilter::new(format!("trace,{}", herald_nats::QUIET_CREDENTIALS))`). Herald
/// gives async-nats credentials only as options, never inside a server address, so
/// its address events (at `DEBUG`) hold none.
pub const QUIET_CREDENTIALS: &str = "async_nats::connection=debug";

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

/// A server URL without userinfo, path or query, for errors and `Debug`. It is parsed
/// as a URL (the userinfo ends at the last `@`, so passwords with `@`, `:` or percent
/// escapes are hidden whole); text that is no URL shows only what follows its last `@`.
fn redact_url(server: &str) -> String {
    let with_scheme = if server.contains("://") {
        server.to_owned()
    } else {
        format!("nats://{server}")
    };
    match url::Url::parse(&with_scheme) {
        Ok(url) => {
            let userinfo = !url.username().is_empty() || url.password().is_some();
            let host = url.host_str().unwrap_or_default();
            let port = url
                .port()
                .map(|port| format!(":{port}"))
                .unwrap_or_default();
            let user = if userinfo { "[REDACTED]@" } else { "" };
            format!("{}://{user}{host}{port}", url.scheme())
        }
        Err(_) => match server.rsplit_once('@') {
            Some((_, host)) => format!(
                "[REDACTED]@{}",
                host.split(['/', '?', '#']).next().unwrap_or_default()
            ),
            None => server
                .split(['/', '?', '#'])
                .next()
                .unwrap_or_default()
                .to_owned(),
        },
    }
}

/// A server address without its userinfo, and the user and password it carried
/// (percent-decoded): async-nats logs server addresses at `DEBUG`, so credentials go
/// to it as options, never inside an address.
fn split_userinfo(server: &str) -> Result<(async_nats::ServerAddr, Option<Auth>), NatsError> {
    let invalid = || NatsError::Address(redact_url(server));
    let with_scheme = if server.contains("://") {
        server.to_owned()
    } else {
        format!("nats://{server}")
    };
    let mut url = url::Url::parse(&with_scheme).map_err(|_| invalid())?;
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| invalid())
    };
    let auth = match (url.username(), url.password()) {
        ("", None) => None,
        (token, None) => Some(Auth::Token(decode(token)?)),
        (user, Some(password)) => Some(Auth::UserPassword(decode(user)?, decode(password)?)),
    };
    url.set_username("").map_err(|_| invalid())?;
    url.set_password(None).map_err(|_| invalid())?;
    let address = url.as_str().parse().map_err(|_| invalid())?;
    Ok((address, auth))
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
            .field("client_certificate", &self.client_certificate)
            .field("subscription_capacity", &self.subscription_capacity)
            .field("max_reconnects", &self.max_reconnects)
            .field("connection_timeout", &self.connection_timeout)
            .finish()
    }
}
