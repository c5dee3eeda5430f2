//! Dead letters on JetStream, against a real nats-server: a delivery reports
//! "dead-lettered" once the stream stored its dead letter; they survive a server
//! restart; they are listed by target, kind and time; a redrive removes only what it
//! delivered; a store that cannot store says so.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use herald_core::resilience::Resilience;
use herald_core::{
    Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, Outcome, Target, TargetOptions,
};
use herald_nats::{DeadLetterStore, LetterFilter, StreamSettings};
use support::{NatsServer, signal, within};

/// Fails (not retryably) while down.
#[derive(Clone)]
struct Flaky(Arc<AtomicBool>);

#[derive(Debug)]
struct Nothing;
impl TargetOptions for Nothing {}

impl Adapter for Flaky {
    type Options = Nothing;

    fn validate(&self, _: &serde_json::Value) -> Result<Nothing, herald_core::TargetError> {
        Ok(Nothing)
    }

    async fn deliver(&self, _: Delivery<'_, Nothing>) -> Result<Outcome, ErrorKind> {
        match self.0.load(Ordering::SeqCst) {
            true => Ok(Outcome::Delivered),
            false => Err(ErrorKind::NotFound),
        }
    }
}

fn flaky(n: u64) -> Target {
    Target::custom("flaky", serde_json::json!({ "n": n }))
}

/// A dispatcher whose `flaky` targets fail until `up` is set, dead-lettering into
/// `store`.
fn dispatcher(up: &Arc<AtomicBool>, store: &DeadLetterStore) -> actix::Addr<Dispatcher> {
    let adapter = Flaky(Arc::clone(up));
    Dispatcher::builder()
        .adapter("flaky", move || adapter.clone())
        .resilience(Resilience::new().dead_letter(store.target()))
        .start()
}

/// Dispatches signals `0..n` to `targets`, each failing; checks every failure reports
/// its dead letter as delivered (stored).
async fn fail(dispatcher: &actix::Addr<Dispatcher>, n: u64, targets: &[Target]) {
    for i in 0..n {
        let sent = within(
            "dispatch",
            dispatcher.send(Dispatch::new(signal(i), targets.to_vec())),
        );
        let error = sent.await.unwrap().unwrap_err();
        assert_eq!(error.failures().len(), targets.len());
        for failure in error.failures() {
            let dead_letter = failure.error.dead_letter().expect("a dead letter was sent");
            assert!(dead_letter.delivered(), "{dead_letter}");
        }
    }
}

#[actix_rt::test]
async fn dead_letters_survive_a_restart_and_are_listed_by_target_kind_and_time() {
    let mut server = NatsServer::start();
    let client = server.client().await;
    let store = within(
        "open",
        DeadLetterStore::open(&client, "ORDERS", &StreamSettings::new()),
    )
    .await
    .unwrap();
    let up = Arc::new(AtomicBool::new(false));
    let dispatcher = dispatcher(&up, &store);
    let before = SystemTime::now();
    fail(&dispatcher, 3, &[flaky(1), flaky(2)]).await;
    assert_eq!(store.stats().stored, 6);

    server.restart();
    let client = server.client().await;
    let store = within(
        "reopen",
        DeadLetterStore::open(&client, "ORDERS", &StreamSettings::new()),
    )
    .await
    .unwrap();
    let all = within("list", store.list(&LetterFilter::new()))
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert!(
        all.iter()
            .all(|stored| stored.stored_at >= before - Duration::from_secs(5))
    );
    assert!(all.iter().all(|stored| stored.letter.kind() == "not_found"));

    let of_one = LetterFilter::new().target(&flaky(1));
    let listed = within("by target", store.list(&of_one)).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|stored| stored.letter.failed_at(&flaky(1)))
    );
    assert_eq!(within("count", store.count(&of_one)).await.unwrap(), 3);

    let by_kind = |kind: &str| LetterFilter::new().kind(kind);
    assert_eq!(
        within("kind", store.list(&by_kind("not_found")))
            .await
            .unwrap()
            .len(),
        6
    );
    assert!(
        within("kind", store.list(&by_kind("timeout")))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        within("kind", store.list(&by_kind("a.b >")))
            .await
            .unwrap()
            .is_empty()
    );

    let later = LetterFilter::new().since(SystemTime::now() + Duration::from_secs(3600));
    assert!(
        within("since", store.list(&later))
            .await
            .unwrap()
            .is_empty()
    );
    let earlier = LetterFilter::new().until(before - Duration::from_secs(3600));
    assert!(
        within("until", store.list(&earlier))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        within("limit", store.list(&LetterFilter::new().limit(2)))
            .await
            .unwrap()
            .len(),
        2
    );
}

