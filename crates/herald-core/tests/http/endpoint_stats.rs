//! `Stats` shows every endpoint an HTTP target reached — not only those under a policy —
//! with its outcomes counted once and its latency summarised.

use crate::support::{Receiver, Reply, deliver, dispatcher, signal, within};
use herald_core::http::RetryPolicy;
use herald_core::resilience::{Breaker, Resilience};
use herald_core::{Stats, Target};

fn endpoint_of(receiver: &Receiver) -> String {
    format!("http://127.0.0.1:{}", receiver.port())
}

#[actix_rt::test]
async fn an_endpoint_without_policies_is_counted_and_timed() {
    let receiver = Receiver::start([Reply::Status(500)]);
    let dispatcher = dispatcher();
    let target = Target::http(&receiver.url)
        .unwrap()
        .retry(RetryPolicy::none());
    assert!(
        deliver(&dispatcher, signal(), target.clone())
            .await
            .is_err()
    );
    for _ in 0..2 {
        deliver(&dispatcher, signal(), target.clone())
            .await
            .unwrap();
    }

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    let endpoint = stats.endpoints[&endpoint_of(&receiver)];
    assert_eq!((endpoint.succeeded, endpoint.failed), (2, 1));
    assert_eq!(endpoint.circuit, None, "no breaker watches it");
    let latency = endpoint.latency.expect("three deliveries were timed");
    assert_eq!(latency.count, 3);
    assert!(latency.max >= latency.mean && latency.max >= latency.recent);
    assert!(
        !latency.max.is_zero(),
        "a request over loopback takes some time"
    );
}

#[actix_rt::test]
async fn an_endpoint_under_a_breaker_is_counted_once() {
    let receiver = Receiver::start([]);
    let dispatcher = dispatcher();
    let target = Target::from(Target::http(&receiver.url).unwrap())
        .with_resilience(Resilience::new().breaker(Breaker::new()));
    for _ in 0..2 {
        deliver(&dispatcher, signal(), target.clone())
            .await
            .unwrap();
    }

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    let endpoint = stats.endpoints[&endpoint_of(&receiver)];
    assert_eq!((endpoint.succeeded, endpoint.failed), (2, 0));
    assert_eq!(endpoint.latency.map(|latency| latency.count), Some(2));
}
