//! Named actors across nodes: exposed on one client, called from a dispatcher on
//! another, against a real nats-server.

mod support;

use std::time::Duration;

use actix::prelude::*;
use herald_core::{Dispatch, DispatchResult, Dispatcher, Target};
use herald_nats::{NatsDispatcherExt, RemoteNamedTarget, expose};
use support::{Answer, NatsServer, signal, start_collector, until_seen, within};

fn kind(result: &DispatchResult) -> &'static str {
    result.as_ref().unwrap_err().first().error.kind().name()
}

async fn call(dispatcher: &Addr<Dispatcher>, target: RemoteNamedTarget) -> DispatchResult {
    within(
        "call",
        dispatcher.send(Dispatch::new(signal(1), [Target::from(target)])),
    )
    .await
    .unwrap()
}

#[actix_rt::test]
async fn a_name_exposed_on_one_node_is_called_from_another() {
    let server = NatsServer::start();
    let node_a = server.client().await;
    let node_b = Dispatcher::builder().nats(server.client().await).start();

    let (audit, seen) = start_collector(Answer::Accept);
    let _exposed = expose(&node_a, "audit.log", audit.recipient())
        .await
        .unwrap();
    let (picky, _) = start_collector(Answer::Reject);
    let _picky = expose(&node_a, "picky", picky.recipient()).await.unwrap();
    let (slow, _) = start_collector(Answer::Hang);
    let _slow = expose(&node_a, "slow", slow.recipient()).await.unwrap();

    // Async: published, then handled over there.
    let report = call(&node_b, RemoteNamedTarget::new("audit.log").unwrap())
        .await
        .unwrap();
    assert_eq!(report.len(), 1);
    until_seen("the async call", &seen, 1).await;

    // Sync: the actor's answer comes back.
    call(&node_b, RemoteNamedTarget::new("audit.log").unwrap().sync())
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);

    // The remote rejection is the same kind as a local one.
    let rejected = call(&node_b, RemoteNamedTarget::new("picky").unwrap().sync()).await;
    assert_eq!(kind(&rejected), "rejected");
    assert!(
        rejected
            .unwrap_err()
            .to_string()
            .contains(herald_testkit::receiver::REJECTION)
    );

    // A slow actor: the target's timeout holds.
    let slow_call = RemoteNamedTarget::new("slow")
        .unwrap()
        .sync()
        .timeout(Duration::from_millis(200));
    assert_eq!(kind(&call(&node_b, slow_call).await), "timeout");

    // No node exposes the name: not found.
    let nobody = RemoteNamedTarget::new("nobody").unwrap().sync();
    assert_eq!(kind(&call(&node_b, nobody).await), "not_found");
}

/// Calls itself by its remote name, synchronously, from inside its handler.
struct Narcissus {
    dispatcher: Addr<Dispatcher>,
    result: Option<tokio::sync::oneshot::Sender<&'static str>>,
}

impl Actor for Narcissus {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Go;

impl Handler<Go> for Narcissus {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Go, ctx: &mut Context<Self>) -> Self::Result {
        let target = Target::from(
            RemoteNamedTarget::new("me")
                .unwrap()
                .sync()
                .timeout(Duration::from_secs(2)),
        );
        let dispatch = Dispatch::new(signal(2), [target]).caller(&ctx.address());
        let dispatcher = self.dispatcher.clone();
        Box::pin(
            async move { dispatcher.send(dispatch).await.unwrap() }
                .into_actor(self)
                .map(|result, actor, _| {
                    let kind = result
                        .as_ref()
                        .err()
                        .map_or("ok", |e| e.first().error.kind().name());
                    if let Some(tx) = actor.result.take() {
                        let _ = tx.send(kind);
                    }
                }),
        )
    }
}

impl Handler<herald_core::SignalMessage> for Narcissus {
    type Result = Result<(), herald_core::Rejection>;

    fn handle(&mut self, _: herald_core::SignalMessage, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

#[actix_rt::test]
async fn a_sync_call_to_itself_across_nats_is_refused_not_deadlocked() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let me = Narcissus {
        dispatcher,
        result: Some(tx),
    }
    .start();
    let _exposed = expose(&client, "me", me.clone().recipient()).await.unwrap();
    me.send(Go).await.unwrap();
    assert_eq!(within("the self call", rx).await.unwrap(), "calling_self");
}

#[actix_rt::test]
async fn remote_named_targets_read_from_data() {
    let target = Target::from_config(serde_json::json!({
        "adapter": "nats_named", "name": "audit", "mode": "sync", "timeout_ms": 250
    }))
    .unwrap();
    assert_eq!(target.adapter(), "nats_named");
    let server = NatsServer::start();
    let dispatcher = Dispatcher::builder().nats(server.client().await).start();
    let bad = Target::custom("nats_named", serde_json::json!({"name": "has space"}));
    let problems = within(
        "check",
        dispatcher.send(herald_core::CheckTargets::new(vec![target, bad])),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].index, 1);
}

#[actix_rt::test]
async fn a_name_answers_another_node_as_soon_as_it_is_exposed() {
    // `expose` returns once the server has registered the name's subscription: a sync
    // call from another connection right after it finds the name.
    let server = NatsServer::start();
    let node_a = server.client().await;
    let node_b = Dispatcher::builder().nats(server.client().await).start();
    let (audit, seen) = start_collector(Answer::Accept);
    let mut exposed = Vec::new();
    for round in 0..30 {
        let name = format!("audit.{round}");
        exposed.push(
            within("expose", expose(&node_a, &name, audit.clone().recipient()))
                .await
                .unwrap(),
        );
        call(&node_b, RemoteNamedTarget::new(&name).unwrap().sync())
            .await
            .unwrap_or_else(|failure| panic!("round {round}: {failure}"));
    }
    assert_eq!(seen.lock().unwrap().len(), 30);
}

#[actix_rt::test]
async fn calls_beyond_max_calls_are_refused_at_once_not_buffered() {
    const CALLS: usize = herald_nats::MAX_CALLS + 44;
    let server = NatsServer::start();
    let node_a = server.client().await;
    let (stalled, _) = start_collector(Answer::Hang);
    let exposed = within("expose", expose(&node_a, "slow", stalled.recipient()))
        .await
        .unwrap();
    let caller = Dispatcher::builder().nats(server.client().await).start();
    let target = RemoteNamedTarget::new("slow")
        .unwrap()
        .sync()
        .timeout(Duration::from_secs(3));
    let calls = (0..CALLS).map(|_| call(&caller, target.clone()));
    let results = futures_util::future::join_all(calls).await;
    let kinds: Vec<&str> = results.iter().map(kind).collect();
    let overloaded = kinds.iter().filter(|k| **k == "overloaded").count();
    let timed_out = kinds.iter().filter(|k| **k == "timeout").count();
    assert_eq!(overloaded + timed_out, CALLS, "{kinds:?}");
    assert!(
        timed_out <= herald_nats::MAX_CALLS,
        "at most MAX_CALLS served"
    );
    assert!(overloaded >= CALLS - herald_nats::MAX_CALLS);
    assert_eq!(exposed.refused(), overloaded as u64);
}
