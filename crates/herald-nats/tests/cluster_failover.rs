//! Durable mode through a failover: a 3-server JetStream cluster on loopback, a stream
//! with 3 replicas, 5,000 signals published and consumed while the stream's leader is
//! killed (SIGKILL) mid-way. Every signal whose dispatch reported success reaches the
//! target at least once, every report is honest, and the consumer resumes by itself.
//! And a JetStream publish to a subject no stream takes is `NotFound` at once, never
//! retried: only a stream that exists is waited for.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use herald_core::{Dispatch, Dispatcher, ErrorKind, Target};
use herald_nats::{Durable, NatsDispatcherExt, NatsOptions, StreamSettings};
use herald_testkit::nats::NatsCluster;
use support::{Answer, NatsServer, signal, start_collector, within};

const N: u64 = 5_000;

/// A dispatch's signal id and how it ended.
type Report = (String, Result<(), ErrorKind>);

#[actix_rt::test]
async fn a_publish_no_stream_takes_is_not_found_at_once() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client).start();
    let target = Target::from(Durable::target("nobody.listens").unwrap());
    let result = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(1), [target])),
    )
    .await
    .unwrap();
    let error = result.unwrap_err();
    let failure = &error.first().error;
    assert!(matches!(failure.kind(), ErrorKind::NotFound), "{failure}");
    assert!(!failure.retryable());
}

/// Waits (bounded) until the cluster's JetStream takes the stream: its meta leader is
/// elected a few seconds after the servers start.
async fn open_replicated(client: &async_nats::Client) -> Durable {
    let settings = StreamSettings::new().replicas(3).unwrap();
    within("the cluster takes the stream", async {
        loop {
            match Durable::open_with(client, "ORDERS", &["failover.>"], &settings).await {
                Ok(durable) => return durable,
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    })
    .await
}

async fn stream_leader(client: &async_nats::Client) -> String {
    let jetstream = async_nats::jetstream::new(client.clone());
    within("the stream's leader", async {
        loop {
            if let Ok(mut stream) = jetstream.get_stream("ORDERS").await
                && let Ok(info) = stream.info().await
                && let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone())
            {
                return leader;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

#[actix_rt::test]
async fn killing_the_stream_leader_mid_stream_loses_nothing() {
    let mut cluster = NatsCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let connect = |name: &'static str| {
        let urls = cluster.urls();
        async move {
            within("connect", NatsOptions::new(urls).name(name).connect())
                .await
                .expect("connect to the cluster")
        }
    };
    let publishing = connect("publisher").await;
    let consuming = connect("consumer").await;
    open_replicated(&publishing).await;
    // The consumer on a client of its own (see docs/DISTRIBUTED.md, known issues).
    let durable = open_replicated(&consuming).await;
    let leader = stream_leader(&publishing).await;

    let (collector, seen) = start_collector(Answer::Accept);
    let local = Dispatcher::builder().start();
    let running = durable
        .consumer(
            "workers",
            local,
            [Target::pid(collector.recipient()).sync()],
        )
        .ack_wait(Duration::from_secs(2))
        .start()
        .await
        .expect("consumer");

    let publisher = Dispatcher::builder().nats(publishing.clone()).start();
    // Long enough to publish through an election (5–11 s measured).
    let target = Target::from(
        Durable::target("failover.orders")
            .unwrap()
            .timeout(Duration::from_secs(30)),
    );
    let reports: Arc<Mutex<Vec<Report>>> = Arc::default();
    let sending = {
        let reports = reports.clone();
        let signals: Vec<_> = (0..N).map(signal).collect();
        actix_rt::spawn(async move {
            let sends = futures_util::stream::iter(signals)
                .map(|signal| {
                    let id = signal.id().to_owned();
                    let send = publisher.send(Dispatch::new(signal, [target.clone()]));
                    async move { (id, send.await) }
                })
                .buffer_unordered(32);
            futures_util::pin_mut!(sends);
            while let Some((id, answer)) = sends.next().await {
                let result = answer
                    .expect("publisher running")
                    .map(drop)
                    .map_err(|e| e.into_failures().remove(0).error.into_kind());
                reports.lock().unwrap().push((id, result));
            }
        })
    };

    // Mid-way: the stream's leader dies as a crash would.
    within("half the signals delivered", async {
        while seen.lock().unwrap().len() < (N / 2) as usize {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let delivered_at_kill = seen.lock().unwrap().len();
    let killed = Instant::now();
    cluster.server_mut(&leader).expect("a named server").kill();
    within("the consumer resumes", async {
        while seen.lock().unwrap().len() <= delivered_at_kill + 100 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let resumed_after = killed.elapsed();

    within("every publish reported", sending)
        .await
        .expect("publishing task");
    let reports = std::mem::take(&mut *reports.lock().unwrap());
    assert_eq!(reports.len(), N as usize, "every dispatch answered");
    let mut stored = HashSet::new();
    let mut failed = Vec::new();
    for (id, result) in reports {
        match result {
            Ok(()) => {
                stored.insert(id);
            }
            // Honest: a failure says it may succeed when tried again.
            Err(kind) => {
                assert!(kind.retryable(), "{kind}");
                failed.push(kind.name());
            }
        }
    }
    within("every stored signal delivered", async {
        loop {
            let ids: HashSet<String> = seen
                .lock()
                .unwrap()
                .iter()
                .map(|s| s.id().to_owned())
                .collect();
            if stored.is_subset(&ids) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    let seen = seen.lock().unwrap();
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for signal in seen.iter() {
        *copies.entry(signal.id()).or_default() += 1;
    }
    let duplicates: usize = copies.values().map(|n| n - 1).sum();
    eprintln!(
        "failover: leader {leader} killed after {delivered_at_kill} deliveries; consumer \
         resumed in {resumed_after:?}; {} of {N} publishes stored, {} failed {failed:?}; \
         {} delivered, {duplicates} duplicates",
        stored.len(),
        failed.len(),
        seen.len(),
    );
    assert!(running.is_running(), "the consumer is still running");
    // Nothing comes that was never published.
    assert!(copies.len() <= N as usize);
}
