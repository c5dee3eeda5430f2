//! The registry of named actors and the `named` adapter.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::prelude::*;
use herald_core::{Dispatch, Dispatcher, ErrorKind, Registry, RegistryError, Target};
use support::{Answer, Inbox, Stop, signal, within};

#[actix_rt::test]
async fn register_lookup_unregister() {
    let registry = Registry::new();
    let (inbox, _) = Inbox::start(Answer::Accept);
    registry
        .register("audit", inbox.clone().recipient())
        .unwrap();
    assert!(registry.lookup("audit").is_ok());
    assert_eq!(registry.names(), ["audit"]);

    let (other, _) = Inbox::start(Answer::Accept);
    assert_eq!(
        registry.register("audit", other.clone().recipient()),
        Err(RegistryError::AlreadyRegistered {
            name: "audit".into()
        })
    );
    assert!(
        registry
            .replace("audit", other.clone().recipient())
            .unwrap(),
        "a live actor was replaced"
    );
    assert!(registry.unregister("audit"));
    assert!(!registry.unregister("audit"));
    assert_eq!(
        registry.lookup("audit").unwrap_err(),
        RegistryError::NotFound {
            name: "audit".into()
        }
    );
}

#[actix_rt::test]
async fn a_stopped_actor_is_not_alive_then_pruned_and_its_name_is_free() {
    let registry = Registry::new();
    let (inbox, _) = Inbox::start(Answer::Accept);
    registry
        .register("worker", inbox.clone().recipient())
        .unwrap();
    within("stop", inbox.send(Stop)).await.unwrap();

    assert_eq!(
        registry.lookup("worker").unwrap_err(),
        RegistryError::NotAlive {
            name: "worker".into()
        }
    );
    assert_eq!(
        registry.lookup("worker").unwrap_err(),
        RegistryError::NotFound {
            name: "worker".into()
        },
        "pruned after being found dead"
    );
    let (next, _) = Inbox::start(Answer::Accept);
    registry.register("worker", next.recipient()).unwrap();
}

#[actix_rt::test]
async fn an_entry_keeps_its_actor_reachable_until_unregistered() {
    let registry = Registry::new();
    let (inbox, received) = Inbox::start(Answer::Accept);
    let weak = inbox.downgrade();
    registry.register("kept", inbox.recipient()).unwrap();
    // The registry holds the only address, as actix's own registry does.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let target = Target::named("kept").unwrap().sync();
    within(
        "dispatch",
        dispatcher(&registry).send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap()
    .expect("the registered actor is alive");
    assert_eq!(received.load(Ordering::SeqCst), 1);
    assert!(weak.upgrade().is_some());

    assert!(registry.unregister("kept"));
    within("the unregistered actor stops", async {
        while weak.upgrade().is_some() {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[actix_rt::test]
async fn bad_names_are_rejected() {
    let registry = Registry::new();
    let (inbox, _) = Inbox::start(Answer::Accept);
    for bad in ["", "has space", "tab\there", "nul\0", &"x".repeat(256)] {
        let error = registry
            .register(bad, inbox.clone().recipient())
            .unwrap_err();
        assert!(
            matches!(error, RegistryError::InvalidName { .. }),
            "{bad:?}"
        );
        assert!(Target::named(bad).is_err(), "{bad:?}");
    }
    registry
        .register("agent-7/planner", inbox.recipient())
        .unwrap();
}

fn dispatcher(registry: &Registry) -> Addr<Dispatcher> {
    Dispatcher::builder()
        .pool_size(0)
        .registry(registry.clone())
        .start()
}

#[actix_rt::test]
async fn named_async_is_delivered_and_sync_gets_the_reply() {
    let registry = Registry::new();
    let (accept, accepted) = Inbox::start(Answer::Accept);
    let (reject, _) = Inbox::start(Answer::Reject);
    // The registry is weak: the test keeps the addresses (and so the actors) alive.
    registry
        .register("accept", accept.clone().recipient())
        .unwrap();
    registry
        .register("reject", reject.clone().recipient())
        .unwrap();
    let targets: Vec<Target> = vec![
        Target::named("accept").unwrap().into(),
        Target::named("accept").unwrap().sync().into(),
        Target::named("reject").unwrap().sync().into(),
        Target::named("nobody").unwrap().into(),
    ];
    let error = within(
        "dispatch",
        dispatcher(&registry).send(Dispatch::new(signal(), targets)),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    let kinds: Vec<_> = error
        .failures()
        .iter()
        .map(|f| (f.index, f.error.kind().name()))
        .collect();
    assert_eq!(kinds, [(2, "rejected"), (3, "not_found")]);
    assert!(
        error.failures()[1]
            .error
            .to_string()
            .contains("named(nobody)")
    );
}

#[actix_rt::test]
async fn named_sync_times_out_on_the_paused_clock() {
    tokio::time::pause();
    let registry = Registry::new();
    let (hang, _) = Inbox::start(Answer::Hang);
    registry.register("slow", hang.clone().recipient()).unwrap();
    let target = Target::named("slow")
        .unwrap()
        .sync()
        .timeout(Duration::from_millis(300));
    let error = within(
        "dispatch",
        dispatcher(&registry).send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(
        matches!(error.first().error.kind(), ErrorKind::Timeout(d) if *d == Duration::from_millis(300))
    );
}

#[actix_rt::test]
async fn named_to_a_stopped_actor_is_not_alive() {
    let registry = Registry::new();
    let (inbox, _) = Inbox::start(Answer::Accept);
    registry
        .register("gone", inbox.clone().recipient())
        .unwrap();
    within("stop", inbox.send(Stop)).await.unwrap();
    let target = Target::named("gone").unwrap();
    let error = within(
        "dispatch",
        dispatcher(&registry).send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(error.first().error.kind().name(), "not_alive");
}

#[test]
fn named_targets_from_data() {
    let target = Target::from_config(
        serde_json::json!({"adapter": "named", "name": "audit", "mode": "sync", "timeout_ms": 250}),
    )
    .unwrap();
    assert_eq!(
        target.describe().to_string(),
        "named(audit, sync, timeout 250ms)"
    );
    let error = Target::from_config(serde_json::json!({"adapter": "named"})).unwrap_err();
    assert_eq!(error.to_string(), "missing field `name`");
    let error =
        Target::from_config(serde_json::json!({"adapter": "named", "name": "a", "mode": "maybe"}))
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `mode` must be one of async, best_effort, sync"
    );
}
