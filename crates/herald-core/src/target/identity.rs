//! A target's exact identity: every field that changes where or how it is delivered,
//! secrets included, as a stable fingerprint that shows none of them.

use std::fmt;
use std::hash::Hasher;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// A target's identity: the first 128 bits of a SHA-256 over its adapter and every
/// field of its options ([`TargetOptions::identity`](crate::TargetOptions::identity)),
/// secrets included. Two targets that differ in any field — a URL's query, a header, a
/// secret — have different fingerprints; the same target has the same one in every
/// process and release that writes its fields the same way.
///
/// It stands in for a target where one must be recognised again — a dead letter's
/// original target at redrive, a dedupe window — and is safe to store and show: it
/// cannot be turned back into the fields (a secret with little entropy could be
/// guessed by trying, as from any hash; keep such secrets out of reach of whoever sees
/// dead letters).
///
/// ```
/// use herald_core::Target;
///
/// let a: Target = Target::http("https://example.com/hook?tenant=a")?.into();
/// let b: Target = Target::http("https://example.com/hook?tenant=b")?.into();
/// assert_eq!(a.describe().to_string(), b.describe().to_string());
/// assert_ne!(a.fingerprint(), b.fingerprint());
/// assert_eq!(a.fingerprint().to_string().len(), 32);
/// # Ok::<(), herald_core::TargetError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 16]);

impl Fingerprint {
    /// The fingerprint of what `feed` writes.
    pub(crate) fn of(feed: impl FnOnce(&mut dyn Hasher)) -> Self {
        let mut hasher = Sha(Sha256::new());
        feed(&mut hasher);
        let digest = hasher.0.finalize();
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(bytes)
    }

    /// Writes one field of a target's identity into `state`, its length first, for
    /// [`TargetOptions::identity`](crate::TargetOptions::identity): fields written this
    /// way cannot run into each other.
    pub fn field(state: &mut dyn Hasher, bytes: &[u8]) {
        write_field(state, bytes);
    }

    /// Reads a fingerprint from its 32 hex digits; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 32 {
            return None;
        }
        let mut bytes = [0; 16];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A `Hasher` that feeds SHA-256; `finish` is unused (the digest is read whole).
struct Sha(Sha256);

impl Hasher for Sha {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Writes `bytes` with their length first, so that fields cannot run into each other
/// (`ab` + `c` is not `a` + `bc`).
pub(crate) fn write_field(state: &mut dyn Hasher, bytes: &[u8]) {
    state.write(&(bytes.len() as u64).to_le_bytes());
    state.write(bytes);
}

/// A raw config's identity: its JSON text (object keys in the order serde_json keeps).
pub(crate) fn write_config(state: &mut dyn Hasher, config: &Value) {
    write_field(state, config.to_string().as_bytes());
}

/// Feeds formatted text to a hasher.
pub(crate) struct HashWriter<'a>(pub(crate) &'a mut dyn Hasher);

impl fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.0.write(text.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_run_into_each_other_and_text_round_trips() {
        let a = Fingerprint::of(|h| {
            write_field(h, b"ab");
            write_field(h, b"c");
        });
        let b = Fingerprint::of(|h| {
            write_field(h, b"a");
            write_field(h, b"bc");
        });
        assert_ne!(a, b);
        assert_eq!(Fingerprint::parse(&a.to_string()), Some(a));
        assert_eq!(Fingerprint::parse("zz"), None);
        assert_eq!(Fingerprint::parse(&"g".repeat(32)), None);
    }
}
