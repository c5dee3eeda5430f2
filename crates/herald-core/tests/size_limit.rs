//! A signal over the dispatcher's size limit fails every target before any is tried.

mod support;

use herald_core::{Dispatch, Dispatcher, ErrorKind, Target};
use herald_signal::Signal;
use serde_json::json;
use support::{Probe, within};

fn signal_of(bytes: usize) -> Signal {
    Signal::new("big", json!({ "blob": "x".repeat(bytes) })).unwrap()
}

#[actix_rt::test]
async fn an_oversized_signal_fails_every_target_untried() {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .max_signal_size(64 * 1024)
        .start();
    let signal = signal_of(100 * 1024);
    let size = signal.encoded_len();
    let targets = [Target::custom("probe", json!({})), Target::noop()];
    let error = within("dispatch", dispatcher.send(Dispatch::new(signal, targets)))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(error.failures().len(), 2);
    for failure in error.failures() {
        assert!(
            matches!(failure.error.kind(), ErrorKind::TooLarge { size: s, limit: 65_536 } if *s == size),
            "{}",
            failure.error
        );
        assert!(!failure.error.retryable());
    }
    assert_eq!(Probe::get(&probe.deliveries), 0, "no target was tried");
}

#[actix_rt::test]
async fn a_signal_under_the_limit_is_delivered_even_when_its_bound_is_over() {
    // Quotes escape to two bytes: the bound (six per byte) is far over, the size is not.
    let signal = Signal::new("quoted", json!({ "text": "\"".repeat(10_000) })).unwrap();
    let size = signal.encoded_len();
    assert!(signal.encoded_len_bound() > size + 20_000);
    let dispatcher = Dispatcher::builder().max_signal_size(size).start();
    within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal, [Target::noop()])),
    )
    .await
    .unwrap()
    .unwrap();
}

#[actix_rt::test]
async fn the_default_limit_is_four_mib() {
    let dispatcher = Dispatcher::builder().start();
    let ok = within(
        "under",
        dispatcher.send(Dispatch::new(signal_of(4_000_000), [Target::noop()])),
    )
    .await
    .unwrap();
    assert!(ok.is_ok());
    let error = within(
        "over",
        dispatcher.send(Dispatch::new(signal_of(5 << 20), [Target::noop()])),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(matches!(
        error.first().error.kind(),
        ErrorKind::TooLarge {
            limit: 4_194_304,
            ..
        }
    ));
}
