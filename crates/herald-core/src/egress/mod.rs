//! Where network targets may connect: an egress policy against server-side request
//! forgery (SSRF).
//!
//! Targets read from data ([`Target::from_config`](crate::Target::from_config)) may come
//! from an application's tenants. By default they reach **public unicast addresses
//! only**: loopback, private, link-local, unique-local, carrier-grade NAT, multicast,
//! broadcast, unspecified, documentation and benchmarking ranges are refused, as are
//! their IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms, `localhost` names and the
//! cloud metadata services' names and addresses. The application widens a policy
//! explicitly ([`allow`](Egress::allow), [`allow_host`](Egress::allow_host),
//! [`allow_private`](Egress::allow_private)).
//!
//! A policy is checked twice: on the literal host when a target is built or read (a
//! [`TargetError`](crate::TargetError) naming the rule, before the first signal), and on
//! every address a host name resolves to, when the connection is made, so that a name
//! that resolves to a refused address — or that changes its answer between the two
//! checks (DNS rebinding) — is refused too
//! ([`ErrorKind::EgressDenied`](crate::ErrorKind::EgressDenied)), and no request is
//! sent. The guide is `docs/SECURITY.md`.
//!
//! ```
//! use herald_core::egress::Egress;
//!
//! let public = Egress::default();
//! assert!(public.check_ip("93.184.215.14".parse().unwrap()).is_ok());
//! let denied = public.check_ip("169.254.169.254".parse().unwrap()).unwrap_err();
//! assert_eq!(denied.to_string(), "169.254.169.254 is a cloud metadata address");
//!
//! let widened = Egress::default().allow("10.1.0.0/16")?;
//! assert!(widened.check_ip("10.1.2.3".parse().unwrap()).is_ok());
//! assert!(widened.check_ip("10.2.0.1".parse().unwrap()).is_err());
//! # Ok::<(), herald_core::egress::EgressError>(())
//! ```

mod ranges;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use ranges::{Refusal, classify};

/// Where a target may connect. Cheap to clone (shared); compared by content.
///
/// [`Egress::default`] is public unicast only; [`Egress::unrestricted`] checks nothing
/// (what targets built in code get, unless they ask for a policy).
#[derive(Clone, PartialEq, Eq)]
pub struct Egress {
    rules: Arc<Rules>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Rules {
    unrestricted: bool,
    private: bool,
    allowed: Vec<IpNet>,
    hosts: Vec<String>,
}

impl Default for Egress {
    /// Public unicast addresses only.
    fn default() -> Self {
        Self::public_only()
    }
}

impl Egress {
    /// Public unicast addresses only (the default).
    pub fn public_only() -> Self {
        Self {
            rules: Arc::new(Rules::default()),
        }
    }

    /// Any address: no check at all. What a target built in code gets by default.
    pub fn unrestricted() -> Self {
        Self {
            rules: Arc::new(Rules {
                unrestricted: true,
                ..Rules::default()
            }),
        }
    }

    /// Also allows `cidr`: a network (`10.1.0.0/16`, `fd12::/16`) or one address
    /// (`127.0.0.2`), whatever range it is in — metadata addresses included, when named.
    ///
    /// # Errors
    ///
    /// Text that is neither a network nor an address.
    pub fn allow(self, cidr: &str) -> Result<Self, EgressError> {
        let net = match cidr.parse::<IpNet>() {
            Ok(net) => net.trunc(),
            Err(_) => cidr
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|_| EgressError::Cidr)?,
        };
        Ok(self.edit(|rules| rules.allowed.push(net)))
    }

