//! The `nats` adapter and the bridge against a real nats-server: both body modes,
//! wildcards, queue groups, malformed messages, trace context.

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use herald_core::{Dispatch, Dispatcher, Target};
use herald_nats::{Bridge, NatsDispatcherExt, NatsTarget};
use herald_signal::Signal;
use support::{Answer, NatsServer, signal, start_collector, until_seen, within};

#[actix_rt::test]
async fn signals_cross_in_both_body_modes_through_a_wildcard_bridge() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let (collector, seen) = start_collector(Answer::Accept);
    let _bridge = Bridge::new(
        client.clone(),
        "orders.>",
        dispatcher.clone(),
        [Target::pid(collector.recipient())],
    )
    .start()
    .await
    .unwrap();
    let structured = signal(1);
    let binary = signal(2);
    for (signal, target) in [
        (&structured, NatsTarget::to("orders.eu.placed").unwrap()),
        (
            &binary,
            NatsTarget::to("orders.us.placed").unwrap().binary(),
        ),
    ] {
        let report = within(
            "publish",
            dispatcher.send(Dispatch::new(signal.clone(), [Target::from(target)])),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(report.len(), 1);
    }
    // Not under `orders.>`: not bridged.
    within(
        "publish",
        dispatcher.send(Dispatch::new(
            signal(3),
            [Target::from(NatsTarget::to("invoices.x").unwrap())],
        )),
    )
    .await
    .unwrap()
    .unwrap();
    until_seen("two bridged signals", &seen, 2).await;
    let seen = seen.lock().unwrap();
    let mut ids: Vec<&str> = seen.iter().map(Signal::id).collect();
    ids.sort_unstable();
    let mut sent = vec![structured.id(), binary.id()];
    sent.sort_unstable();
    assert_eq!(ids, sent);
    for got in seen.iter() {
        assert_eq!(
            got.extension("tenant").map(ToString::to_string).as_deref(),
            Some("acme")
        );
        assert!(got.data().is_some());
    }
}

#[actix_rt::test]
async fn a_queue_group_handles_each_message_once() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let (collector, seen) = start_collector(Answer::Accept);
    let target = [Target::pid(collector.recipient())];
    let first = Bridge::new(client.clone(), "jobs.*", dispatcher.clone(), target.clone())
        .queue_group("workers")
        .start()
        .await
        .unwrap();
    let second = Bridge::new(server.client().await, "jobs.*", dispatcher.clone(), target)
        .queue_group("workers")
        .start()
        .await
        .unwrap();
    for n in 0..200 {
        let to = Target::from(NatsTarget::to("jobs.run").unwrap());
        within("publish", dispatcher.send(Dispatch::new(signal(n), [to])))
            .await
            .unwrap()
            .unwrap();
    }
    until_seen("200 jobs", &seen, 200).await;
    // Settle: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(seen.lock().unwrap().len(), 200);
    let (a, b) = (first.stats().received, second.stats().received);
    assert_eq!(a + b, 200);
}

#[actix_rt::test]
async fn malformed_messages_are_reported_and_the_bridge_goes_on() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let (collector, seen) = start_collector(Answer::Accept);
    let (dead, dead_seen) = start_collector(Answer::Accept);
    let bridge = Bridge::new(
        client.clone(),
        "in.>",
        dispatcher.clone(),
        [Target::pid(collector.recipient())],
    )
    .max_message_size(1024)
    .dead_letter(Target::pid(dead.recipient()))
    .start()
    .await
    .unwrap();
    client
        .publish("in.a", Bytes::from_static(b"{not json"))
        .await
        .unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("ce-specversion", "1.0");
    headers.insert("ce-id", "%FF");
    client
        .publish_with_headers("in.b", headers, Bytes::new())
        .await
        .unwrap();
    client
        .publish("in.c", Bytes::from(vec![b'x'; 4096]))
        .await
        .unwrap();
    client
        .publish("in.d", Bytes::from(signal(9).to_json_vec()))
        .await
        .unwrap();
    until_seen("the good one", &seen, 1).await;
    until_seen("three reports", &dead_seen, 3).await;
    assert_eq!(bridge.stats().malformed, 3);
    assert_eq!(bridge.stats().received, 4);
    let reports = dead_seen.lock().unwrap();
    assert!(reports.iter().all(|s| s.ty() == "herald.nats.malformed"));
}

