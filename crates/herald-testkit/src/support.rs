//! What every crate's tests need: a bounded wait, and a log writer to read back.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long [`within`] waits.
pub const WITHIN: Duration = Duration::from_secs(60);

/// Awaits `future`, failing the test (naming `what`) if it takes longer than
/// [`WITHIN`] — virtual time on a paused clock, where a hang shows up at once.
///
/// # Panics
///
/// When `future` does not finish in time.
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WITHIN, future)
        .await
        .unwrap_or_else(|_| panic!("did not finish in time: {what}"))
}

/// A `tracing` writer that keeps what it is given, for tests that read the log.
#[derive(Debug, Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<u8>>>);

impl Log {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// A plain-text `fmt` subscriber (at its default level, `INFO`) that writes here.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .finish()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;

    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}
