//! A custom adapter's `validate` runs exactly once per target per dispatch.

mod support;

use std::sync::atomic::Ordering;

use herald_core::resilience::{Breaker, Resilience};
use herald_core::{
    Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, Outcome, Placement, Target, TargetError,
};
use serde_json::{Value, json};
use support::{Probe, ProbeAdapter, ProbeOptions, dispatch, signal, within};

async fn validations_for(targets: usize) -> usize {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    let dispatch = Dispatch::new(
        signal(),
        (0..targets).map(|_| Target::custom("probe", json!({}))),
    );
    within("dispatch", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(probe.deliveries.load(Ordering::SeqCst), targets);
    probe.validations.load(Ordering::SeqCst)
}

#[actix_rt::test]
async fn one_target_is_validated_once() {
    assert_eq!(validations_for(1).await, 1);
}

#[actix_rt::test]
async fn three_targets_are_validated_three_times() {
    assert_eq!(validations_for(3).await, 3);
}

#[actix_rt::test]
async fn ten_targets_are_validated_ten_times() {
    assert_eq!(validations_for(10).await, 10);
}

#[actix_rt::test]
async fn typed_targets_are_never_revalidated() {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    let targets = (0..5).map(|_| Target::new("probe", support::ProbeOptions::default()));
    dispatch(&dispatcher, targets).await.unwrap();
    assert_eq!(probe.validations.load(Ordering::SeqCst), 0);
    assert_eq!(probe.deliveries.load(Ordering::SeqCst), 5);
}

/// The probe on the dispatcher's own arbiter. It has no `deliver_now`, so a delivery
/// offered at once is always declined and made by the dispatch's fan-out.
struct LocalProbe(ProbeAdapter);

impl Adapter for LocalProbe {
    type Options = ProbeOptions;

    const PLACEMENT: Placement = Placement::Local;

    fn validate(&self, config: &Value) -> Result<ProbeOptions, TargetError> {
        self.0.validate(config)
    }

    async fn deliver(&self, delivery: Delivery<'_, ProbeOptions>) -> Result<Outcome, ErrorKind> {
        self.0.deliver(delivery).await
    }
}

/// A raw config of a local adapter is validated once too, with and without policies,
/// although its delivery is first offered at once (no subscriber wants spans).
#[actix_rt::test]
async fn local_targets_are_validated_once_where_tried_at_once() {
    for policies in [
        Resilience::new(),
        Resilience::new().breaker(Breaker::default()),
    ] {
        let probe = Probe::default();
        let factory = probe.factory();
        let dispatcher = Dispatcher::builder()
            .telemetry(false)
            .adapter("probe", move || LocalProbe(factory()))
            .resilience(policies)
            .start();
        let targets = (0..4).map(|_| Target::custom("probe", json!({})));
        dispatch(&dispatcher, targets).await.unwrap();
        assert_eq!(probe.deliveries.load(Ordering::SeqCst), 4);
        assert_eq!(probe.validations.load(Ordering::SeqCst), 4);
    }
}
