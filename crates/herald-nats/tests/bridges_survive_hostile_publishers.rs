//! A bridge survives what a hostile publisher can send it: a subject that is not
//! UTF-8 (which panics async-nats 0.46's connection task; an exposed name on the same
//! client is served again too) and a flood of large signals while its targets stall
//! (held up to `max_pending_bytes`, the rest dropped, counted). A durable consumer on
//! the same kind of client is made again on the replacement.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use herald_core::{Dispatch, Dispatcher, Target};
use herald_nats::{
    Bridge, Durable, NatsDispatcherExt, NatsOptions, RemoteNamedTarget, expose, server_has_read,
};
use herald_signal::Signal;
use support::{Answer, NatsServer, signal, start_collector, within};

/// Publishes `payload` `times` times on the raw `subject` bytes from a connection of
/// its own, as any client allowed to publish could (one frame in memory at a time), and
/// waits for the server's answer to a `PING` (so the messages have been handled).
fn raw_publish(url: &str, subject: &[u8], payload: &[u8], times: usize) {
    let address = url.trim_start_matches("nats://");
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .expect("connect");
    let mut frame = b"PUB ".to_vec();
    frame.extend_from_slice(subject);
    frame.extend_from_slice(format!(" {}\r\n", payload.len()).as_bytes());
    frame.extend_from_slice(payload);
    frame.extend_from_slice(b"\r\n");
    for _ in 0..times {
        stream.write_all(&frame).expect("publish");
    }
    stream.write_all(b"PING\r\n").expect("ping");
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"PONG\r\n") {
        use std::io::Read;
        stream.read_exact(&mut byte).expect("the server answers");
        answer.push(byte[0]);
    }
}

