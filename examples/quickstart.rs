//! Herald's quick start: one signal, fanned out to five targets.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! It starts a dispatcher and a receiving actor, registers a small custom adapter, and
//! sends one `user.created` signal to an actor (`pid`, waiting for its answer), the
//! `logger`, the `console`, a `noop` sink and the custom `shout` adapter — in parallel —
//! then prints each target's outcome.

use actix::prelude::*;
use herald::prelude::*;
use herald::{Adapter, Delivery, ErrorKind, Outcome, TargetOptions};
use serde_json::json;

/// An actor that receives signals.
struct Greeter;

impl Actor for Greeter {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Greeter {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, msg: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        println!(
            "greeter: welcome, user {}!",
            msg.data()
                .and_then(|d| d.as_json())
                .map_or("?".into(), |d| d["name"].to_string())
        );
        Ok(())
    }
}

/// A custom adapter: prints the signal type in capitals.
struct Shout;

#[derive(Debug)]
struct ShoutOptions;

impl TargetOptions for ShoutOptions {}

impl Adapter for Shout {
    type Options = ShoutOptions;

    fn validate(&self, _: &serde_json::Value) -> Result<ShoutOptions, herald::TargetError> {
        Ok(ShoutOptions)
    }

    async fn deliver(&self, delivery: Delivery<'_, ShoutOptions>) -> Result<Outcome, ErrorKind> {
        println!("shout: {}!", delivery.signal.ty().to_uppercase());
        Ok(Outcome::Delivered)
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Show the `logger` target's events on stderr.
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();

    let dispatcher = Dispatcher::builder().adapter("shout", || Shout).start();
    let greeter = Greeter.start();

    let signal = Signal::builder("user.created")
        .source("/quickstart")
        .data(json!({"name": "Ada", "password": "never printed"}))
        .build()?;

    let targets: Vec<Target> = vec![
        Target::pid(greeter.recipient()).sync().into(),
        Target::logger().into(),
        Target::console().into(),
        Target::noop(),
        Target::custom("shout", json!({})),
    ];
    let names: Vec<String> = targets.iter().map(|t| t.describe().to_string()).collect();

    let report = dispatcher.send(Dispatch::new(signal, targets)).await??;

    println!("\n{} targets, all delivered:", report.len());
    for (name, outcome) in names.iter().zip(report.outcomes()) {
        println!("  {name:<32} {outcome:?}");
    }
    System::current().stop();
    Ok(())
}
