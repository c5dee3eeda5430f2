//! Helpers shared by the integration tests: probe adapters, receiving actors, bounds.
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use herald_core::{
    Adapter, Delivery, ErrorKind, Outcome, Rejection, SignalMessage, TargetError, TargetOptions,
};
use herald_signal::Signal;
use serde_json::{Value, json};

pub use herald_testkit::receiver::{Answer, Recorder, Stop, until_count};
pub use herald_testkit::{Log, within};

pub fn signal() -> Signal {
    Signal::new("test.signal", json!({"n": 1})).unwrap()
}

/// Counters a [`ProbeAdapter`] shares with its test.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub validations: Arc<AtomicUsize>,
    pub deliveries: Arc<AtomicUsize>,
    pub current: Arc<AtomicUsize>,
    pub peak: Arc<AtomicUsize>,
    /// How many adapter instances were made (one per pool actor, plus restarts).
    pub made: Arc<AtomicUsize>,
}

impl Probe {
    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    /// A factory for the dispatcher builder.
    pub fn factory(&self) -> impl Fn() -> ProbeAdapter + Send + Sync + 'static {
        let probe = self.clone();
        move || {
            probe.made.fetch_add(1, Ordering::SeqCst);
            ProbeAdapter(probe.clone())
        }
    }
}

/// What a probe target does: `{"delay_ms": 100, "fail": true, "panic": true}`.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    pub delay: Duration,
    pub fail: bool,
    pub panic: bool,
}

impl TargetOptions for ProbeOptions {}

/// A custom adapter that counts everything it is asked to do.
pub struct ProbeAdapter(pub Probe);

impl Adapter for ProbeAdapter {
    type Options = ProbeOptions;

    fn validate(&self, config: &Value) -> Result<ProbeOptions, TargetError> {
        self.0.validations.fetch_add(1, Ordering::SeqCst);
        let delay_ms = match config.get("delay_ms") {
            None => 0,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| TargetError::invalid_field("delay_ms", "must be a whole number"))?,
        };
        Ok(ProbeOptions {
            delay: Duration::from_millis(delay_ms),
            fail: config.get("fail") == Some(&Value::Bool(true)),
            panic: config.get("panic") == Some(&Value::Bool(true)),
        })
    }

    async fn deliver(&self, delivery: Delivery<'_, ProbeOptions>) -> Result<Outcome, ErrorKind> {
        let now = self.0.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.peak.fetch_max(now, Ordering::SeqCst);
        if !delivery.options.delay.is_zero() {
            tokio::time::sleep(delivery.options.delay).await;
        }
        self.0.current.fetch_sub(1, Ordering::SeqCst);
        self.0.deliveries.fetch_add(1, Ordering::SeqCst);
        if delivery.options.panic {
            panic!("probe told to panic");
        }
        if delivery.options.fail {
            return Err(ErrorKind::custom("probe told to fail"));
        }
        Ok(Outcome::Delivered)
    }
}

/// A receiving actor that counts what it gets (herald-testkit's [`Recorder`]).
pub type Inbox = Recorder<AtomicUsize>;

/// A recipient of a fresh inbox, for calls that need one but deliver nothing.
pub fn unbound_recipient() -> Recipient<SignalMessage> {
    Inbox::start(Answer::Accept).0.recipient()
}

/// A receiving actor that takes `per_message` over each message, holding its mailbox
/// shut meanwhile (`ctx.wait`), so a burst fills its mailbox (actix's default: 16). A
/// `per_message` of an hour makes it blocked for the length of a test.
pub struct Busy {
    pub received: Arc<AtomicUsize>,
    pub per_message: Duration,
}

impl Busy {
    pub fn start(per_message: Duration) -> (Addr<Busy>, Arc<AtomicUsize>) {
        let received = Arc::new(AtomicUsize::new(0));
        let addr = Busy {
            received: received.clone(),
            per_message,
        }
        .start();
        (addr, received)
    }
}

impl Actor for Busy {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Busy {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, _: SignalMessage, ctx: &mut Context<Self>) -> Self::Result {
        self.received.fetch_add(1, Ordering::SeqCst);
        ctx.wait(actix::clock::sleep(self.per_message).into_actor(self));
        Ok(())
    }
}

/// Dispatches `targets` with a fresh [`signal`], bounded by [`within`]; the dispatcher
/// must be running.
pub async fn dispatch(
    dispatcher: &Addr<herald_core::Dispatcher>,
    targets: impl herald_core::IntoTargets,
) -> herald_core::DispatchResult {
    let sent = dispatcher.send(herald_core::Dispatch::new(signal(), targets));
    within("dispatch", sent).await.expect("dispatcher running")
}
