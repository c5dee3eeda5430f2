//! A custom adapter's `validate` runs exactly once per target per dispatch.

mod support;

use std::sync::atomic::Ordering;

use herald_core::{Dispatch, Dispatcher, Target};
use serde_json::json;
use support::{Probe, dispatch, signal, within};

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
