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

use std::sync::Arc;

use actix::prelude::*;
use herald::prelude::*;

/// Measured rounds per scenario.
const ROUNDS: usize = 10;
/// Targets in a fan-out.
const FANOUT: usize = 1000;

struct Sink;

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Sink {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

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

fn fanout(system: &SystemRunner, setup: &Setup, targets: &[Target]) {
    system.block_on(async {
        let dispatch = Dispatch::new(Arc::clone(&setup.signal), targets.to_vec())
            .max_concurrency(targets.len());
        let report = setup.dispatcher.send(dispatch).await.expect("running");
        assert!(report.is_ok());
    });
}

#[inline(never)]
fn measured_fanout(system: &SystemRunner, setup: &Setup, targets: &[Target]) {
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

fn main() {
    // `cargo bench` passes `--bench`; the scenario is the first other argument.
    let scenario = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .unwrap_or_default();
    let system = System::new();
    let setup = setup(&system);
    let pid = |recipients: &[Recipient<SignalMessage>]| -> Vec<Target> {
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
        _ => {
            eprintln!("scenarios: fanout_1k, one_target, raw_1k");
            std::process::exit(2);
        }
    }
}
