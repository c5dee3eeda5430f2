//! Herald's quick start: one signal, fanned out to eight targets.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! It starts a dispatcher with a registry of named actors, a topic hub and a bus; a
//! greeter actor (registered as `greeter`), two subscribers of the `users` topic, an
//! audit actor subscribed on the bus to `user.**`, and a small custom adapter. Then it
//! sends one `user.created` signal — in parallel — to the greeter by address (`pid`,
//! waiting for its answer) and by name (`named`), the `users` topic (`pubsub`), the bus,
//! the `logger`, the `console`, a `noop` sink and the custom `shout` adapter, and prints
//! each target's outcome.

use actix::prelude::*;
use herald::prelude::*;
use herald::{Adapter, Delivery, ErrorKind, Outcome, Stats, TargetError, TargetOptions};
use serde_json::json;

/// An actor that receives signals and says what it got.
struct Listener(&'static str);

impl Actor for Listener {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Listener {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, msg: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let name = msg
            .data()
            .and_then(|d| d.as_json())
            .map(|d| d["name"].to_string());
        println!(
            "{}: got {} for {}",
            self.0,
            msg.ty(),
            name.unwrap_or_default()
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

    fn validate(&self, _: &serde_json::Value) -> Result<ShoutOptions, TargetError> {
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

    // The routing tables and the bus, then the dispatcher that uses them.
    let registry = Registry::new();
    let pubsub = PubSub::new();
    let bus = Bus::new().start();
    let dispatcher = Dispatcher::builder()
        .registry(registry.clone())
        .pubsub(pubsub.clone())
        .bus("main", bus.clone())
        .adapter("shout", || Shout)
        .start();

    // The receivers. The registry and the topic hold their addresses: a receiver stays
    // reachable until it stops or is unregistered.
    let greeter = Listener("greeter").start();
    registry.register("greeter", greeter.clone().recipient())?;
    let subscribers = [Listener("mailer").start(), Listener("crm").start()];
    for subscriber in &subscribers {
        pubsub.subscribe("users", subscriber.clone().recipient())?;
    }
    let audit = Listener("audit").start();
    bus.send(Subscribe::new(
        "user.**",
        [Target::pid(audit.clone().recipient())],
    )?)
    .await?;

    let signal = Signal::builder("user.created")
        .source("/quickstart")
        .data(json!({"name": "Ada", "password": "never printed"}))
        .build()?;

    // Eight targets of different kinds, each as its constructor leaves it.
    let dispatch = Dispatch::new(
        signal,
        (
            Target::pid(greeter.clone().recipient()).sync(),
            Target::named("greeter")?.sync(),
            Target::pubsub("users")?,
            Target::bus("main")?,
            Target::logger(),
            Target::console(),
            Target::noop(),
            Target::custom("shout", json!({})),
        ),
    );
    let names: Vec<String> = dispatch
        .targets()
        .iter()
        .map(|t| t.describe().to_string())
        .collect();

    let report = dispatcher.send(dispatch).await??;

    // The bus hands its subscribers' deliveries to the dispatcher as a dispatch of
    // their own; wait until the dispatcher has nothing in flight.
    while dispatcher.send(Stats).await?.in_flight > 0 {
        actix_rt::task::yield_now().await;
    }
    println!("\n{} targets, all delivered:", report.len());
    for (name, outcome) in names.iter().zip(report.outcomes()) {
        println!("  {name:<36} {outcome:?}");
    }
    System::current().stop();
    Ok(())
}
