//! Endpoint state a policy still needs is never forgotten, however many other
//! endpoints pass by: a failing circuit keeps its count, a spent rate limit stays
//! spent, the documented bound holds, and when every kept endpoint is pinned a new one
//! is refused, counted — never state silently lost.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use herald_core::resilience::{Breaker, RateLimit, Resilience};
use herald_core::{
    Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, Outcome, Stats, Target, TargetError,
    TargetOptions,
};
use serde_json::{Value, json};
use support::{signal, within};

/// Fails (retryably) while its switch is on.
#[derive(Clone, Default)]
struct Flaky(Arc<AtomicBool>);

#[derive(Debug)]
struct FlakyOptions;

impl TargetOptions for FlakyOptions {}

impl Adapter for Flaky {
    type Options = FlakyOptions;

    fn validate(&self, _: &Value) -> Result<FlakyOptions, TargetError> {
        Ok(FlakyOptions)
    }

    async fn deliver(&self, _: Delivery<'_, FlakyOptions>) -> Result<Outcome, ErrorKind> {
        if self.0.load(Ordering::SeqCst) {
            Err(ErrorKind::Connect("down".into()))
        } else {
            Ok(Outcome::Delivered)
        }
    }
}

fn at(endpoint: &str, target: Target) -> Target {
    target.with_resilience(Resilience::new().endpoint(endpoint))
}

async fn kind_of(dispatcher: &actix::Addr<Dispatcher>, target: Target) -> Option<ErrorKind> {
    let result = within("dispatch", dispatcher.send(Dispatch::new(signal(), target)))
        .await
        .expect("dispatcher running");
    result.err().map(|error| {
        let failure = &error.failures()[0];
        match failure.error.kind() {
            ErrorKind::CircuitOpen { .. } => ErrorKind::CircuitOpen {
                retry_in: Default::default(),
            },
            ErrorKind::RateLimited => ErrorKind::RateLimited,
            ErrorKind::Overloaded => ErrorKind::Overloaded,
            ErrorKind::Connect(text) => ErrorKind::Connect(text.clone()),
            other => panic!("unexpected {other:?}"),
        }
    })
}

/// Delivers once to each of `count` fresh endpoints (all succeed, all go idle).
async fn churn(dispatcher: &actix::Addr<Dispatcher>, count: usize) {
    for key in 0..count {
        let target = at(&format!("passer-by-{key}"), Target::noop());
        assert!(kind_of(dispatcher, target).await.is_none());
    }
}

#[actix_rt::test]
async fn a_failing_circuit_and_a_spent_rate_limit_survive_ten_thousand_passers_by() {
    tokio::time::pause();
    let down = Flaky::default();
    // Adapters on the dispatcher's own arbiter: the paused clock is this thread's.
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .adapter("flaky", {
            let down = down.clone();
            move || down.clone()
        })
        .resilience(Resilience::new().breaker(Breaker::new().failures(3)))
        .start();
    let victim = || at("victim", Target::custom("flaky", json!({})));
    let limited = || {
        Target::noop().with_resilience(
            Resilience::new()
                .endpoint("limited")
                .rate_limit(RateLimit::per_minute(1).unwrap().fail_fast()),
        )
    };

    down.0.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        assert!(matches!(
            kind_of(&dispatcher, victim()).await,
            Some(ErrorKind::Connect(_))
        ));
    }
    assert!(kind_of(&dispatcher, limited()).await.is_none());

    churn(&dispatcher, 10_050).await;

    // The third failure in a row opens the circuit: the count was kept.
    assert!(matches!(
        kind_of(&dispatcher, victim()).await,
        Some(ErrorKind::Connect(_))
    ));
    assert!(matches!(
        kind_of(&dispatcher, victim()).await,
        Some(ErrorKind::CircuitOpen { .. })
    ));
    // The minute's one turn is still spent.
    assert!(matches!(
        kind_of(&dispatcher, limited()).await,
        Some(ErrorKind::RateLimited)
    ));

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert!(
        stats.endpoints.len() <= 10_000,
        "the bound holds: {}",
        stats.endpoints.len()
    );
    assert_eq!(stats.endpoints_refused, 0);
}

#[actix_rt::test]
async fn a_map_full_of_open_circuits_refuses_a_new_endpoint_and_counts_it() {
    tokio::time::pause();
    let down = Flaky(Arc::new(AtomicBool::new(true)));
    // Adapters on the dispatcher's own arbiter: the paused clock is this thread's.
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .adapter("flaky", {
            let down = down.clone();
            move || down.clone()
        })
        .resilience(Resilience::new().breaker(Breaker::new().failures(1)))
        .max_endpoints(10)
        .start();
    for key in 0..10 {
        let target = at(&format!("open-{key}"), Target::custom("flaky", json!({})));
        assert!(matches!(
            kind_of(&dispatcher, target).await,
            Some(ErrorKind::Connect(_))
        ));
    }
    let newcomer = at("newcomer", Target::noop());
    assert!(matches!(
        kind_of(&dispatcher, newcomer).await,
        Some(ErrorKind::Overloaded)
    ));
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.endpoints_refused, 1);
    assert_eq!(stats.endpoints.len(), 10);
    assert!(!stats.endpoints.contains_key("newcomer"));
    // The open circuits are all still there, and still open.
    let open = at("open-3", Target::custom("flaky", json!({})));
    assert!(matches!(
        kind_of(&dispatcher, open).await,
        Some(ErrorKind::CircuitOpen { .. })
    ));

    // Once a circuit closes again (its endpoint recovered), its place can be taken.
    down.0.store(false, Ordering::SeqCst);
    tokio::time::advance(std::time::Duration::from_secs(120)).await;
    let probe = at("open-0", Target::custom("flaky", json!({})));
    assert!(kind_of(&dispatcher, probe).await.is_none());
    let newcomer = at("newcomer", Target::noop());
    assert!(kind_of(&dispatcher, newcomer).await.is_none());
}
