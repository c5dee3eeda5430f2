//! Time: clock arithmetic that never overflows, whatever duration a caller passes, and
//! the timer that sync mailbox calls on one thread share.

mod shared;

use std::time::Duration;

use tokio::time::Instant;

pub(crate) use shared::within;

/// About 30 years: "never" for a deadline, and still far from overflowing an `Instant`.
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The instant `budget` from now, or about 30 years from now when `budget` is longer.
pub(crate) fn deadline_after(budget: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(budget.min(FAR)).unwrap_or(now)
}
