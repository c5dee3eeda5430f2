//! Trace context crosses nodes: the bridge dispatches under a span carrying the
//! signal's `traceparent`. Alone in its binary, so that no other test's thread races
//! the thread-local subscriber.

mod support;

use std::time::Duration;

use herald_core::{Dispatch, Dispatcher, Target};
use herald_nats::{Bridge, NatsDispatcherExt, NatsTarget};
use herald_signal::Signal;
use support::{Answer, NatsServer, start_collector, until_seen, within};

#[actix_rt::test]
async fn the_bridge_takes_the_trace_context_along() {
    let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = written.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || Writer(sink.clone()))
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .nats(client.clone())
        .start();
    let (collector, seen) = start_collector(Answer::Accept);
    let _bridge = Bridge::new(
        client.clone(),
        "traced",
        dispatcher.clone(),
        [Target::pid(collector.recipient())],
    )
    .start()
    .await
    .unwrap();
    let traced = Signal::builder("t")
        .extension(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .build()
        .unwrap();
    let to = Target::from(NatsTarget::to("traced").unwrap().binary());
    within("publish", dispatcher.send(Dispatch::new(traced, [to])))
        .await
        .unwrap()
        .unwrap();
    until_seen("the traced signal", &seen, 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let log = String::from_utf8_lossy(&written.lock().unwrap()).into_owned();
    let arrive = log
        .lines()
        .find(|line| line.contains("herald.arrive{"))
        .unwrap_or_else(|| panic!("no herald.arrive span: {log}"));
    assert!(
        arrive.contains("trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\""),
        "{arrive}"
    );
    assert!(
        arrive.contains("parent_id=\"00f067aa0ba902b7\""),
        "{arrive}"
    );
    // The local dispatch and delivery hang under it.
    assert!(
        log.lines()
            .any(|l| l.contains("herald.arrive{") && l.contains("herald.deliver{")),
        "{log}"
    );
}

#[derive(Clone)]
struct Writer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
