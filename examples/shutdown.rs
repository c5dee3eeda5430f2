//! Graceful shutdown: stop on Ctrl-C, give running deliveries a grace period, and
//! account for every target.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --example shutdown
//! ```
//!
//! A dispatcher sends a `tick` signal every 100 ms to a slow actor (each takes 300 ms
//! to handle, synchronously) and to the log. Press Ctrl-C, or wait 3 seconds: the
//! dispatcher is sent `Shutdown` with a 1-second grace period. Deliveries under way
//! finish or are reported as cut off, and ticks sent after it are refused at once; every
//! failed target is printed with its index.

use std::time::Duration;

use actix::prelude::*;
use herald::prelude::*;
use herald::{ErrorKind, Stats};
use serde_json::json;

/// Takes 300 ms over each signal.
struct Slow;

impl Actor for Slow {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Slow {
    type Result = ResponseFuture<Result<(), Rejection>>;

    fn handle(&mut self, msg: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let n = msg.data().and_then(|d| d.as_json()).map(|d| d["n"].clone());
        Box::pin(async move {
            actix_rt::time::sleep(Duration::from_millis(300)).await;
            println!("slow: handled tick {}", n.unwrap_or_default());
            Ok(())
        })
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dispatcher = Dispatcher::builder().start();
    let slow = Slow.start();
    let target = Target::pid(slow.recipient()).sync();

    let ticker = {
        let dispatcher = dispatcher.clone();
        actix_rt::spawn(async move {
            for n in 0.. {
                let signal = Signal::new("tick", json!({ "n": n })).expect("a valid signal");
                let dispatch = Dispatch::new(signal, (target.clone(), Target::noop()));
                let handle = dispatcher.dispatch_async(dispatch);
                actix_rt::spawn(async move {
                    if let Err(error) = handle.await {
                        for failure in error.failures() {
                            let why = match failure.error.kind() {
                                ErrorKind::Shutdown => "shutting down",
                                _ => "failed",
                            };
                            println!(
                                "tick {n}: target {} {why}: {}",
                                failure.index, failure.error
                            );
                        }
                    }
                });
                actix_rt::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    tokio::select! {
        _ = actix_rt::signal::ctrl_c() => println!("Ctrl-C: shutting down"),
        _ = actix_rt::time::sleep(Duration::from_secs(3)) => println!("3 s passed: shutting down"),
    }
    let stats = dispatcher.send(Stats).await?;
    dispatcher
        .send(Shutdown::new(Duration::from_secs(1)))
        .await?;
    ticker.abort();
    println!(
        "stopped; before shutdown: {} dispatched, {} delivered, {} failed, {} in flight",
        stats.dispatched, stats.delivered, stats.failed, stats.in_flight
    );
    Ok(())
}
