//! Memory: per outstanding dispatch (each side in a fresh process, so neither reuses
//! what the other freed), and growth over a million dispatches.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::Actor;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use herald::prelude::*;

use crate::peers::{self, Gate, Receivers, Relay, Work};
use crate::{Scale, builder, dispatch, signal};

/// Resident memory of this process, in bytes.
pub(crate) fn rss() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0
}

/// Runs this benchmark again as `side` of the per-outstanding probe; its bytes per
/// outstanding call.
pub(crate) fn per_outstanding(side: &str, quick: bool) -> f64 {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let output = std::process::Command::new(exe)
        .env("HERALD_BENCH_PROBE", side)
        .env("HERALD_BENCH_QUICK", if quick { "1" } else { "0" })
        .output()
        .expect("run the memory probe");
    assert!(output.status.success(), "probe {side} failed: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("the probe prints a number")
}

/// The probe itself: `k` calls held outstanding at a receiver that does not answer
/// yet: as Herald dispatches (`herald`: one sync `pid` target each, its wait bounded
/// by the target's timeout), as raw `Addr::send`s (`raw`), or through the relay floor
/// calling the receiver (`relay`); `raw_bounded` and `relay_bounded` bound each call
/// with actix's `timeout`, as Herald bounds its wait. Prints resident bytes per
/// outstanding call.
pub(crate) fn probe(side: &str, quick: bool) {
    let k = if quick { 2_000 } else { 20_000 };
    actix::System::new().block_on(async move {
        let receivers = Receivers::new();
        let (gate, open, entered) = Gate::start(&receivers.handle());
        let dispatcher = builder().max_in_flight(k + 1).start();
        let signal = signal();
        let timeout = Duration::from_secs(3600);
        let targets: Arc<[Target]> = Arc::new([Target::pid(gate.clone().recipient())
            .sync()
            .timeout(timeout)
            .into()]);
        let (herald, through_relay) = (side == "herald", side.starts_with("relay"));
        let bound = side.ends_with("_bounded").then_some(timeout);
        let relay = Relay.start();
        let work = Work::Call(Arc::new([gate.clone().recipient()]), bound);
        let one = || {
            let (dispatcher, relay, work) = (dispatcher.clone(), relay.clone(), work.clone());
            let gate = gate.clone();
            let (signal, targets) = (Arc::clone(&signal), Arc::clone(&targets));
            async move {
                if herald {
                    dispatch(&dispatcher, Dispatch::new(signal, targets)).await;
                } else if through_relay {
                    peers::relay(&relay, &signal, &work).await;
                } else {
                    let call = gate.send(SignalMessage::new(signal));
                    match bound {
                        Some(bound) => call.timeout(bound),
                        None => call,
                    }
                    .await
                    .expect("gate running")
                    .expect("gate accepts");
                }
            }
        };
        // Warm up with the gate open, so pools and caches are made before measuring.
        open.add_permits(1 << 20);
        futures_util::stream::iter(0..k)
            .map(|_| one())
            .buffer_unordered(256)
            .for_each(|()| async {})
            .await;
        open.forget_permits(1 << 20);
        entered.store(0, Ordering::SeqCst);

        let before = rss();
        let calls: FuturesUnordered<_> = (0..k).map(|_| one()).collect();
        let driver = actix_rt::spawn(calls.for_each(|()| async {}));
        while entered.load(Ordering::SeqCst) < k {
            actix_rt::time::sleep(Duration::from_millis(1)).await;
        }
        let after = rss();
        open.close();
        driver.await.expect("every call answered");
        println!("{}", (after - before) / k as f64);
    });
}

/// Resident memory after a million dispatches (two targets each, 64 outstanding),
/// against after the first tenth: what stays behind.
pub(crate) async fn growth(scale: &Scale) -> (f64, f64) {
    let total = scale.of(1_000_000, 20_000);
    let checkpoint = total / 10;
    let dispatcher = builder().start();
    let signal = signal();
    let receivers = Receivers::new();
    let sink = receivers.start(1).await.remove(0);
    let targets: Arc<[Target]> =
        Arc::new([Target::noop(), Target::pid(sink.recipient()).sync().into()]);
    let mut after_first = 0.0;
    let mut done = 0;
    while done < total {
        futures_util::stream::iter(0..checkpoint.min(total - done))
            .map(|_| {
                dispatch(
                    &dispatcher,
                    Dispatch::new(Arc::clone(&signal), Arc::clone(&targets)),
                )
            })
            .buffer_unordered(64)
            .for_each(|()| async {})
            .await;
        done += checkpoint;
        if done == checkpoint {
            after_first = rss();
        }
    }
    (rss(), after_first)
}
