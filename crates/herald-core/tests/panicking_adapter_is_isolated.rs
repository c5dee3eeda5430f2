//! A panicking adapter fails only its own targets, is restarted, and the dispatcher
//! keeps serving.

mod support;

use herald_core::{Dispatch, Dispatcher, ErrorKind, Target};
use serde_json::json;
use support::{Probe, signal, within};

/// With a pool, the adapter's deliveries run in its actor on another arbiter.
#[actix_rt::test]
async fn on_a_pool_arbiter_a_panic_fails_only_its_index() {
    panic_fails_only_its_index_and_the_next_dispatch_succeeds(1).await;
}

/// Without one, they run inline in the dispatch; the actor is still restarted.
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
    let made = within("restart", async {
        while Probe::get(&probe.made) < 2 {
            tokio::task::yield_now().await;
        }
        Probe::get(&probe.made)
    })
    .await;
    assert_eq!(made, 2);
}
