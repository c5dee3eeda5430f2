//! Every error's chain — its message, then each `source()` — shows each message once,
//! as the Rust API guidelines ask, so `anyhow`'s `{:#}` prints no message twice.

use std::error::Error;

use actix::prelude::*;
use herald::{
    Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, Outcome, Signal, SignalError, Target,
    TargetOptions,
};
use serde_json::json;

/// The messages of `error`'s chain, outermost first.
fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut next = error.source();
    while let Some(error) = next {
        messages.push(error.to_string());
        next = error.source();
    }
    messages
}

fn assert_each_once(error: &(dyn Error + 'static)) -> Vec<String> {
    let messages = chain(error);
    for (i, outer) in messages.iter().enumerate() {
        for inner in &messages[i + 1..] {
            assert!(
                !outer.contains(inner.as_str()),
                "{inner:?} is printed twice in the chain {messages:#?}"
            );
        }
    }
    messages
}

/// An error with a cause, as an application's adapter would return.
#[derive(Debug)]
struct Upstream(std::io::Error);

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream rejected the signal")
    }
}

impl Error for Upstream {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Debug)]
struct Nothing;
impl TargetOptions for Nothing {}

struct Failing;

impl Adapter for Failing {
    type Options = Nothing;

    async fn deliver(&self, _: Delivery<'_, Nothing>) -> Result<Outcome, ErrorKind> {
        let cause = std::io::Error::other("connection reset by peer");
        Err(ErrorKind::custom(Upstream(cause)))
    }
}

#[actix::test]
async fn dispatch_errors_print_each_message_once() {
    let dispatcher = Dispatcher::builder().adapter("failing", || Failing).start();
    let signal = Signal::new("t", json!({})).unwrap();
    let targets = [
        Target::new("failing", Nothing),
        Target::custom("missing", json!({})),
    ];
    let error = dispatcher
        .send(Dispatch::new(signal, targets))
        .await
        .unwrap()
        .unwrap_err();
    let messages = assert_each_once(&error);
    // The cause is kept, below the messages that show it.
    assert_eq!(messages.last().unwrap(), "connection reset by peer");
    for failure in error.failures() {
        assert_each_once(failure);
        assert_each_once(&failure.error);
    }
    let _ = System::current();
}

#[test]
fn signal_and_target_errors_print_each_message_once() {
    let json = Signal::from_json("{not json").unwrap_err();
    assert_each_once(&json);
    let batch = Signal::batch_from_json(r#"[{"specversion":"1.0"}]"#).unwrap_err();
    assert!(matches!(batch, SignalError::InBatch { .. }));
    assert_each_once(&batch);
    let base64 = Signal::from_json(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"***"}"#,
    )
    .unwrap_err();
    assert_each_once(&base64);
    let target = Target::from_config(json!({"adapter": "logger", "level": "loud"})).unwrap_err();
    assert_each_once(&target);
    assert_each_once(&ErrorKind::from(target));
}
