//! What a dispatcher's HTTP adapters share: the egress policy for the raw configs they
//! read, and the resolver their connections use.

use std::sync::Arc;

use super::Tls;
use super::connect::{Resolve, SystemResolver};
use crate::egress::Egress;

/// The HTTP settings of one dispatcher, given to each of its HTTP adapters.
#[derive(Clone)]
pub(crate) struct HttpSettings {
    /// The policy raw configs (`Target::custom("http", …)`) are read under.
    pub(crate) egress: Egress,
    pub(crate) resolver: Arc<dyn Resolve>,
    /// TLS settings for targets without their own.
    pub(crate) tls: Option<Tls>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            egress: Egress::default(),
            resolver: Arc::new(SystemResolver),
            tls: None,
        }
    }
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("egress", &self.egress)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}