    /// Also allows the host name `host` (exactly, case-insensitively), wherever it
    /// resolves: for an application's own internal service. Its addresses are not
    /// checked.
    ///
    /// # Errors
    ///
    /// An empty name, or one with characters a host name cannot have.
    pub fn allow_host(self, host: &str) -> Result<Self, EgressError> {
        let host = normal_name(host);
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(EgressError::Host);
        }
        Ok(self.edit(|rules| rules.hosts.push(host)))
    }

    /// Also allows the private ranges: 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT)
    /// and fc00::/7 (unique-local). Loopback, link-local and the metadata addresses
    /// stay refused (allow them by [`allow`](Self::allow)).
    pub fn allow_private(self) -> Self {
        self.edit(|rules| rules.private = true)
    }

    fn edit(self, change: impl FnOnce(&mut Rules)) -> Self {
        let mut rules = Arc::unwrap_or_clone(self.rules);
        change(&mut rules);
        Self {
            rules: Arc::new(rules),
        }
    }

    /// Whether this policy checks nothing.
    pub fn is_unrestricted(&self) -> bool {
        self.rules.unrestricted
    }

    /// Whether the host name `name` is allowed as it is, wherever it resolves.
    pub(crate) fn trusts_name(&self, name: &str) -> bool {
        self.rules.unrestricted || self.rules.hosts.iter().any(|h| *h == normal_name(name))
    }

    /// Checks an address a target would connect to.
    ///
    /// # Errors
    ///
    /// The rule that refuses it.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Denied> {
        if self.rules.unrestricted || self.rules.allowed.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        match classify(ip) {
            None => Ok(()),
            Some(Refusal::Private) if self.rules.private => Ok(()),
            Some(refusal) => Err(Denied::address(ip, refusal)),
        }
    }

    /// Checks a host name before it is resolved: `localhost` and its subdomains, and
    /// the cloud metadata services' names, are refused (unless allowed by name). The
    /// addresses it resolves to are checked when connecting.
    ///
    /// # Errors
    ///
    /// The rule that refuses it.
    pub fn check_name(&self, name: &str) -> Result<(), Denied> {
        if self.trusts_name(name) {
            return Ok(());
        }
        let name = normal_name(name);
        if let Ok(ip) = name.parse::<IpAddr>() {
            return self.check_ip(ip);
        }
        if name == "localhost" || name.ends_with(".localhost") || name == "localhost.localdomain" {
            return Err(Denied::name(name, "names the local host"));
        }
        if ranges::METADATA_NAMES.contains(&name.as_str()) {
            return Err(Denied::name(name, "is a cloud metadata service"));
        }
        Ok(())
    }

    /// Checks a URL's host as the URL parser left it (numeric forms such as
    /// `2130706433`, `0x7f000001` or `127.1` are already addresses there).
    ///
    /// # Errors
    ///
    /// The rule that refuses it.
    pub fn check_host(&self, host: &url::Host<&str>) -> Result<(), Denied> {
        match host {
            url::Host::Ipv4(ip) => self.check_ip(IpAddr::V4(*ip)),
            url::Host::Ipv6(ip) => self.check_ip(IpAddr::V6(*ip)),
            url::Host::Domain(name) => self.check_name(name),
        }
    }
}

/// Lower case, without a trailing dot (`LOCALHOST.` is `localhost`) or brackets.
fn normal_name(name: &str) -> String {
    name.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

impl fmt::Debug for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.unrestricted {
            return f.write_str("Egress::unrestricted");
        }
        f.debug_struct("Egress")
            .field("private", &self.rules.private)
            .field("allowed", &self.rules.allowed)
            .field("hosts", &self.rules.hosts)
            .finish()
    }
}

/// Why an egress policy refused a host or an address. Its message names the rule; for
/// an address reached through a host name it says so without the address (which would
/// tell a tenant what an internal name resolves to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    subject: Subject,
    rule: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    Address(IpAddr),
    Name(String),
    Resolved(String),
}

impl Denied {
    fn address(ip: IpAddr, refusal: Refusal) -> Self {
        Self {
            subject: Subject::Address(ip),
            rule: refusal.rule(),
        }
    }

    fn name(name: String, rule: &'static str) -> Self {
        Self {
            subject: Subject::Name(name),
            rule,
        }
    }

    /// The same refusal for an address that the name `host` resolved to, for a
    /// connector's error: the address is not shown.
    pub fn resolved(self, host: &str) -> Self {
        Self {
            subject: Subject::Resolved(normal_name(host)),
            rule: self.rule,
        }
    }

    /// The rule, e.g. `a loopback address`.
    pub fn rule(&self) -> &'static str {
        self.rule
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = self.rule;
        match &self.subject {
            Subject::Address(ip) => write!(f, "{ip} is {rule}"),
            Subject::Name(name) => write!(f, "{name} {rule}"),
            Subject::Resolved(name) => write!(f, "{name} resolves to {rule}"),
        }
    }
}

impl std::error::Error for Denied {}

/// A policy that could not be widened as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// Not a network (`10.0.0.0/8`) nor an address.
    #[error("not a network (like 10.0.0.0/8) or an address")]
    Cidr,
    /// Not a host name.
    #[error("not a host name")]
    Host,
}

#[cfg(test)]
mod tests;
