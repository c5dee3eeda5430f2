//! Every dead letter is accounted for: the dispatcher counts those kept and those that
//! failed too (logged, since their signal is then kept nowhere), and a full in-memory
//! queue says what it dropped — in a `WARN` and to a running queue's `QueueStats`.

mod support;

use actix::Actor;
use herald_core::resilience::{DeadLetterQueue, QueueStats, TakeDeadLetters};
use herald_core::{Dispatch, Dispatcher, Stats, Target};
use serde_json::json;
use support::{Log, Probe, signal, within};

fn failing() -> Target {
    Target::custom("probe", json!({"fail": true}))
}

fn probe_dispatcher() -> actix::Addr<Dispatcher> {
    Dispatcher::builder()
        .adapter("probe", Probe::default().factory())
        .start()
}

#[actix_rt::test]
async fn a_full_queue_counts_and_warns_what_it_drops() {
    let written = Log::default();
    let _log = tracing::subscriber::set_default(written.subscriber());
    let queue = DeadLetterQueue::new(2).start();
    let dispatcher = probe_dispatcher();
    let dead_letter = Target::pid(queue.clone().recipient()).sync();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let signal = signal();
        ids.push(signal.id().to_owned());
        let dispatch = Dispatch::new(signal, [failing()]).dead_letter(dead_letter.clone());
        let error = within("dispatch", dispatcher.send(dispatch)).await.unwrap();
        assert!(
            error
                .unwrap_err()
                .first()
                .error
                .dead_letter()
                .unwrap()
                .delivered()
        );
    }

    let stats = within("queue stats", queue.send(QueueStats)).await.unwrap();
    assert_eq!((stats.len, stats.capacity, stats.dropped), (2, 2, 3));
    let text = written.text();
    assert_eq!(text.matches("dead-letter queue full").count(), 1, "{text}");
    assert!(
        text.contains("WARN") && text.contains("dropped=1"),
        "{text}"
    );
    // The newest are kept.
    let kept = within("take", queue.send(TakeDeadLetters)).await.unwrap();
    let kept: Vec<_> = kept.iter().map(|l| l.original().id().to_owned()).collect();
    assert_eq!(kept, ids[3..]);

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.dead_lettered, stats.dead_letters_failed), (5, 0));
}

#[actix_rt::test]
async fn a_dead_letter_that_fails_too_is_counted_and_logged() {
    let written = Log::default();
    let _log = tracing::subscriber::set_default(written.subscriber());
    let dispatcher = probe_dispatcher();
    let original = signal();
    let id = original.id().to_owned();
    let dispatch = Dispatch::new(original, [failing(), failing()]).dead_letter(failing());
    let error = within("dispatch", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap_err();
    for failure in error.failures() {
        assert!(!failure.error.dead_letter().unwrap().delivered());
    }

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.dead_lettered, stats.dead_letters_failed), (0, 2));
    let text = written.text();
    assert_eq!(
        text.matches("the signal is kept nowhere").count(),
        2,
        "{text}"
    );
    assert!(text.contains("ERROR") && text.contains(&id), "{text}");
}
