//! Named actors: the registry the `named` adapter resolves names through.

use std::fmt;
use std::sync::Arc;

use actix::Recipient;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use thiserror::Error;

use crate::text::is_hidden;
use crate::{ActorId, SignalMessage};

/// The longest name a registry accepts, in bytes.
pub(crate) const MAX_NAME_LEN: usize = 255;

/// Why a registry refused a name or could not resolve one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name is empty, too long, or has whitespace, control or invisible format
    /// characters.
    #[error("invalid actor name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The name belongs to a live actor; use [`Registry::replace`] to take it over.
    #[error("actor name `{name}` is already registered")]
    AlreadyRegistered {
        /// The name.
        name: String,
    },
    /// No actor is registered under the name.
    #[error("no actor is registered as `{name}`")]
    NotFound {
        /// The name.
        name: String,
    },
    /// The actor registered under the name has stopped; the entry was removed.
    #[error("the actor registered as `{name}` is not alive")]
    NotAlive {
        /// The name.
        name: String,
    },
}

/// Checks a registry name: non-empty, at most `MAX_NAME_LEN` bytes, no whitespace, no
/// control (`Cc`) or invisible format (`Cf`) characters, so two names that look the
/// same are the same.
pub(crate) fn validate_name(name: &str) -> Result<(), RegistryError> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.len() > MAX_NAME_LEN {
        "must be at most 255 bytes"
    } else if name.chars().any(|c| is_hidden(c) || c.is_whitespace()) {
        "must not contain whitespace, control or invisible format characters"
    } else {
        return Ok(());
    };
    Err(RegistryError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

#[derive(Clone)]
struct Registered {
    actor: ActorId,
    /// One sender per name, shared by every delivery: actix bounds a mailbox per sender,
    /// so this is what lets a `named` delivery see (and wait on) a full mailbox.
    recipient: Arc<Recipient<SignalMessage>>,
}

impl Registered {
    fn new(recipient: Recipient<SignalMessage>) -> Self {
        Self {
            actor: ActorId::of_recipient(&recipient),
            recipient: Arc::new(recipient),
        }
    }

    /// The live recipient, if the actor has not stopped.
    fn live(&self) -> Option<&Arc<Recipient<SignalMessage>>> {
        Some(&self.recipient).filter(|recipient| recipient.connected())
    }
}

/// Actors by name, for `named` targets. Cheap to clone: clones share one table.
///
/// An entry holds the actor's address, as actix's own registry does: a registered
/// actor stays reachable until it stops itself (`ctx.stop()`), is unregistered, or its
/// name is replaced. An actor that stopped is reported as [`RegistryError::NotAlive`]
/// once and removed. Every delivery to a name goes through the one sender held here,
/// so a full mailbox is seen and waited on (see [`Mode`](crate::Mode)).
///
/// Registering a name that a live actor holds is an error
/// ([`RegistryError::AlreadyRegistered`]); [`Registry::replace`] takes a name over on
/// purpose. A name whose actor stopped can be registered again.
///
/// ```
/// use actix::prelude::*;
/// use herald_core::{Registry, Rejection, SignalMessage};
///
/// struct Audit { registry: Registry }
///
/// impl Actor for Audit {
///     type Context = Context<Self>;
///     fn started(&mut self, ctx: &mut Context<Self>) {
///         self.registry.register("audit", ctx.address().recipient()).expect("name is free");
///     }
/// }
/// # impl Handler<SignalMessage> for Audit {
/// #     type Result = Result<(), Rejection>;
/// #     fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result { Ok(()) }
/// # }
/// # actix::System::new().block_on(async {
/// let registry = Registry::new();
/// let _audit = Audit { registry: registry.clone() }.start();
/// # tokio::task::yield_now().await;
/// assert!(registry.lookup("audit").is_ok());
/// # });
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    entries: Arc<DashMap<String, Registered>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `recipient` under `name`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`], or [`RegistryError::AlreadyRegistered`] when a live
    /// actor holds the name.
    pub fn register(
        &self,
        name: impl Into<String>,
        recipient: Recipient<SignalMessage>,
    ) -> Result<(), RegistryError> {
        let name = name.into();
        validate_name(&name)?;
        match self.entries.entry(name) {
            Entry::Occupied(mut occupied) => {
                if occupied.get().live().is_some() {
                    return Err(RegistryError::AlreadyRegistered {
                        name: occupied.key().clone(),
                    });
                }
                occupied.insert(Registered::new(recipient));
            }
            Entry::Vacant(vacant) => {
                vacant.insert(Registered::new(recipient));
            }
        }
        Ok(())
    }

    /// Registers `recipient` under `name`, replacing whoever held it. Returns whether
    /// a live actor was replaced.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`].
    pub fn replace(
        &self,
        name: impl Into<String>,
        recipient: Recipient<SignalMessage>,
    ) -> Result<bool, RegistryError> {
        let name = name.into();
        validate_name(&name)?;
        let previous = self.entries.insert(name, Registered::new(recipient));
        Ok(previous.is_some_and(|entry| entry.live().is_some()))
    }

    /// Removes `name`. Returns whether it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        self.entries.remove(name).is_some()
    }

    /// Removes `name` only if `actor` holds it (for an actor unregistering itself in
    /// `stopped`). Returns whether it was removed.
    pub fn unregister_actor(&self, name: &str, actor: ActorId) -> bool {
        self.entries
            .remove_if(name, |_, entry| entry.actor == actor)
            .is_some()
    }

    /// The live actor registered under `name`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`], or [`RegistryError::NotAlive`] (and the entry is
    /// removed) when its actor stopped.
    pub fn lookup(&self, name: &str) -> Result<Recipient<SignalMessage>, RegistryError> {
        self.resolve(name).map(|recipient| (*recipient).clone())
    }

    /// The shared sender of the live actor registered under `name`.
    pub(crate) fn resolve(
        &self,
        name: &str,
    ) -> Result<Arc<Recipient<SignalMessage>>, RegistryError> {
        let live = match self.entries.get(name) {
            None => {
                return Err(RegistryError::NotFound {
                    name: name.to_owned(),
                });
            }
            Some(entry) => entry.live().cloned(),
        };
        live.ok_or_else(|| {
            self.entries
                .remove_if(name, |_, entry| entry.live().is_none());
            RegistryError::NotAlive {
                name: name.to_owned(),
            }
        })
    }

    /// The names of live actors, sorted. Entries of stopped actors are removed.
    pub fn names(&self) -> Vec<String> {
        self.entries.retain(|_, entry| entry.live().is_some());
        let mut names: Vec<String> = self.entries.iter().map(|e| e.key().clone()).collect();
        names.sort();
        names
    }

    /// How many names are registered (stopped actors included until pruned).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no name is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("names", &self.entries.len())
            .finish()
    }
}
