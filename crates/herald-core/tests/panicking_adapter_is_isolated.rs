//! A panicking adapter fails only its own targets, is restarted, and the dispatcher
//! keeps serving.

mod support;

use herald_core::{Dispatch, Dispatcher, ErrorKind, Target};
use serde_json::json;
use support::{Probe, signal, within};

#[actix_rt::test]
async fn panic_fails_only_its_index_and_the_next_dispatch_succeeds() {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(1)
        .adapter("probe", probe.factory())
        .start();
    let targets = vec![
        Target::noop(),
        Target::custom("probe", json!({"panic": true})),
        Target::noop(),
        Target::custom("probe", json!({})),
    ];
    let error = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), targets)),
    )
    .await
    .unwrap()
    .unwrap_err();
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
    assert_eq!(Probe::get(&probe.made), 2);
}
