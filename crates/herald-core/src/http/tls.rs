//! TLS beyond the public roots: a private CA's certificates, and a client certificate
//! for receivers that require mutual TLS. Verification itself can never be turned off.

use std::fmt;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Map, Value};

use crate::{ConfigFields, Secrets, TargetError};

/// Extra trust and a client identity for HTTPS: root certificates trusted beside the
/// bundled Mozilla roots (a corporate or private CA), and a client certificate chain
/// with its private key, presented to receivers that require mutual TLS. Give one to a
/// dispatcher ([`DispatcherBuilder::tls`](crate::DispatcherBuilder::tls)) or a target
/// ([`HttpTarget::tls`](super::HttpTarget::tls)); a target's wins.
///
/// Certificates are checked as ever: there is no option to skip verification. `Debug`
/// shows how many certificates there are, never the key.
///
/// ```
/// use herald_core::http::Tls;
///
/// let error = Tls::new().root_certificates_pem("not pem").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "field `tls.root_certificates` must hold one or more PEM certificates"
/// );
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Tls {
    inner: Arc<Inner>,
}

#[derive(PartialEq, Eq, Default)]
struct Inner {
    roots_pem: String,
    roots: Vec<CertificateDer<'static>>,
    identity: Option<Identity>,
}

#[derive(PartialEq, Eq)]
struct Identity {
    chain_pem: String,
    key_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Tls {
    /// Nothing beyond the bundled roots, and no client certificate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also trusts the certificates in `pem` (one or more `CERTIFICATE` blocks).
    ///
    /// # Errors
    ///
    /// Text with no certificate in it, or a malformed one.
    pub fn root_certificates_pem(self, pem: &str) -> Result<Self, TargetError> {
        let certificates = certificates("tls.root_certificates", pem)?;
        let mut inner = self.take();
        inner.roots_pem.push_str(pem);
        inner.roots.extend(certificates);
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Presents the certificate chain in `chain_pem` (leaf first), proven with the
    /// private key in `key_pem` (PKCS#8, PKCS#1 or SEC1), to receivers that ask.
    ///
    /// # Errors
    ///
    /// A chain or key that is not PEM (the error never repeats the key).
    pub fn client_identity_pem(self, chain_pem: &str, key_pem: &str) -> Result<Self, TargetError> {
        let chain = certificates("tls.client_certificate", chain_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| {
            TargetError::invalid_field("tls.client_key", "must hold a PEM private key")
        })?;
        let mut inner = self.take();
        inner.identity = Some(Identity {
            chain_pem: chain_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            chain,
            key,
        });
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    fn take(self) -> Inner {
        Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            roots_pem: shared.roots_pem.clone(),
            roots: shared.roots.clone(),
            identity: shared.identity.as_ref().map(|identity| Identity {
                chain_pem: identity.chain_pem.clone(),
                key_pem: identity.key_pem.clone(),
                chain: identity.chain.clone(),
                key: identity.key.clone_key(),
            }),
        })
    }

    /// The extra root certificates.
    pub fn roots(&self) -> &[CertificateDer<'static>] {
        &self.inner.roots
    }

    /// The client certificate chain and key, if any.
    pub fn client_identity(&self) -> Option<(&[CertificateDer<'static>], &PrivateKeyDer<'static>)> {
        self.inner
            .identity
            .as_ref()
            .map(|identity| (identity.chain.as_slice(), &identity.key))
    }

    /// Writes what changes how a target connects, for its identity.
    pub(crate) fn identity(&self, state: &mut dyn std::hash::Hasher) {
        crate::Fingerprint::field(state, self.inner.roots_pem.as_bytes());
        if let Some(identity) = &self.inner.identity {
            crate::Fingerprint::field(state, identity.chain_pem.as_bytes());
            crate::Fingerprint::field(state, identity.key_pem.as_bytes());
        }
    }

    /// Reads `{"root_certificates": PEM, "client_certificate": PEM, "client_key": PEM}`.
    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let mut tls = Self::new();
        if let Some(roots) = fields.string("root_certificates")? {
            tls = tls.root_certificates_pem(&roots)?;
        }
        match (
            fields.string("client_certificate")?,
            fields.string("client_key")?,
        ) {
            (Some(chain), Some(key)) => tls = tls.client_identity_pem(&chain, &key)?,
            (None, None) => {}
            (Some(_), None) => {
                return Err(fields.invalid("client_key", "is needed with client_certificate"));
            }
            (None, Some(_)) => {
                return Err(fields.invalid("client_certificate", "is needed with client_key"));
            }
        }
        fields.finish(&["root_certificates", "client_certificate", "client_key"])?;
        Ok(tls)
    }

    /// The settings as data; the key only with [`Secrets::Include`].
    pub(crate) fn to_config(&self, secrets: Secrets) -> Value {
        let mut map = Map::new();
        if !self.inner.roots_pem.is_empty() {
            map.insert(
                "root_certificates".into(),
                self.inner.roots_pem.clone().into(),
            );
        }
        if let Some(identity) = &self.inner.identity {
            map.insert(
                "client_certificate".into(),
                identity.chain_pem.clone().into(),
            );
            map.insert("client_key".into(), secrets.show(&identity.key_pem));
        }
        Value::Object(map)
    }
}

/// The certificates in `pem`: at least one, all well formed.
fn certificates(field: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>, TargetError> {
    let invalid = || TargetError::invalid_field(field, "must hold one or more PEM certificates");
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| invalid())?;
    if certificates.is_empty() {
        return Err(invalid());
    }
    Ok(certificates)
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("roots", &self.inner.roots.len())
            .field(
                "client_certificate",
                &self
                    .inner
                    .identity
                    .as_ref()
                    .map(|identity| identity.chain.len()),
            )
            .finish()
    }
}
