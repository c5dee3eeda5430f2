//! Instruction counts, for the CI check in `.ci/instructions` (callgrind counts only
//! what runs inside the `measured_*` functions, on this thread).
//!
//! ```sh
//! bash .ci/instructions            # count, compare with benches/instructions.baseline
//! bash .ci/instructions --update   # write the baseline (a deliberate change)
//! ```
//!
//! Run alone, `instructions <scenario>` runs one scenario. Every scenario is warmed up
//! first, then measured over `ROUNDS` rounds; the receiving actors run on another
//! thread, so their handling is not counted.

// A benchmark binary: its items are documented for readers, not as API.
#![allow(missing_docs)]

#[path = "report/peers.rs"]
#[allow(dead_code)]
mod peers;

use std::sync::Arc;

use actix::prelude::*;
use futures_util::StreamExt;
use herald::prelude::*;
use herald::resilience::{Breaker, Concurrency, Resilience};
use peers::{Relay, Sink, Work};

/// Measured rounds per scenario.
const ROUNDS: usize = 10;
/// Targets in a fan-out.
const FANOUT: usize = 1000;

fn signal() -> Arc<Signal> {
    Arc::new(
        Signal::builder("bench.signal")
            .source("/bench")
            .data(serde_json::json!({"id": 42}))
            .build()
            .expect("valid signal"),
    )
}

/// What one scenario needs, made before anything is counted.
struct Setup {
    dispatcher: Addr<Dispatcher>,
    recipients: Vec<Recipient<SignalMessage>>,
    signal: Arc<Signal>,
    _receivers: Arbiter,
}

fn setup(system: &SystemRunner) -> Setup {
    let receivers = Arbiter::new();
    let recipients = system.block_on(async {
        let sinks: Vec<Addr<Sink>> = (0..10)
            .map(|_| {
                Sink::start_in_arbiter(&receivers.handle(), |ctx| {
                    ctx.set_mailbox_capacity(1 << 20);
                    Sink
                })
            })
            .collect();
        for sink in &sinks {
            sink.send(SignalMessage::new(signal()))
                .await
                .expect("sink")
                .expect("accepts");
        }
        (0..FANOUT)
            .map(|i| sinks[i % sinks.len()].clone().recipient())
            .collect::<Vec<_>>()
    });
    let dispatcher = system.block_on(async { Dispatcher::builder().start() });
    Setup {
        dispatcher,
        recipients,
        signal: signal(),
        _receivers: receivers,
    }
}

/// One dispatch of the prebuilt `targets` (a shared list, as the relay's recipients
/// are: neither side counts building its list).
fn fanout(system: &SystemRunner, setup: &Setup, targets: &Arc<[Target]>) {
    system.block_on(async {
        let dispatch = Dispatch::new(Arc::clone(&setup.signal), Arc::clone(targets))
            .max_concurrency(targets.len());
        let report = setup.dispatcher.send(dispatch).await.expect("running");
        assert!(report.is_ok());
    });
}

#[inline(never)]
fn measured_fanout(system: &SystemRunner, setup: &Setup, targets: &Arc<[Target]>) {
    for _ in 0..ROUNDS {
        fanout(system, setup, targets);
    }
}

fn raw(system: &SystemRunner, setup: &Setup) {
    system.block_on(async {
        for recipient in &setup.recipients {
            recipient
                .try_send(SignalMessage::new(Arc::clone(&setup.signal)))
                .expect("room");
        }
    });
}

#[inline(never)]
fn measured_raw(system: &SystemRunner, setup: &Setup) {
    for _ in 0..ROUNDS {
        raw(system, setup);
    }
}

/// One signal through the relay floor (`benches/report/peers.rs`): one actor message
/// holding the recipients, a `try_send` to each, one result per recipient back.
fn relay(system: &SystemRunner, setup: &Setup, relay: &Addr<Relay>, work: &Work) {
    system.block_on(peers::relay(relay, &setup.signal, work));
}

#[inline(never)]
fn measured_relay(system: &SystemRunner, setup: &Setup, floor: &Addr<Relay>, work: &Work) {
    for _ in 0..ROUNDS {
        relay(system, setup, floor, work);
    }
}

/// Dispatches held outstanding in the sustained scenarios.
const OUTSTANDING: usize = 64;

/// `FANOUT` one-target dispatches, `OUTSTANDING` at a time.
fn sustained(system: &SystemRunner, setup: &Setup, targets: &Arc<[Target]>) {
    system.block_on(
        futures_util::stream::iter(0..FANOUT)
            .map(|_| {
                let dispatch = Dispatch::new(Arc::clone(&setup.signal), Arc::clone(targets));
                let report = setup.dispatcher.send(dispatch);
                async move { assert!(report.await.expect("running").is_ok()) }
            })
            .buffer_unordered(OUTSTANDING)
            .for_each(|()| async {}),
    );
}

#[inline(never)]
fn measured_sustained(system: &SystemRunner, setup: &Setup, targets: &Arc<[Target]>) {
    for _ in 0..ROUNDS {
        sustained(system, setup, targets);
    }
}

