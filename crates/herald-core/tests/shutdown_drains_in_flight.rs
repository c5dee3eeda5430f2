//! `Shutdown { grace }`: new dispatches fail at once, running ones get the grace
//! period, the rest are reported, and the dispatcher stops.

mod support;

use std::time::Duration;

use actix::Actor;
use herald_core::resilience::{DeadLetterQueue, TakeDeadLetters};
use herald_core::{Dispatch, DispatchExt, Dispatcher, ErrorKind, Shutdown, Stats, Target};
use serde_json::json;
use support::{Probe, signal, until_count, within};

/// A dispatcher with a `probe` adapter, on this arbiter under a paused clock.
fn paused_probe_dispatcher() -> (Probe, actix::Addr<Dispatcher>) {
    tokio::time::pause();
    probe_dispatcher()
}

/// A dispatcher with a `probe` adapter, on this arbiter (whose clock is paused already).
fn probe_dispatcher() -> (Probe, actix::Addr<Dispatcher>) {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        // The pool adapters on this arbiter, under its paused clock.
        .pool_size(0)
        .adapter("probe", probe.factory())
        .start();
    (probe, dispatcher)
}

#[actix_rt::test]
async fn shutdown_gives_running_deliveries_the_grace_period_then_reports_the_rest() {
    let (probe, dispatcher) = paused_probe_dispatcher();
    let after = |ms: u64| Target::custom("probe", json!({"delay_ms": ms}));
    let running = dispatcher.dispatch_async(Dispatch::new(
        signal(),
        [after(100), after(10_000), Target::noop()],
    ));
    until_count("deliveries started", &probe.current, 2).await;

    let started = tokio::time::Instant::now();
    let shutdown = dispatcher.send(Shutdown::new(Duration::from_secs(1)));
    // Queued behind the shutdown: refused at once.
    let late = dispatcher.send(Dispatch::new(signal(), [Target::noop()]));
    let late = within("late dispatch", late).await.unwrap().unwrap_err();
    assert!(matches!(late.first().error.kind(), ErrorKind::Shutdown));
    assert!(late.first().error.retryable());
    assert_eq!(late.first().error.attempts(), 0, "it never began");

    let error = within("running dispatch", running).await.unwrap_err();
    assert_eq!(error.total(), 3);
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.first().index, 1);
    assert!(matches!(error.first().error.kind(), ErrorKind::Shutdown));
    assert_eq!(error.first().error.attempts(), 1, "cut off in its attempt");

    within("shutdown", shutdown).await.unwrap();
    // Within tokio's timer resolution (1 ms).
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1002));
    within("stopped", async {
        while dispatcher.connected() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let after_stop = dispatcher.dispatch_async(Dispatch::new(signal(), [Target::noop()]));
    let error = within("after stop", after_stop).await.unwrap_err();
    assert!(matches!(error.first().error.kind(), ErrorKind::Shutdown));
    assert_eq!(error.first().error.attempts(), 0);
    // Awaited the same way: `Shutdown` for every target, not actix's `MailboxError`.
    let two = [Target::noop(), Target::noop()];
    let awaited = dispatcher.dispatch(Dispatch::new(signal(), two));
    let error = within("awaited after stop", awaited).await.unwrap_err();
    assert_eq!(error.failures().len(), 2);
    assert!(
        error
            .failures()
            .iter()
            .all(|f| matches!(f.error.kind(), ErrorKind::Shutdown))
    );
}

#[actix_rt::test]
async fn shutdown_of_an_idle_dispatcher_stops_it_at_once() {
    tokio::time::pause();
    let dispatcher = Dispatcher::builder().start();
    within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), [Target::noop()])),
    )
    .await
    .unwrap()
    .unwrap();
    let started = tokio::time::Instant::now();
    within(
        "shutdown",
        dispatcher.send(Shutdown::new(Duration::from_secs(60))),
    )
    .await
    .unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(dispatcher.send(Stats).await.is_err() || !dispatcher.connected());
}

