//! A dispatch deadline fails what is unfinished, and reports it.

mod support;

use std::time::Duration;

use herald_core::{Dispatch, Dispatcher, ErrorKind, Stats, Target};
use serde_json::json;
use support::{Probe, signal, within};

#[actix_rt::test]
async fn slow_targets_past_the_deadline_fail_with_deadline_exceeded() {
    tokio::time::pause();
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .max_concurrency(2)
        .adapter("probe", probe.factory())
        .start();
    // 0: fast; 1: slow (1 s); 2: fast but queued behind the limit; 3: slow.
    let targets = [10, 1000, 10, 1000].map(|ms| Target::custom("probe", json!({"delay_ms": ms})));
    let start = tokio::time::Instant::now();
    let dispatch = Dispatch::new(signal(), targets).deadline(Duration::from_millis(100));
    let error = within("dispatch", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed < Duration::from_millis(102),
        "{elapsed:?}"
    );
    let failed: Vec<_> = error.failures().iter().map(|f| f.index).collect();
    assert_eq!(failed, [1, 3]);
    assert!(
        error
            .failures()
            .iter()
            .all(|f| matches!(f.error.kind(), ErrorKind::DeadlineExceeded))
    );
    assert_eq!(
        error
            .delivered()
            .iter()
            .map(|(i, _)| *i)
            .collect::<Vec<_>>(),
        [0, 2]
    );

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.delivered, stats.failed, stats.in_flight), (2, 2, 0));
}

#[actix_rt::test]
async fn targets_never_started_before_the_deadline_are_reported_too() {
    tokio::time::pause();
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .max_concurrency(1)
        .adapter("probe", probe.factory())
        .start();
    let targets = vec![Target::custom("probe", json!({"delay_ms": 60})); 5];
    let dispatch = Dispatch::new(signal(), targets).deadline(Duration::from_millis(100));
    let error = within("dispatch", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(error.delivered().len(), 1);
    assert_eq!(
        error.failures().len(),
        4,
        "one in flight and three never started"
    );
    assert_eq!(error.total(), 5);
}