/// The same through the relay floor.
fn relay_sustained(system: &SystemRunner, setup: &Setup, floor: &Addr<Relay>, work: &Work) {
    system.block_on(
        futures_util::stream::iter(0..FANOUT)
            .map(|_| peers::relay(floor, &setup.signal, work))
            .buffer_unordered(OUTSTANDING)
            .for_each(|()| async {}),
    );
}

#[inline(never)]
fn measured_relay_sustained(
    system: &SystemRunner,
    setup: &Setup,
    floor: &Addr<Relay>,
    work: &Work,
) {
    for _ in 0..ROUNDS {
        relay_sustained(system, setup, floor, work);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the scenario is the first other argument.
    let scenario = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .unwrap_or_default();
    let system = System::new();
    let setup = setup(&system);
    let pid = |recipients: &[Recipient<SignalMessage>]| -> Arc<[Target]> {
        recipients
            .iter()
            .map(|r| Target::pid(r.clone()).into())
            .collect()
    };
    match scenario.as_str() {
        // 1,000 async `pid` targets in one dispatch.
        "fanout_1k" => {
            let targets = pid(&setup.recipients);
            fanout(&system, &setup, &targets);
            measured_fanout(&system, &setup, &targets);
        }
        // The same 1,000 targets, each under a breaker and a concurrency cap that never
        // trigger (delivered at once, under the policies).
        "fanout_1k_policies" => {
            let policies = Resilience::new()
                .breaker(Breaker::default())
                .concurrency(Concurrency::max(10_000).expect("a cap"));
            let targets: Arc<[Target]> = pid(&setup.recipients)
                .iter()
                .map(|target| target.clone().with_resilience(policies.clone()))
                .collect();
            fanout(&system, &setup, &targets);
            measured_fanout(&system, &setup, &targets);
        }
        // One dispatch of one async `pid` target.
        "one_target" => {
            let targets = pid(&setup.recipients[..1]);
            fanout(&system, &setup, &targets);
            measured_fanout(&system, &setup, &targets);
        }
        // The floor: 1,000 raw `try_send`s to the same actors.
        "raw_1k" => {
            raw(&system, &setup);
            measured_raw(&system, &setup);
        }
        // The relay floor with one recipient: what `one_target` is judged against.
        "relay_1" => {
            let floor = system.block_on(async { Relay.start() });
            let work = Work::Enqueue(setup.recipients[..1].into());
            relay(&system, &setup, &floor, &work);
            measured_relay(&system, &setup, &floor, &work);
        }
        // 1,000 one-target dispatches, 64 outstanding.
        "sustained_1k" => {
            let targets = pid(&setup.recipients[..1]);
            sustained(&system, &setup, &targets);
            measured_sustained(&system, &setup, &targets);
        }
        // The same through the relay floor.
        "relay_sustained_1k" => {
            let floor = system.block_on(async { Relay.start() });
            let work = Work::Enqueue(setup.recipients[..1].into());
            relay_sustained(&system, &setup, &floor, &work);
            measured_relay_sustained(&system, &setup, &floor, &work);
        }
        // 1,000 one-target sync dispatches (each waits for the handler), 64 outstanding.
        "sync_sustained_1k" => {
            let targets: Arc<[Target]> =
                Arc::new([Target::pid(setup.recipients[0].clone()).sync().into()]);
            sustained(&system, &setup, &targets);
            measured_sustained(&system, &setup, &targets);
        }
        // The same under an idle breaker (a sync call declines at once: it goes to the
        // run, and is not admitted at once first).
        "sync_sustained_1k_breaker" => {
            let target: Target = Target::pid(setup.recipients[0].clone()).sync().into();
            let targets: Arc<[Target]> =
                Arc::new([target.with_resilience(Resilience::new().breaker(Breaker::default()))]);
            sustained(&system, &setup, &targets);
            measured_sustained(&system, &setup, &targets);
        }
        // The same through the relay floor, calling and awaiting each, each call
        // bounded by actix's `timeout` as Herald bounds its wait by the target's.
        "relay_bounded_sync_sustained_1k" => {
            let floor = system.block_on(async { Relay.start() });
            let bound = Some(herald::PidTarget::DEFAULT_TIMEOUT);
            let work = Work::Call(setup.recipients[..1].into(), bound);
            relay_sustained(&system, &setup, &floor, &work);
            measured_relay_sustained(&system, &setup, &floor, &work);
        }
        // The relay floor waiting unbounded (less work than Herald's side).
        "relay_sync_sustained_1k" => {
            let floor = system.block_on(async { Relay.start() });
            let work = Work::Call(setup.recipients[..1].into(), None);
            relay_sustained(&system, &setup, &floor, &work);
            measured_relay_sustained(&system, &setup, &floor, &work);
        }
        _ => {
            eprintln!(
                "scenarios: fanout_1k, fanout_1k_policies, one_target, raw_1k, relay_1, \
                 sustained_1k, relay_sustained_1k, sync_sustained_1k, \
                 sync_sustained_1k_breaker, relay_bounded_sync_sustained_1k, \
                 relay_sync_sustained_1k"
            );
            std::process::exit(2);
        }
    }
}