#[actix_rt::test]
async fn a_redrive_removes_what_it_delivered_and_keeps_the_rest() {
    let server = NatsServer::start();
    let client = server.client().await;
    let store = within(
        "open",
        DeadLetterStore::open(&client, "REDRIVE", &StreamSettings::new()),
    )
    .await
    .unwrap();
    let up = Arc::new(AtomicBool::new(false));
    let dispatcher = dispatcher(&up, &store);
    fail(&dispatcher, 3, &[flaky(1), flaky(2)]).await;

    // Still down: each letter of target 2 fails again, is stored anew, the old removed.
    let all = LetterFilter::new();
    let report = within("redrive", store.redrive(&all, &dispatcher, &[flaky(2)]))
        .await
        .unwrap();
    assert_eq!(
        (report.redriven, report.failed, report.unmatched),
        (0, 3, 3)
    );
    let kept = within("list", store.list(&all)).await.unwrap();
    assert_eq!(
        kept.len(),
        6,
        "a failed redrive keeps its letter (stored anew)"
    );

    // Up: target 1's letters are delivered and removed; target 2's are not asked for.
    up.store(true, Ordering::SeqCst);
    let report = within("redrive", store.redrive(&all, &dispatcher, &[flaky(1)]))
        .await
        .unwrap();
    assert_eq!(
        (report.redriven, report.failed, report.unmatched),
        (3, 0, 3)
    );
    let kept = within("list", store.list(&all)).await.unwrap();
    assert_eq!(kept.len(), 3);
    assert!(kept.iter().all(|stored| stored.letter.failed_at(&flaky(2))));
    assert_eq!(store.stats().redriven, 3);

    // A letter deleted by hand is gone; a second delete finds nothing.
    assert!(
        within("delete", store.delete(kept[0].sequence))
            .await
            .unwrap()
    );
    assert!(
        !within("delete", store.delete(kept[0].sequence))
            .await
            .unwrap()
    );
    assert_eq!(within("list", store.list(&all)).await.unwrap().len(), 2);
}

#[actix_rt::test]
async fn a_dead_letter_the_store_cannot_keep_is_reported_failed() {
    let mut server = NatsServer::start();
    let client = server.client().await;
    let store = within(
        "open",
        DeadLetterStore::open(&client, "DOWN", &StreamSettings::new()),
    )
    .await
    .unwrap()
    .timeout(Duration::from_secs(1));
    let up = Arc::new(AtomicBool::new(false));
    let dispatcher = dispatcher(&up, &store);
    server.kill();
    let sent = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(0), [flaky(1)])),
    );
    let error = sent.await.unwrap().unwrap_err();
    let dead_letter = error
        .first()
        .error
        .dead_letter()
        .expect("a dead letter was sent");
    assert!(!dead_letter.delivered(), "{dead_letter}");
    assert_eq!(store.stats().failed, 1);
    assert_eq!(store.stats().stored, 0);
}

#[actix_rt::test]
async fn the_store_refuses_a_bad_name_and_what_is_not_a_dead_letter() {
    let server = NatsServer::start();
    let client = server.client().await;
    for name in ["", "a.b", "a b", "dlq>", &"x".repeat(65)] {
        let opened = within(
            "open",
            DeadLetterStore::open(&client, name, &StreamSettings::new()),
        )
        .await;
        assert!(opened.is_err(), "{name:?}");
    }
    let store = within(
        "open",
        DeadLetterStore::open(&client, "PLAIN", &StreamSettings::new()),
    )
    .await
    .unwrap();
    let dispatcher = Dispatcher::builder().start();
    let sent = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(0), [store.target()])),
    );
    let error = sent.await.unwrap().unwrap_err();
    assert!(
        error
            .first()
            .error
            .to_string()
            .contains("not a dead letter"),
        "{error}"
    );
    assert!(
        within("list", store.list(&LetterFilter::new()))
            .await
            .unwrap()
            .is_empty()
    );
}
