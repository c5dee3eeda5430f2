//! Hostile input gets an error or its documented treatment, in bounded time, without
//! forging a log line: the cases found by hand and by fuzzing, kept as regressions.

mod support;

use std::time::{Duration, Instant};

use actix::prelude::*;
use herald_core::{
    Bus, BusError, Dispatch, Dispatcher, LogFormat, Pattern, PatternSet, PubSub, Publish, Registry,
    Subscribe, Target,
};
use herald_signal::{MAX_DATA_DEPTH, Signal};
use serde_json::{Value, json};
use support::{Log, within};

/// Generous: linear matching takes milliseconds; backtracking took a minute.
const BOUND: Duration = Duration::from_secs(10);

#[test]
fn patterns_that_backtracked_match_in_linear_time() {
    let cases = [
        ("**.a.**.a.**.a.**.b", vec!["a"; 800].join(".")),
        ("**.x.**.y", vec!["x"; 40_000].join(".")),
        ("**.a.**.b.**.c.**.d", vec!["a.b.c"; 400].join(".")),
    ];
    for (pattern, ty) in cases {
        let pattern = Pattern::parse(pattern).unwrap();
        let started = Instant::now();
        assert!(!pattern.matches(&ty));
        let mut set = PatternSet::new();
        set.insert(&pattern, 1);
        assert!(set.matches(&ty).is_empty());
        assert!(
            started.elapsed() < BOUND,
            "{pattern}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_one_mib_type_against_patterns_with_one_to_eight_many_wildcards() {
    let ty = vec!["ab"; 1 << 18].join("."); // about 0.75 MiB of short segments
    let ty = format!("{ty}.c.{}", "d".repeat((1 << 20) - ty.len() - 3));
    assert_eq!(ty.len(), 1 << 20);
    let mut set = PatternSet::new();
    for many in 1..=8 {
        let text = vec!["**.ab"; many].join(".") + ".c.**";
        set.insert(&Pattern::parse(&text).unwrap(), many);
    }
    let started = Instant::now();
    let matched = set.matches(&ty);
    assert!(started.elapsed() < BOUND, "{:?}", started.elapsed());
    assert_eq!(matched, (1..=8).collect::<Vec<_>>());
}

#[actix_rt::test]
async fn a_bus_refuses_types_longer_than_it_routes() {
    let bus = Bus::new().start();
    within(
        "subscribe",
        bus.send(Subscribe::new("**", [Target::noop()]).unwrap()),
    )
    .await
    .unwrap();
    let _dispatcher = Dispatcher::builder().bus("main", bus.clone()).start();
    let long = Signal::new("a".repeat(Bus::MAX_TYPE_LEN + 1), json!({})).unwrap();
    let answer = within("publish", bus.send(Publish::new(long)))
        .await
        .unwrap();
    assert_eq!(
        answer,
        Err(BusError::TypeTooLong {
            len: Bus::MAX_TYPE_LEN + 1
        })
    );
}

#[actix_rt::test]
async fn names_and_topics_refuse_control_and_invisible_characters() {
    let registry = Registry::new();
    for bad in ["a\u{200B}b", "\u{202E}evil", "\u{FEFF}x", "a\nb", "tab\t"] {
        assert!(Target::named(bad).is_err(), "{bad:?}");
        assert!(Target::bus(bad).is_err(), "{bad:?}");
        assert!(Target::pubsub(bad).is_err(), "{bad:?}");
        let error = PubSub::new()
            .subscribe(bad, support::unbound_recipient())
            .unwrap_err();
        assert!(!error.to_string().contains(bad));
        let error = registry
            .register(bad, support::unbound_recipient())
            .unwrap_err();
        // The error shows the name escaped, never raw.
        assert!(!error.to_string().contains(bad), "{error}");
    }
    assert!(Target::pubsub("x".repeat(1025)).is_err());
    assert!(Target::pubsub("orders.eu-west/1 with spaces").is_ok());
}

#[test]
fn one_signal_cannot_forge_a_log_line() {
    let written = Log::default();
    let subscriber = written.subscriber();
    let signal = Signal::builder("user.created\nFAKE INFO forged=1")
        .source("/s\r\nFAKE")
        .data(json!({"note": "line\nbreak"}))
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        System::new().block_on(async {
            let dispatcher = Dispatcher::builder().start();
            let target = Target::logger().format(LogFormat::Line);
            within("dispatch", dispatcher.send(Dispatch::new(signal, [target])))
                .await
                .unwrap()
                .unwrap();
        });
    });
    let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("user.created\\nFAKE"), "{text}");
}

#[test]
fn the_deepest_data_a_signal_holds_goes_through_logger_and_console_on_a_small_stack() {
    let mut value = json!("leaf");
    for _ in 0..MAX_DATA_DEPTH {
        value = Value::Array(vec![value]);
    }
    let signal = Signal::new("deep", value).unwrap();
    // 2 MiB: the default for spawned threads and actix-web workers.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            System::new().block_on(async {
                let dispatcher = Dispatcher::builder().start();
                let targets = [
                    Target::logger().into(),
                    Target::console().max_data_bytes(64).into(),
                ];
                let targets: [Target; 2] = targets;
                within("dispatch", dispatcher.send(Dispatch::new(signal, targets)))
                    .await
                    .unwrap()
                    .unwrap();
            });
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
}
