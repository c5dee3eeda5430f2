//! A pool arbiter that goes away under an adapter: its deliveries are reported as
//! `AdapterStopped`, every target is accounted for, and later dispatches fail at once
//! instead of hanging.

mod support;

use std::time::Duration;

use herald_core::{
    Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, Outcome, Target, TargetOptions,
};
use support::{dispatch, signal, within};

/// Stops the arbiter it runs on, then waits forever.
struct Saboteur;

#[derive(Debug)]
struct Stop;
impl TargetOptions for Stop {}

impl Adapter for Saboteur {
    type Options = Stop;

    async fn deliver(&self, _: Delivery<'_, Stop>) -> Result<Outcome, ErrorKind> {
        actix::Arbiter::current().stop();
        std::future::pending().await
    }
}

#[actix_rt::test]
async fn deliveries_on_a_lost_arbiter_report_adapter_stopped() {
    let dispatcher = Dispatcher::builder()
        .pool_size(1)
        .delivery_timeout(Duration::from_secs(3600))
        .adapter("saboteur", || Saboteur)
        .start();
    let targets = [
        Target::noop(),
        Target::new("saboteur", Stop),
        Target::noop(),
    ];
    let error = dispatch(&dispatcher, targets).await.unwrap_err();
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.first().index, 1);
    assert!(
        matches!(error.first().error.kind(), ErrorKind::AdapterStopped),
        "{}",
        error.first().error
    );
    assert_eq!(error.delivered().len(), 2);

    // The pool's only arbiter is gone: the next delivery fails at once, reported.
    let again = [Target::new("saboteur", Stop)];
    let error = within("again", dispatcher.send(Dispatch::new(signal(), again)))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        error.first().error.kind(),
        ErrorKind::AdapterStopped
    ));
}
