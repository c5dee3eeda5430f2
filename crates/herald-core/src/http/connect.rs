//! Connecting under an egress policy: resolve once, check every address, connect only
//! to the checked ones (the URL's host still names the request and TLS's SNI).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use actix_service::Service;
use actix_tls::connect::{ConnectError, ConnectInfo, Connection, ConnectorService};
use futures_util::future::{BoxFuture, LocalBoxFuture};
use http02::Uri;

use crate::egress::{Denied, Egress};

/// Resolves host names for HTTP targets. Herald's own is the system's resolver (on a
/// blocking thread); give another to
/// [`DispatcherBuilder::resolver`](crate::DispatcherBuilder::resolver) (a caching or
/// DNS-over-HTTPS resolver, or a fixed table in tests). Whatever it answers is checked
/// against the target's egress policy before a connection is made.
///
/// ```
/// use std::net::SocketAddr;
/// use futures_util::future::BoxFuture;
/// use herald_core::http::Resolve;
///
/// /// Every name is 127.0.0.1.
/// struct Fixed;
/// impl Resolve for Fixed {
///     fn resolve<'a>(&'a self, _host: &'a str, port: u16)
///         -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
///         Box::pin(async move { Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]) })
///     }
/// }
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host` (a name, never an address literal), at `port`.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>>;
}

/// The system's resolver (`getaddrinfo`), on a blocking thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            let lookup = tokio::task::spawn_blocking(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                    .map(Iterator::collect)
            });
            lookup.await.map_err(io::Error::other)?
        })
    }
}

/// An egress refusal at connect time, carried through awc's connect error.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) Denied);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Refused {}

/// awc's TCP connector under `policy`, resolving with `resolver`.
#[derive(Clone)]
pub(crate) struct Guarded {
    policy: Egress,
    resolver: Arc<dyn Resolve>,
    tcp: ConnectorService,
}

impl Guarded {
    pub(crate) fn new(policy: Egress, resolver: Arc<dyn Resolve>) -> Self {
        Self {
            policy,
            resolver,
            tcp: ConnectorService::default(),
        }
    }
}

type Connected = Connection<Uri, actix_rt::net::TcpStream>;

impl Service<ConnectInfo<Uri>> for Guarded {
    type Response = Connected;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Connected, ConnectError>>;

    actix_service::always_ready!();

    fn call(&self, request: ConnectInfo<Uri>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let addresses = this.addresses(&request).await?;
            this.tcp.call(request.set_addrs(addresses)).await
        })
    }
}

impl Guarded {
    /// The checked addresses to connect to: the literal address, or every address the
    /// name resolves to — all refused when any one is.
    async fn addresses(&self, request: &ConnectInfo<Uri>) -> Result<Vec<SocketAddr>, ConnectError> {
        let host = request
            .hostname()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = request.port();
        let refuse = |denied: Denied| ConnectError::Resolver(Box::new(Refused(denied)));
        if let Ok(ip) = host.parse::<IpAddr>() {
            self.policy.check_ip(ip).map_err(refuse)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        self.policy.check_name(host).map_err(refuse)?;
        let addresses = self
            .resolver
            .resolve(host, port)
            .await
            .map_err(|error| ConnectError::Resolver(Box::new(error)))?;
        if addresses.is_empty() {
            return Err(ConnectError::NoRecords);
        }
        if !self.policy.trusts_name(host) {
            for address in &addresses {
                self.policy
                    .check_ip(address.ip())
                    .map_err(|denied| refuse(denied.resolved(host)))?;
            }
        }
        Ok(addresses)
    }
}
