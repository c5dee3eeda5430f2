//! Interop with the official `cloudevents-sdk` crate's NATS binding (structured
//! mode), both ways, through a real nats-server.

mod support;

use bytes::Bytes;
use cloudevents::binding::nats::{MessageExt, NatsCloudEvent};
use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};
use futures_util::StreamExt;
use herald_core::{Dispatch, Dispatcher, Target};
use herald_nats::{Bridge, NatsDispatcherExt, NatsTarget};
use support::{Answer, NatsServer, signal, start_collector, until_seen, within};

#[actix_rt::test]
async fn an_event_written_by_the_sdk_is_read_by_the_bridge() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let (collector, seen) = start_collector(Answer::Accept);
    let _bridge = Bridge::new(
        client.clone(),
        "interop.in",
        dispatcher,
        [Target::pid(collector.recipient())],
    )
    .start()
    .await
    .unwrap();
    let event = EventBuilderV10::new()
        .id("sdk-1")
        .ty("com.example.sdk")
        .source("http://localhost/sdk")
        .extension("tenant", "acme")
        .data("application/json", serde_json::json!({"hello": "world"}))
        .build()
        .unwrap();
    let payload = NatsCloudEvent::from_event(event).unwrap().payload;
    client
        .publish("interop.in", Bytes::from(payload))
        .await
        .unwrap();
    until_seen("the sdk's event", &seen, 1).await;
    let got = seen.lock().unwrap()[0].clone();
    assert_eq!(got.id(), "sdk-1");
    assert_eq!(got.ty(), "com.example.sdk");
    assert_eq!(got.source(), "http://localhost/sdk");
    assert_eq!(
        got.extension("tenant").map(ToString::to_string).as_deref(),
        Some("acme")
    );
    assert_eq!(
        got.data().and_then(|d| d.as_json()),
        Some(&serde_json::json!({"hello": "world"}))
    );
}

#[actix_rt::test]
async fn a_signal_published_by_herald_is_read_by_the_sdk() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let mut raw = client.subscribe("interop.out").await.unwrap();
    client.flush().await.unwrap();
    let sent = signal(42);
    let to = Target::from(NatsTarget::to("interop.out").unwrap());
    within(
        "publish",
        dispatcher.send(Dispatch::new(sent.clone(), [to])),
    )
    .await
    .unwrap()
    .unwrap();
    let message = within("receive", raw.next()).await.unwrap();
    let theirs = sdk_nats::Message {
        subject: "interop.out".into(),
        reply: None,
        payload: message.payload.clone(),
        headers: None,
        status: None,
        description: None,
        length: message.payload.len(),
    };
    let event = theirs.to_event().unwrap();
    assert_eq!(event.id(), sent.id());
    assert_eq!(event.ty(), sent.ty());
    assert_eq!(event.source().to_string(), sent.source());
    assert_eq!(
        event
            .extension("tenant")
            .map(ToString::to_string)
            .as_deref(),
        Some("acme")
    );
}