#[actix_rt::test]
async fn a_filtered_bridge_dispatches_only_what_its_filter_matches() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let (collector, seen) = start_collector(Answer::Accept);
    let filter = herald_signal::Filter::from_json(&serde_json::json!({
        "not": {"exact": {"tenant": "test"}}
    }))
    .unwrap();
    let bridge = Bridge::new(
        client.clone(),
        "in.>",
        dispatcher.clone(),
        [Target::pid(collector.recipient())],
    )
    .filter(filter)
    .start()
    .await
    .unwrap();
    let test = signal(1)
        .to_builder()
        .extension("tenant", "test")
        .build()
        .unwrap();
    for signal in [test, signal(2)] {
        client
            .publish("in.x", Bytes::from(signal.to_json_vec()))
            .await
            .unwrap();
    }
    until_seen("the one that matches", &seen, 1).await;
    within("the filtered count", async {
        while bridge.stats().filtered < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let stats = bridge.stats();
    assert_eq!((stats.received, stats.filtered), (2, 1));
    assert_eq!(
        seen.lock().unwrap()[0]
            .extension("tenant")
            .unwrap()
            .to_string(),
        "acme"
    );
}

#[actix_rt::test]
async fn targets_read_from_data_and_bad_subjects_are_refused() {
    let target = Target::from_config(serde_json::json!({
        "adapter": "nats", "subject": "a.b", "body": "binary", "jetstream": true, "timeout_ms": 100
    }))
    .unwrap();
    let server = NatsServer::start();
    let dispatcher = Dispatcher::builder().nats(server.client().await).start();
    let checked = within(
        "check",
        dispatcher.send(herald_core::CheckTargets::new(vec![
            target,
            Target::custom("nats", serde_json::json!({"subject": "a.*"})),
            Target::custom("nats", serde_json::json!({"subject": "a..b"})),
            Target::custom("nats", serde_json::json!({"body": "xml"})),
        ])),
    )
    .await
    .unwrap()
    .unwrap_err();
    let problems: Vec<String> = checked.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].contains("wildcard"), "{problems:?}");
    assert!(
        problems[2].contains("field `body` must be one of structured, binary"),
        "{problems:?}"
    );
}

#[actix_rt::test]
async fn a_raw_subscriber_sees_what_the_adapter_publishes() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let mut raw = client.subscribe("order.placed").await.unwrap();
    client.flush().await.unwrap();
    let sent = signal(5);
    // Default subject: the signal's type.
    let to = Target::from(NatsTarget::by_type());
    within(
        "publish",
        dispatcher.send(Dispatch::new(sent.clone(), [to])),
    )
    .await
    .unwrap()
    .unwrap();
    let message = within("receive", raw.next()).await.unwrap();
    assert_eq!(
        message
            .headers
            .as_ref()
            .and_then(|h| h.get("content-type"))
            .map(|v| v.as_str()),
        Some("application/cloudevents+json")
    );
    assert_eq!(
        Signal::from_json_slice(&message.payload).unwrap().id(),
        sent.id()
    );
}

#[actix_rt::test]
async fn a_started_bridge_gets_what_another_connection_publishes_at_once() {
    // `start` returns once the server has registered the subscription, not merely once
    // it was written to the socket: a publish from another connection right after it
    // is not lost. (Before the fix, a few of these rounds lost their message.)
    let server = NatsServer::start();
    let listener = server.client().await;
    let publisher = server.client().await;
    let dispatcher = Dispatcher::builder().start();
    let (collector, seen) = start_collector(Answer::Accept);
    let (headers, payload) = herald_nats::encode(&signal(1), herald_nats::BodyMode::Binary);
    let mut bridges = Vec::new();
    for round in 0..30 {
        let subject = format!("started.{round}");
        bridges.push(
            within(
                "start",
                Bridge::new(
                    listener.clone(),
                    subject.clone(),
                    dispatcher.clone(),
                    [Target::pid(collector.clone().recipient())],
                )
                .start(),
            )
            .await
            .unwrap(),
        );
        publisher
            .publish_with_headers(subject, headers.clone(), payload.clone())
            .await
            .unwrap();
        within("flush", publisher.flush()).await.unwrap();
        until_seen("the message published right after start", &seen, round + 1).await;
    }
}

#[actix_rt::test]
async fn a_bridge_and_an_exposed_name_say_when_their_client_closed() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().start();
    let (collector, _seen) = start_collector(Answer::Accept);
    let bridge = Bridge::new(
        client.clone(),
        "orders.>",
        dispatcher,
        [Target::pid(collector.clone().recipient())],
    )
    .start()
    .await
    .unwrap();
    let exposed = herald_nats::expose(&client, "audit", collector.recipient())
        .await
        .unwrap();
    assert!(bridge.is_running() && exposed.is_running());
    within("drain", client.drain()).await.unwrap();
    within("both stop", async {
        while bridge.is_running() || exposed.is_running() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}