#[actix_rt::test]
async fn a_subject_that_is_not_utf8_does_not_stop_a_supervised_bridge() {
    let server = NatsServer::start();
    let supervised = within(
        "connect",
        NatsOptions::new([server.url()])
            .name("bridge")
            .connect_supervised(),
    )
    .await
    .expect("connect");
    let dispatcher = Dispatcher::builder().start();
    let (collector, seen) = start_collector(Answer::Accept);
    let bridge = Bridge::new(
        supervised.clone(),
        "hostile.>",
        dispatcher,
        [Target::pid(collector.recipient())],
    )
    .start()
    .await
    .expect("bridge");

    raw_publish(&server.url(), b"hostile.\xff\xfe", b"{}", 1);

    // The client is replaced and the bridge subscribes again: a signal published then
    // arrives. (Core NATS messages sent in the gap are lost; publish until one comes.)
    let publisher = server.client().await;
    within("a signal after the hostile one", async {
        let mut n = 0;
        while seen.lock().unwrap().is_empty() {
            n += 1;
            let payload = signal(n).to_json_vec();
            publisher
                .publish("hostile.ok", payload.into())
                .await
                .unwrap();
            server_has_read(&publisher).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(bridge.is_running());
    assert_eq!(supervised.replacements(), 1);
    let stats = bridge.stats();
    assert_eq!(stats.resubscribed, 1, "{stats:?}");
    assert_eq!(seen.lock().unwrap()[0].ty(), "order.placed");

    // A name exposed on the same client is served again on the replacement.
    let (answering, _) = start_collector(Answer::Accept);
    let exposed = expose(supervised.clone(), "audit", answering.recipient())
        .await
        .expect("exposed");
    raw_publish(&server.url(), b"hostile.\xc3\x28", b"{}", 1);
    let caller = Dispatcher::builder().nats(server.client().await).start();
    let audit = Target::from(RemoteNamedTarget::new("audit").unwrap().sync());
    within("a call after the second hostile message", async {
        loop {
            let call = caller.send(Dispatch::new(signal(0), [audit.clone()]));
            if call.await.unwrap().is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(exposed.is_running());
    assert_eq!(supervised.replacements(), 2);
}

#[actix_rt::test]
async fn a_durable_consumer_on_a_supervised_client_starts_again_on_its_replacement() {
    let server = NatsServer::start();
    let supervised = within(
        "connect",
        NatsOptions::new([server.url()])
            .name("consumer")
            .connect_supervised(),
    )
    .await
    .expect("connect");
    let durable = within(
        "open",
        Durable::open(supervised.clone(), "HOSTILE", &["kept.>"]),
    )
    .await
    .expect("stream");
    let local = Dispatcher::builder().start();
    let (collector, seen) = start_collector(Answer::Accept);
    let target = Target::pid(collector.recipient()).sync();
    let consumer = within(
        "start",
        durable
            .consumer("w", local.clone(), [target.clone()])
            .start(),
    )
    .await
    .expect("consumer");
    // The hostile message reaches the client through a bridge it also serves.
    let _bridge = Bridge::new(supervised.clone(), "hostile.>", local, [target])
        .start()
        .await
        .expect("bridge");

    raw_publish(&server.url(), b"hostile.\xff", b"{}", 1);

    // A signal stored after the client died is delivered by the consumer made again
    // on the replacement.
    let publisher = Dispatcher::builder().nats(server.client().await).start();
    let kept = Target::from(Durable::target("kept.one").unwrap());
    let sent = publisher.send(Dispatch::new(signal(7), [kept]));
    within("stored", sent).await.unwrap().unwrap();
    within("delivered after the replacement", async {
        while seen.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(consumer.is_running());
    assert_eq!(supervised.replacements(), 1);
    let stats = consumer.stats();
    assert_eq!((stats.restarted, stats.acked), (1, 1), "{stats:?}");
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[actix_rt::test]
async fn a_flood_of_large_signals_to_stalled_targets_is_bounded_in_bytes() {
    const SIZE: usize = 512 * 1024;
    const COUNT: u64 = 400;
    const IN_FLIGHT: usize = 8;
    const CAPACITY: usize = 64;
    let server = NatsServer::start();
    let client = within(
        "connect",
        NatsOptions::new([server.url()])
            .subscription_capacity(CAPACITY)
            .connect(),
    )
    .await
    .expect("connect");
    let dispatcher = Dispatcher::builder().start();
    // Sync calls to an actor that never answers: every dispatch stays in flight.
    let (stalled, _) = start_collector(Answer::Hang);
    let bridge = Bridge::new(
        client.clone(),
        "flood.>",
        dispatcher,
        [Target::pid(stalled.recipient()).sync()],
    )
    .max_in_flight(IN_FLIGHT)
    .start()
    .await
    .expect("bridge");

    // Published from a raw connection on a thread of its own, one frame in memory, so
    // that this process's memory is the bridge's.
    let signal = Signal::new("flood.item", serde_json::json!({ "pad": "x".repeat(SIZE) }));
    let payload = signal.unwrap().to_json_vec();
    let url = server.url();
    let before = rss();
    let flood = std::thread::spawn(move || {
        raw_publish(&url, b"flood.item", &payload, COUNT as usize);
    });
    let published = tokio::task::spawn_blocking(move || flood.join());
    within("the flood published", published)
        .await
        .unwrap()
        .expect("the flood was published");
    // Every message the server sent before answering this is in the bridge's client:
    // read by the bridge, or dropped by the client as a slow consumer's.
    within("the bridge's client read", server_has_read(&client))
        .await
        .unwrap();
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let grown = rss().saturating_sub(before);

    let stats = bridge.stats();
    let bound = Bridge::DEFAULT_MAX_PENDING_BYTES as u64;
    assert!(stats.pending_bytes <= bound, "{stats:?}");
    // 400 × 512 KiB is 200 MiB: at most 64 MiB is held, 8 in flight.
    assert!(stats.received > 130, "{stats:?}");
    let held = stats.received - stats.dropped;
    assert!(held <= 128 + IN_FLIGHT as u64, "{stats:?}");
    assert_eq!(stats.dispatched + stats.failed, 0, "the targets stall");
    eprintln!("flood: {stats:?}; resident memory grew {} MiB", grown >> 20);
    // What the bridge holds is asserted above, by its own count. Resident memory also
    // keeps what the allocator does not give back (the client's read buffers, freed
    // and not returned), so it is reported, not judged: 198–247 MiB over four runs
    // here, against the 348 MiB the issue measured with no bound.
}
