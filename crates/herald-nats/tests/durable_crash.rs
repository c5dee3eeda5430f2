//! A durable consumer's process killed mid-stream (SIGKILL, not a clean shutdown)
//! loses nothing: 10,000 signals in a JetStream stream, a consumer process killed at
//! a random point, another started; every signal is delivered at least once, and only
//! what was in flight at the kill comes twice.
//!
//! Harness-less: the parent (`cargo test`) runs this binary again as the consumer
//! (`--consumer <url>`). The consumer's local target publishes each delivered signal
//! to `seen`, where the parent counts them.

mod support;

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use herald_core::{Dispatch, Dispatcher, Target};
use herald_nats::{Durable, NatsDispatcherExt, NatsOptions, NatsTarget, server_has_read};
use herald_signal::Signal;
use support::{NatsServer, signal, within};

const N: u64 = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(position) = args.iter().position(|a| a == "--consumer") {
        let url = args[position + 1].clone();
        actix::System::new().block_on(consumer(url));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        // `cargo test -- --list` asks harness-less tests for their names.
        println!("a_consumer_killed_mid_stream_loses_nothing: test");
        return;
    }
    actix::System::new().block_on(parent());
    println!("test a_consumer_killed_mid_stream_loses_nothing ... ok");
}

/// The consumer process: delivers the stream to a `nats` target on `seen`, until
/// killed.
async fn consumer(url: String) {
    let client = NatsOptions::new([url])
        .name("consumer")
        .connect()
        .await
        .expect("connect");
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let durable = Durable::open(&client, "ORDERS", &["durable.>"])
        .await
        .expect("stream");
    let seen = Target::from(NatsTarget::to("seen").expect("subject"));
    let _running = durable
        .consumer("workers", dispatcher, [seen])
        .ack_wait(Duration::from_secs(1))
        .start()
        .await
        .expect("consumer");
    std::future::pending::<()>().await;
}

fn spawn_consumer(url: &str) -> Child {
    Command::new(std::env::current_exe().expect("this test's path"))
        .args(["--consumer", url])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the consumer process")
}

async fn parent() {
    let server = NatsServer::start();
    let client = server.client().await;
    let publisher = Dispatcher::builder().nats(client.clone()).start();
    Durable::open(&client, "ORDERS", &["durable.>"])
        .await
        .unwrap();

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut subscription = client.subscribe("seen").await.unwrap();
    // The consumer process publishes to `seen` from its own connection.
    server_has_read(&client).await.unwrap();
    let collected = seen.clone();
    let collecting = actix_rt::spawn(async move {
        while let Some(message) = subscription.next().await {
            if let Ok(signal) = Signal::from_json_slice(&message.payload) {
                collected.lock().unwrap().push(signal.id().to_owned());
            }
        }
    });

    let target = Target::from(Durable::target("durable.orders").unwrap());
    let signals: Vec<Signal> = (0..N).map(signal).collect();
    let expected: HashSet<String> = signals.iter().map(|s| s.id().to_owned()).collect();
    let sends = futures_util::stream::iter(signals)
        .map(|s| publisher.send(Dispatch::new(s, [target.clone()])))
        .buffer_unordered(64)
        .collect::<Vec<_>>();
    for result in within("publish 10,000", sends).await {
        result.unwrap().unwrap();
    }

    let kill_at =
        2_000 + (std::collections::hash_map::RandomState::new().hash_one(N) % 6_000) as usize;
    let mut first = spawn_consumer(&server.url());
    within("the first consumer's part", async {
        while seen.lock().unwrap().len() < kill_at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    first.kill().expect("SIGKILL the first consumer");
    first.wait().expect("reap it");
    let at_kill = seen.lock().unwrap().len();

    let mut second = spawn_consumer(&server.url());
    let done = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let unique: HashSet<String> = seen.lock().unwrap().iter().cloned().collect();
            if unique.len() == expected.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    second.kill().expect("stop the second consumer");
    second.wait().expect("reap it");
    // Ended inside the runtime: a subscription dropped outside it would panic.
    collecting.abort();
    let _ = collecting.await;
    let seen = seen.lock().unwrap();
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert!(
        done.is_ok(),
        "only {} of {N} delivered after the restart",
        unique.len()
    );
    assert_eq!(unique, expected, "none lost");
    let duplicates = seen.len() - unique.len();
    println!("killed after {at_kill} deliveries; {duplicates} delivered twice");
    assert!(
        duplicates <= 500,
        "{duplicates} duplicates: more than what was in flight"
    );
}
