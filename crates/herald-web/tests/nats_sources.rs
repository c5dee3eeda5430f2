//! With feature `nats`, the operations show a running bridge's stats (a real
//! nats-server).
#![cfg(feature = "nats")]

mod support;

use std::sync::{Arc, Mutex};

use actix_web::App;
use herald_core::{Dispatcher, Target};
use herald_nats::Bridge;
use herald_signal::Signal;
use herald_testkit::receiver::{Answer, Recorder, until_seen};
use herald_web::Operations;
use serde_json::Value;
use support::within;

#[actix_rt::test]
async fn a_bridge_is_shown_with_its_counts() {
    let server = herald_testkit::nats::NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let client = within(
        "connect",
        herald_nats::NatsOptions::new([server.url()]).connect(),
    )
    .await
    .unwrap();
    let dispatcher = Dispatcher::builder().start();
    let (recorder, seen) = Recorder::<Mutex<Vec<Signal>>>::start(Answer::Accept);
    let bridge = Bridge::new(
        client.clone(),
        "orders",
        dispatcher.clone(),
        [Target::pid(recorder.recipient())],
    )
    .start();
    let bridge = Arc::new(within("bridge", bridge).await.unwrap());
    let signal = Signal::builder("order.placed").id("n-1").build().unwrap();
    within(
        "publish",
        client.publish("orders", signal.to_json_vec().into()),
    )
    .await
    .unwrap();
    within("publish", client.publish("orders", "not a signal".into()))
        .await
        .unwrap();
    within("flush", client.flush()).await.unwrap();
    until_seen("the bridged signal", &seen, 1).await;

    let operations = Operations::new(dispatcher)
        .bridge("orders", Arc::clone(&bridge))
        .insecure_open();
    let server = serve!(move || App::new().service(operations.clone().scope("/ops").unwrap()));
    let url = format!("{}/ops/api/bridges", server.url);
    let shown = within("bridges", async {
        loop {
            let mut response = awc::Client::new().get(&url).send().await.unwrap();
            let body: Value = response.json().await.unwrap();
            if body["bridges"][0]["malformed"] == 1 {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    let shown = &shown["bridges"][0];
    assert_eq!(shown["name"], "orders");
    assert_eq!(shown["received"], 2);
    assert_eq!(shown["dispatched"], 1);
    let consumers = format!("{}/ops/api/consumers", server.url);
    let mut response = within("consumers", awc::Client::new().get(&consumers).send())
        .await
        .unwrap();
    let body: Value = within("consumers", response.json()).await.unwrap();
    assert_eq!(body, serde_json::json!({ "consumers": [] }));
}
