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

/// An adapter whose `validate` panics on a config saying so.
struct PanickyValidate;

impl Adapter for PanickyValidate {
    type Options = Panic;

    fn validate(&self, config: &serde_json::Value) -> Result<Panic, herald_core::TargetError> {
        assert!(config["panic"] != json!(true), "validate told to panic");
        Ok(Panic(false))
    }

    async fn deliver(&self, _: Delivery<'_, Panic>) -> Result<Outcome, ErrorKind> {
        Ok(Outcome::Delivered)
    }
}

/// A `validate` that panics while a dispatcher checks targets is that target's
/// problem, and the dispatcher keeps serving; in a delivery, that target's failure.
#[actix_rt::test]
async fn a_panicking_validate_is_its_targets_problem_not_the_dispatchers() {
    let dispatcher = Dispatcher::builder()
        .adapter("panicky", || PanickyValidate)
        .start();
    let bad = Target::custom("panicky", json!({"panic": true}));
    let good = Target::custom("panicky", json!({"panic": false}));
    let problems = within(
        "check",
        dispatcher.send(herald_core::CheckTargets::new([good.clone(), bad.clone()])),
    )
    .await
    .expect("the dispatcher survives the check")
    .unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].index, 1);
    assert!(
        problems[0]
            .error
            .to_string()
            .contains("validate told to panic"),
        "{}",
        problems[0].error
    );

    let error = dispatch(&dispatcher, [good.clone(), bad])
        .await
        .unwrap_err();
    assert_eq!(error.first().index, 1);
    assert!(matches!(
        error.first().error.kind(),
        ErrorKind::Panicked { .. }
    ));
    let report = dispatch(&dispatcher, [good]).await.unwrap();
    assert_eq!(report.outcomes(), [Outcome::Delivered]);
}

/// A pool adapter whose delivery panics when told to.
struct BrittleOnPool;

impl Adapter for BrittleOnPool {
    type Options = Panic;

    async fn deliver(&self, delivery: Delivery<'_, Panic>) -> Result<Outcome, ErrorKind> {
        assert!(!delivery.options.0, "brittle told to panic");
        Ok(Outcome::Delivered)
    }
}

/// A factory that panics when asked for a fresh instance after a delivery's panic: the
/// dispatcher keeps the instance it has and keeps serving, locally and on the pool.
#[actix_rt::test]
async fn a_factory_that_panics_on_restart_leaves_the_old_instance_serving() {
    fn once<A: 'static>(
        made: &Arc<AtomicUsize>,
        adapter: fn() -> A,
    ) -> impl Fn() -> A + Send + Sync + 'static + use<A> {
        let counted = Arc::clone(made);
        move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            assert!(n == 0, "no second instance");
            adapter()
        }
    }
    for local in [true, false] {
        let made = Arc::new(AtomicUsize::new(0));
        let builder = Dispatcher::builder().pool_size(1);
        let dispatcher = if local {
            builder.adapter("brittle", once(&made, || Brittle))
        } else {
            builder.adapter("brittle", once(&made, || BrittleOnPool))
        }
        .start();
        let error = dispatch(&dispatcher, [Target::new("brittle", Panic(true))])
            .await
            .unwrap_err();
        assert!(matches!(
            error.first().error.kind(),
            ErrorKind::Panicked { .. }
        ));
        // The restart (and its panicking factory) happens by now, or before the next
        // batch is taken: either way the next dispatch meets a working instance.
        let report = dispatch(&dispatcher, [Target::new("brittle", Panic(false))])
            .await
            .unwrap();
        assert_eq!(report.outcomes(), [Outcome::Delivered], "local: {local}");
    }
}
