//! A pool arbiter that goes away under an adapter: its deliveries are reported as
//! `AdapterStopped`, every target is accounted for, and the pool starts a fresh
//! arbiter in its place for the batches after (at most once a second per place).

mod support;

use std::time::Duration;

use herald_core::{
    Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, Outcome, Placement, Target, TargetOptions,
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
        .adapter("healthy", || Healthy)
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

    // The pool's only arbiter was lost: a later batch starts a fresh one, and the
    // adapters on it deliver again. (The batches sent while the old arbiter is still
    // shutting down may find its actor there, and fail: counted, not waited for.)
    let mut tries = 0;
    loop {
        tries += 1;
        let healthy = [Target::new("healthy", Fine), Target::new("healthy", Fine)];
        match within("after", dispatcher.send(Dispatch::new(signal(), healthy)))
            .await
            .unwrap()
        {
            Ok(report) => {
                assert_eq!(report.outcomes(), [Outcome::Delivered, Outcome::Delivered]);
                break;
            }
            Err(error) => {
                assert!(matches!(
                    error.first().error.kind(),
                    ErrorKind::AdapterStopped
                ));
                assert!(tries < 100, "the pool never replaced its lost arbiter");
                actix_rt::task::yield_now().await;
            }
        }
    }

    // Lost again: reported. (A place is replaced at most once a second: the unit test
    // of `delivery::arbiters` checks that rule, which this test cannot without a clock.)
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

/// A pool adapter that delivers.
struct Healthy;

#[derive(Debug)]
struct Fine;
impl TargetOptions for Fine {}

impl Adapter for Healthy {
    type Options = Fine;
    const PLACEMENT: Placement = Placement::Pool;

    async fn deliver(&self, _: Delivery<'_, Fine>) -> Result<Outcome, ErrorKind> {
        Ok(Outcome::Delivered)
    }
}
