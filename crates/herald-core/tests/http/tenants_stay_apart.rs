//! Targets that differ in any field — a URL's query, a header, a secret — are different
//! targets everywhere Herald recognises one again: redrive, dedupe, endpoint state.

use crate::support::{Receiver, Reply, signal, within};
use herald_core::egress::Egress;
use herald_core::resilience::{DeadLetterQueue, Redrive, TakeDeadLetters};
use herald_core::{Dispatch, Dispatcher, ErrorKind, Outcome, Target};
use serde_json::{Value, json};

/// Reads tenant targets (from data) that may reach the test's 127.0.0.2 receiver.
fn tenant(config: Value) -> Target {
    let policy = Egress::default().allow("127.0.0.2").unwrap();
    Target::from_config_with(config, &policy).unwrap()
}

/// Two targets that differ only as `vary` makes them.
fn pair(url: &str, vary: fn(&str, &str) -> Value) -> (Target, Target) {
    (tenant(vary(url, "a")), tenant(vary(url, "b")))
}

fn by_query(url: &str, who: &str) -> Value {
    json!({"adapter": "http", "url": format!("{url}?tenant={who}"),
           "retry": {"max_attempts": 1}})
}

fn by_header(url: &str, who: &str) -> Value {
    json!({"adapter": "http", "url": url, "headers": {"authorization": format!("Bearer {who}")},
           "retry": {"max_attempts": 1}})
}

fn by_secret(url: &str, who: &str) -> Value {
    let secret = if who == "a" {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    } else {
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    };
    json!({"adapter": "webhook", "url": url, "secret": secret, "retry": {"max_attempts": 1}})
}

#[actix_rt::test]
async fn a_dead_letter_is_redriven_only_to_its_exact_target() {
    for vary in [by_query, by_header, by_secret] {
        let receiver = Receiver::start_at("127.0.0.2", 0, true, [Reply::Status(503)]);
        let (a, b) = pair(&receiver.url, vary);
        assert_eq!(a.describe().to_string(), b.describe().to_string());
        assert_ne!(a.fingerprint(), b.fingerprint());
        let queue = actix::Actor::start(DeadLetterQueue::default());
        let dispatcher = Dispatcher::builder().start();
        let failed = within(
            "dispatch",
            dispatcher.send(
                Dispatch::new(signal(), a.clone())
                    .dead_letter(Target::pid(queue.clone().recipient())),
            ),
        )
        .await
        .unwrap();
        assert!(failed.is_err());
        assert_eq!(receiver.requests().len(), 1);
        // Redrive offered the other tenant's target first: it must not be chosen.
        let report = within(
            "redrive",
            queue.send(Redrive::new(dispatcher.clone(), vec![b.clone()])),
        )
        .await
        .unwrap();
        assert_eq!((report.redriven, report.unmatched), (0, 1), "never to B");
        assert_eq!(receiver.requests().len(), 1, "nothing was sent to B");
        let report = within(
            "redrive",
            queue.send(Redrive::new(dispatcher.clone(), vec![b, a])),
        )
        .await
        .unwrap();
        assert_eq!(report.redriven, 1);
        let requests = receiver.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].uri, requests[0].uri, "the same query");
        assert_eq!(
            requests[1].header("authorization"),
            requests[0].header("authorization"),
            "the same header"
        );
        assert_eq!(
            requests[1].header("webhook-signature").is_some(),
            requests[0].header("webhook-signature").is_some()
        );
        let left = within("take", queue.send(TakeDeadLetters)).await.unwrap();
        assert!(left.is_empty());
    }
}

#[actix_rt::test]
async fn dedupe_keeps_each_target_apart() {
    let receiver = Receiver::start_at("127.0.0.2", 0, true, []);
    let dispatcher = Dispatcher::builder()
        .resilience(herald_core::resilience::Resilience::new().dedupe(Default::default()))
        .start();
    let (a, b) = pair(&receiver.url, by_query);
    let signal = signal();
    for target in [a.clone(), b, a] {
        within(
            "dispatch",
            dispatcher.send(Dispatch::new(signal.clone(), target)),
        )
        .await
        .unwrap()
        .unwrap();
    }
    assert_eq!(
        receiver.requests().len(),
        2,
        "a, b, then a's duplicate skipped"
    );
}

#[actix_rt::test]
async fn one_tenants_failures_do_not_open_anothers_circuit() {
    use herald_core::resilience::{Breaker, Resilience};
    let failing = vec![Reply::Status(503); 3];
    let receiver = Receiver::start_at("127.0.0.2", 0, true, failing);
    let dispatcher = Dispatcher::builder()
        .resilience(Resilience::new().breaker(Breaker::new().failures(3)))
        .start();
    let (a, b) = pair(&receiver.url, by_query);
    for _ in 0..3 {
        let result = within("a", dispatcher.send(Dispatch::new(signal(), a.clone())))
            .await
            .unwrap();
        assert!(result.is_err());
    }
    let refused = within("a open", dispatcher.send(Dispatch::new(signal(), a)))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        refused.failures()[0].error.kind(),
        ErrorKind::CircuitOpen { .. }
    ));
    let report = within("b", dispatcher.send(Dispatch::new(signal(), b)))
        .await
        .unwrap()
        .expect("b's circuit is its own");
    assert!(matches!(
        report.outcomes()[0],
        Outcome::Responded { status: 200, .. }
    ));
}
