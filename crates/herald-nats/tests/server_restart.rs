//! nats-server killed and restarted mid-stream: every dispatch is reported, none hangs
//! past its timeout, and delivery resumes after the reconnect.

mod support;

use std::time::Duration;

use async_nats::connection::State;
use herald_core::{Dispatch, Dispatcher, Target};
use herald_nats::{Bridge, NatsDispatcherExt, NatsTarget};
use support::{Answer, NatsServer, signal, start_collector, until_seen, within};

#[actix_rt::test]
async fn every_dispatch_during_an_outage_is_reported_and_delivery_resumes() {
    let mut server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let (collector, seen) = start_collector(Answer::Accept);
    let bridge = Bridge::new(
        client.clone(),
        "live",
        dispatcher.clone(),
        [Target::pid(collector.recipient())],
    )
    .start()
    .await
    .unwrap();
    let target = Target::from(
        NatsTarget::to("live")
            .unwrap()
            .timeout(Duration::from_millis(500)),
    );

    let (mut delivered, mut failed) = (0, 0);
    for n in 0..150u64 {
        if n == 50 {
            server.kill();
        }
        if n == 100 {
            server.restart();
        }
        let dispatch = Dispatch::new(signal(n), [target.clone()]);
        // Bounded by the target's timeout, whatever the server does.
        match within("a dispatch during the outage", dispatcher.send(dispatch))
            .await
            .unwrap()
        {
            Ok(report) => delivered += report.len(),
            Err(error) => {
                assert!(error.first().error.retryable(), "{error}");
                failed += error.failures().len();
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(delivered + failed, 150, "every dispatch accounted for");
    assert!(failed > 0, "the outage was seen");

    within("the reconnect", async {
        while client.connection_state() != State::Connected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let before = seen.lock().unwrap().len();
    let dispatch = Dispatch::new(signal(1_000), [target]);
    within("after the reconnect", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap();
    // The bridge's subscription came back with the connection.
    until_seen("a signal after the restart", &seen, before + 1).await;
    assert!(bridge.stats().received as usize > before);
}
