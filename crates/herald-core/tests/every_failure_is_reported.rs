//! Every target is attempted and every failure is reported with its index.

mod support;

use herald_core::{Dispatch, Dispatcher, ErrorKind, Outcome, Stats, Target, TargetError};
use serde_json::json;
use support::{Probe, dispatch, signal, within};

#[actix_rt::test]
async fn failures_are_all_reported_sorted_by_index() {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    let targets = [false, true, false, true].map(|fail| {
        Target::custom(
            "probe",
            json!({"fail": fail, "delay_ms": if fail { 0 } else { 5 }}),
        )
    });
    let error = dispatch(&dispatcher, targets).await.unwrap_err();

    assert_eq!(Probe::get(&probe.deliveries), 4, "all four attempted");
    let indices: Vec<_> = error.failures().iter().map(|f| f.index).collect();
    assert_eq!(indices, [1, 3]);
    assert_eq!(error.first().index, 1);
    assert_eq!(
        error
            .delivered()
            .iter()
            .map(|(i, _)| *i)
            .collect::<Vec<_>>(),
        [0, 2]
    );
    assert_eq!(error.total(), 4);
    let failure = &error.first().error;
    assert_eq!(failure.adapter(), "probe");
    assert!(matches!(failure.kind(), ErrorKind::Custom { .. }));
    assert_eq!(
        error.to_string(),
        "2 of 4 targets failed; first: target 1: probe delivery to probe{delay_ms, fail} failed: probe told to fail"
    );

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.delivered, stats.failed, stats.in_flight), (2, 2, 0));
    assert_eq!(stats.per_adapter["probe"].failed, 2);
}

#[actix_rt::test]
async fn empty_target_list_is_ok() {
    let dispatcher = Dispatcher::builder().start();
    let report = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), Vec::<Target>::new())),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(report.is_empty());
}

#[actix_rt::test]
async fn unknown_adapter_fails_its_target_and_lists_known_ones() {
    let dispatcher = Dispatcher::builder().start();
    let targets = [Target::noop(), Target::custom("nope", json!({}))];
    let error = dispatch(&dispatcher, targets).await.unwrap_err();
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.delivered(), &[(0, Outcome::Discarded)]);
    match error.first().error.kind() {
        ErrorKind::InvalidTarget(TargetError::UnknownAdapter { name, known }) => {
            assert_eq!(name, "nope");
            assert_eq!(known, KNOWN);
        }
        other => panic!("expected unknown adapter, got {other:?}"),
    }
    assert!(
        error
            .first()
            .error
            .to_string()
            .contains(&format!("known adapters: {}", KNOWN.join(", ")))
    );
}

/// The adapters every dispatcher has, in name order.
#[cfg(feature = "http")]
const KNOWN: &[&str] = &[
    "bus", "console", "http", "logger", "named", "noop", "pid", "pubsub", "webhook",
];
#[cfg(not(feature = "http"))]
const KNOWN: &[&str] = &["bus", "console", "logger", "named", "noop", "pid", "pubsub"];

#[actix_rt::test]
async fn invalid_custom_config_is_an_invalid_target_error() {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    let target = Target::custom("probe", json!({"delay_ms": "soon"}));
    let error = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap()
    .unwrap_err();
    let message = error.first().error.to_string();
    assert!(
        message.contains("invalid target: field `delay_ms` must be a whole number"),
        "{message}"
    );
    assert_eq!(Probe::get(&probe.deliveries), 0);
}

#[actix_rt::test]
async fn builtin_adapters_all_succeed() {
    let dispatcher = Dispatcher::builder().start();
    let targets: Vec<Target> = vec![
        Target::noop(),
        Target::logger().into(),
        Target::console().include_data(false).into(),
        Target::custom("logger", json!({"level": "debug", "format": "line"})),
    ];
    let report = dispatch(&dispatcher, targets).await.unwrap();
    assert_eq!(
        report.outcomes(),
        &[
            Outcome::Discarded,
            Outcome::Delivered,
            Outcome::Delivered,
            Outcome::Delivered
        ]
    );
}

#[actix_rt::test]
async fn typed_options_for_another_adapter_are_an_invalid_target() {
    let dispatcher = Dispatcher::builder().start();
    // Logger options sent to the noop adapter.
    let target = Target::new("noop", herald_core::LoggerTarget::default());
    let error = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap()
    .unwrap_err();
    let message = error.first().error.to_string();
    assert!(
        message.contains("invalid target: the target's options are not what adapter `noop` takes"),
        "{message}"
    );
}

#[actix_rt::test]
async fn results_walk_every_target_once_in_order() {
    use herald_core::DispatchResultExt;
    let probe = support::Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    let ok = || Target::custom("probe", json!({}));
    let fail = || Target::custom("probe", json!({"fail": true}));
    for (targets, failed) in [
        (vec![ok(), ok(), ok()], vec![]),
        (
            vec![fail(), ok(), fail(), ok(), ok(), fail()],
            vec![0, 2, 5],
        ),
        (vec![fail(), fail()], vec![0, 1]),
        (vec![], vec![]),
    ] {
        let total = targets.len();
        let result = dispatch(&dispatcher, targets).await;
        let walked: Vec<(usize, bool)> = result
            .results()
            .map(|(index, result)| (index, result.is_err()))
            .collect();
        let expected: Vec<(usize, bool)> = (0..total)
            .map(|index| (index, failed.contains(&index)))
            .collect();
        assert_eq!(walked, expected);
    }
}

#[actix_rt::test]
async fn every_failed_delivery_leaves_one_warning() {
    let written = support::Log::default();
    let subscriber = written.subscriber();
    // The dispatcher runs on this thread: the subscriber sees its events.
    let _default = tracing::subscriber::set_default(subscriber);
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    let target = |fail: bool, delay_ms: u64| {
        Target::custom("probe", json!({"fail": fail, "delay_ms": delay_ms}))
    };
    let mut waiting = Vec::new();
    for fail in [false, true] {
        // Sent with `do_send`: nobody can take the result.
        dispatcher.do_send(Dispatch::new(signal(), target(fail, 0)));
        // Sent with `send`, and its caller stops waiting once the delivery has begun.
        waiting.push(dispatcher.send(Dispatch::new(signal(), target(fail, 50))));
    }
    within("both awaited deliveries begin", async {
        while Probe::get(&probe.current) < 2 {
            actix_rt::task::yield_now().await;
        }
    })
    .await;
    drop(waiting);
    // Answered: two of its three targets fail.
    let answered = dispatch(
        &dispatcher,
        [target(true, 0), target(false, 0), target(true, 0)],
    )
    .await;
    assert_eq!(answered.unwrap_err().failures().len(), 2);
    within("all seven settled", async {
        loop {
            let stats = dispatcher.send(Stats).await.unwrap();
            if stats.delivered + stats.failed == 7 {
                break;
            }
            actix_rt::task::yield_now().await;
        }
    })
    .await;
    let text = written.text();
    let warnings: Vec<_> = text
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("delivery failed"))
        .collect();
    // Sent with `do_send`, given up on, answered: one event per failed delivery.
    assert_eq!(warnings.len(), 4, "{text}");
    for line in &warnings {
        assert!(
            line.contains("error.type=\"custom\"") || line.contains("error.type=custom"),
            "{line}"
        );
        assert!(
            line.contains("probe") && line.contains("attempts=1"),
            "{line}"
        );
        assert!(line.contains("messaging.message.id="), "{line}");
    }
}
