//! Through the facade: a signal read from `jido_signal` JSON is fanned out to several
//! actors without being copied — every receiver holds the same allocation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use herald::prelude::*;

/// Keeps every signal it receives.
struct Keeper(Arc<Mutex<Vec<Arc<Signal>>>>);

impl Actor for Keeper {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Keeper {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, msg: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        self.0.lock().unwrap().push(msg.into_signal());
        Ok(())
    }
}

#[actix_rt::test]
async fn every_receiver_gets_the_same_shared_signal() {
    let json = include_str!("../vectors/jido-body.json");
    let signal = Arc::new(Signal::from_json(json).expect("the shared vector parses"));
    let kept = Arc::new(Mutex::new(Vec::new()));
    let keepers: Vec<_> = (0..3).map(|_| Keeper(kept.clone()).start()).collect();

    let dispatcher = Dispatcher::builder().pool_size(2).start();
    let targets = keepers
        .iter()
        .map(|keeper| Target::pid(keeper.clone().recipient()).sync().into())
        .chain([Target::logger().into(), Target::noop()]);
    let dispatch = Dispatch::new(Arc::clone(&signal), targets.collect::<Vec<Target>>());
    let report = tokio::time::timeout(Duration::from_secs(30), dispatcher.send(dispatch))
        .await
        .expect("dispatch finished")
        .expect("dispatcher running")
        .expect("every target succeeded");
    assert_eq!(report.len(), 5);

    let kept = kept.lock().unwrap();
    assert_eq!(kept.len(), 3);
    for received in kept.iter() {
        assert!(Arc::ptr_eq(received, &signal), "a receiver got a copy");
    }
    assert_eq!(kept[0].ty(), "invoice.paid");
}
