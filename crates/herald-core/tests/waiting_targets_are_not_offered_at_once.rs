//! A local adapter's targets are offered a delivery at once (`Adapter::deliver_now`)
//! once each, unless their options say every delivery waits (`TargetOptions::waits`):
//! then they go straight to `Adapter::deliver`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use herald_core::{
    Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, Outcome, Placement, Target, TargetOptions,
};
use support::{signal, within};

/// Counts the offers at once (all declined) and the deliveries made.
#[derive(Default)]
struct Counts {
    offered: AtomicUsize,
    delivered: AtomicUsize,
}

struct Declining(Arc<Counts>);

/// Options that say whether every delivery waits.
#[derive(Debug)]
struct Waits(bool);

impl TargetOptions for Waits {
    fn waits(&self) -> bool {
        self.0
    }
}

impl Adapter for Declining {
    type Options = Waits;
    const PLACEMENT: Placement = Placement::Local;

    fn deliver_now(&self, _: Delivery<'_, Waits>) -> Option<Result<Outcome, ErrorKind>> {
        self.0.offered.fetch_add(1, Ordering::SeqCst);
        None
    }

    async fn deliver(&self, _: Delivery<'_, Waits>) -> Result<Outcome, ErrorKind> {
        self.0.delivered.fetch_add(1, Ordering::SeqCst);
        Ok(Outcome::Delivered)
    }
}

/// Dispatches three targets whose options answer `waits`; returns (offered, delivered).
async fn three_targets(waits: bool) -> (usize, usize) {
    let counts = Arc::new(Counts::default());
    let shared = Arc::clone(&counts);
    let dispatcher = Dispatcher::builder()
        .adapter("declining", move || Declining(Arc::clone(&shared)))
        .start();
    let targets = (0..3).map(|_| Target::new("declining", Waits(waits)));
    let report = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), targets)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.len(), 3);
    (
        counts.offered.load(Ordering::SeqCst),
        counts.delivered.load(Ordering::SeqCst),
    )
}

#[actix_rt::test]
async fn each_target_is_offered_once_then_delivered() {
    assert_eq!(three_targets(false).await, (3, 3));
}

#[actix_rt::test]
async fn targets_that_wait_are_never_offered() {
    assert_eq!(three_targets(true).await, (0, 3));
}