#[actix_rt::test]
async fn a_dispatch_waiting_on_one_long_delivery_is_cut_off_at_the_grace_period() {
    let (probe, dispatcher) = paused_probe_dispatcher();
    // Nothing else will wake this dispatch before its delivery ends in 10 s: only the
    // shutdown can.
    let running = dispatcher.dispatch_async(Dispatch::new(
        signal(),
        [Target::custom("probe", json!({"delay_ms": 10_000}))],
    ));
    until_count("delivery started", &probe.current, 1).await;

    let started = tokio::time::Instant::now();
    let shutdown = dispatcher.send(Shutdown::new(Duration::from_secs(1)));
    let error = within("running dispatch", running).await.unwrap_err();
    assert!(matches!(error.first().error.kind(), ErrorKind::Shutdown));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1002));
    within("shutdown", shutdown).await.unwrap();
}

#[actix_rt::test]
async fn dead_letters_still_being_delivered_are_cut_off_after_their_own_grace() {
    // The dead letters' grace follows the deliveries' (as long, by default); zero cuts
    // them off with the deliveries.
    tokio::time::pause();
    for (letters, cut_at) in [(None, 2_000), (Some(Duration::ZERO), 1_000)] {
        let (probe, dispatcher) = probe_dispatcher();
        // More dead letters than `join_all` polls in place: each waits with a waker of
        // its own, and every one must see the shutdown.
        const FAILING: usize = 40;
        let failing = Target::custom("probe", json!({"fail": true}));
        let slow = Target::custom("probe", json!({"delay_ms": 10_000}));
        let running = dispatcher
            .dispatch_async(Dispatch::new(signal(), vec![failing; FAILING]).dead_letter(slow));
        until_count("dead letters started", &probe.current, FAILING).await;

        let started = tokio::time::Instant::now();
        let mut shutdown = Shutdown::new(Duration::from_secs(1));
        if let Some(letters) = letters {
            shutdown = shutdown.dead_letter_grace(letters);
        }
        let shutdown = dispatcher.send(shutdown);
        let error = within("running dispatch", running).await.unwrap_err();
        assert_eq!(error.failures().len(), FAILING);
        for failure in error.failures() {
            let dead_letter = failure.error.dead_letter().expect("dead-lettered");
            let cut = dead_letter.result().as_ref().unwrap_err();
            assert!(matches!(cut.kind(), ErrorKind::Shutdown), "{cut}");
        }
        let waited = started.elapsed();
        let cut_at = Duration::from_millis(cut_at);
        assert!(
            waited >= cut_at && waited <= cut_at + Duration::from_millis(2),
            "{waited:?}"
        );
        within("shutdown", shutdown).await.unwrap();
    }
}

#[actix_rt::test]
async fn a_delivery_cut_off_by_the_grace_period_is_kept_in_its_dead_letter() {
    let (probe, dispatcher) = paused_probe_dispatcher();
    let queue = DeadLetterQueue::default().start();
    let dead_letter = Target::pid(queue.clone().recipient()).sync();
    let stuck = Target::custom("probe", json!({"delay_ms": 10_000}));
    let original = signal();
    let id = original.id().to_owned();
    let running =
        dispatcher.dispatch_async(Dispatch::new(original, [stuck]).dead_letter(dead_letter));
    until_count("delivery started", &probe.current, 1).await;

    let shutdown = dispatcher.send(Shutdown::new(Duration::from_secs(1)));
    let error = within("running dispatch", running).await.unwrap_err();
    let cut = &error.first().error;
    assert!(matches!(cut.kind(), ErrorKind::Shutdown), "{cut}");
    let kept = cut.dead_letter().expect("dead-lettered");
    assert!(
        kept.delivered(),
        "the dead letter outlived the cutoff: {cut}"
    );
    within("shutdown", shutdown).await.unwrap();

    let letters = within("take", queue.send(TakeDeadLetters)).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].original().id(), id);
    assert_eq!(letters[0].kind(), "shutdown");
    assert_eq!(letters[0].attempts(), 1);
}
