//! A panicking adapter fails only its own targets, is restarted, and the dispatcher
//! keeps serving.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use herald_core::{
    Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, Outcome, Placement, Target, TargetOptions,
};
use serde_json::json;
use support::{Probe, dispatch, signal, within};

/// A local adapter whose at-once delivery panics when told to.
struct Brittle;

#[derive(Debug)]
struct Panic(bool);
impl TargetOptions for Panic {}

impl Adapter for Brittle {
    type Options = Panic;
    const PLACEMENT: Placement = Placement::Local;

    fn deliver_now(&self, delivery: Delivery<'_, Panic>) -> Option<Result<Outcome, ErrorKind>> {
        assert!(!delivery.options.0, "brittle told to panic");
        Some(Ok(Outcome::Delivered))
    }

    async fn deliver(&self, _: Delivery<'_, Panic>) -> Result<Outcome, ErrorKind> {
        unreachable!("every delivery is made at once")
    }
}

/// A local adapter's at-once delivery panics: its target fails, the others deliver,
/// the instance is replaced, and the next dispatch succeeds.
#[actix_rt::test]
async fn a_panic_in_an_at_once_delivery_fails_only_its_index() {
    let made = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&made);
    let dispatcher = Dispatcher::builder()
        .telemetry(false)
        .adapter("brittle", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Brittle
        })
        .start();
    let made_before = made.load(Ordering::SeqCst);
    let targets = [
        Target::new("brittle", Panic(false)),
        Target::new("brittle", Panic(true)),
        Target::new("brittle", Panic(false)),
    ];
    let error = dispatch(&dispatcher, targets).await.unwrap_err();
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.first().index, 1);
    assert!(matches!(
        error.first().error.kind(),
        ErrorKind::Panicked { .. }
    ));
    assert_eq!(made.load(Ordering::SeqCst), made_before + 1);
    let again = [Target::new("brittle", Panic(false))];
    within("again", dispatcher.send(Dispatch::new(signal(), again)))
        .await
        .unwrap()
        .unwrap();
}

/// With a pool, the adapter's deliveries run in its actor on another arbiter.
#[actix_rt::test]
async fn on_a_pool_arbiter_a_panic_fails_only_its_index() {
    panic_fails_only_its_index_and_the_next_dispatch_succeeds(1).await;
}

/// Without one, its one actor is on the dispatcher's arbiter; it is still restarted.
#[actix_rt::test]
async fn inline_a_panic_fails_only_its_index() {
    panic_fails_only_its_index_and_the_next_dispatch_succeeds(0).await;
}

async fn panic_fails_only_its_index_and_the_next_dispatch_succeeds(pool: usize) {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(pool)
        .adapter("probe", probe.factory())
        .start();
    let targets = vec![
        Target::noop(),
        Target::custom("probe", json!({"panic": true})),
        Target::noop(),
        Target::custom("probe", json!({})),
    ];
    let error = dispatch(&dispatcher, targets).await.unwrap_err();
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.first().index, 1);
    match error.first().error.kind() {
        ErrorKind::Panicked { message } => assert_eq!(message, "probe told to panic"),
        other => panic!("expected panicked, got {other:?}"),
    }

    // The same dispatcher, the same adapter: it works again.
    let again = Dispatch::new(
        signal(),
        [Target::custom("probe", json!({})), Target::noop()],
    );
    within("second dispatch", dispatcher.send(again))
        .await
        .unwrap()
        .unwrap();

    // The adapter was made again by its supervisor: once at start, once on restart.
    let made = within("restart", async {
        while Probe::get(&probe.made) < 2 {
            tokio::task::yield_now().await;
        }
        Probe::get(&probe.made)
    })
    .await;
    assert_eq!(made, 2);
}
