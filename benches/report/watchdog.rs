//! A bound on the report: a scenario that hangs ends the run with its place named,
//! instead of holding the run (and CI) forever.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Far above any scenario's time on a busy machine (the slowest take seconds).
const LIMIT: Duration = Duration::from_secs(600);

/// The last scenario that finished, and when.
static LAST: Mutex<Option<(&'static str, Instant)>> = Mutex::new(None);

/// Starts watching: the process exits (status 3) when no scenario finishes for
/// [`LIMIT`].
pub(crate) fn start() {
    finished("(the start)");
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            let last = *LAST.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((scenario, at)) = last
                && at.elapsed() > LIMIT
            {
                eprintln!(
                    "no scenario finished within {} s of {scenario}: the next one hangs",
                    LIMIT.as_secs()
                );
                std::process::exit(3);
            }
        }
    });
}

/// Notes that `scenario` finished.
pub(crate) fn finished(scenario: &'static str) {
    *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some((scenario, Instant::now()));
}
