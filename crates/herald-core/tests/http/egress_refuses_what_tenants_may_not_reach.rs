//! A tenant's target reaches only what its egress policy allows: refused at validation
//! on the literal host, and at connect time on every address a name resolves to, DNS
//! rebinding included. Only loopback servers are started; other addresses are handed
//! to validation only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{Receiver, Reply, closed_port, signal, within};
use futures_util::future::BoxFuture;
use herald_core::egress::Egress;
use herald_core::http::Resolve;
use herald_core::{CheckTargets, Dispatch, Dispatcher, ErrorKind, Target};
use serde_json::json;

/// Answers every name with the addresses of `answers`, one list per lookup in turn
/// (the last one again once they run out), counting lookups.
#[derive(Clone)]
struct Scripted {
    answers: Arc<Vec<Vec<[u8; 4]>>>,
    lookups: Arc<AtomicUsize>,
}

impl Scripted {
    fn new(answers: Vec<Vec<[u8; 4]>>) -> Self {
        Self {
            answers: Arc::new(answers),
            lookups: Arc::default(),
        }
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

impl Resolve for Scripted {
    fn resolve<'a>(
        &'a self,
        _host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
        let turn = self.lookups.fetch_add(1, Ordering::SeqCst);
        let answer = &self.answers[turn.min(self.answers.len() - 1)];
        let addresses = answer
            .iter()
            .map(|ip| SocketAddr::from((*ip, port)))
            .collect();
        Box::pin(async move { Ok(addresses) })
    }
}

fn error_kind(result: herald_core::DispatchResult) -> ErrorKind {
    let error = result.expect_err("the delivery is refused");
    let failure = error.failures().first().expect("one failure");
    // No request was made, so none is counted.
    assert_eq!(failure.error.attempts(), 0, "{}", failure.error);
    match failure.error.kind() {
        ErrorKind::EgressDenied(rule) => ErrorKind::EgressDenied(rule.clone()),
        other => panic!("expected an egress refusal, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_name_resolving_to_loopback_is_refused_without_a_request() {
    let open = Receiver::start([]);
    let resolver = Scripted::new(vec![vec![[127, 0, 0, 1]]]);
    let dispatcher = Dispatcher::builder().resolver(resolver.clone()).start();
    let mut rules = Vec::new();
    // An open port and a closed one end the same way: no port-scan oracle.
    for port in [open.port(), closed_port()] {
        let target = Target::from_config(json!({
            "adapter": "webhook",
            "url": format!("http://hooks.tenant.example:{port}/hook"),
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        }))
        .expect("a name passes the literal check");
        let result = within("dispatch", dispatcher.send(Dispatch::new(signal(), target)))
            .await
            .unwrap();
        let ErrorKind::EgressDenied(rule) = error_kind(result) else {
            unreachable!()
        };
        rules.push(rule);
    }
    assert_eq!(
        rules[0],
        "hooks.tenant.example resolves to a loopback address"
    );
    assert_eq!(rules[0], rules[1], "open and closed ports look alike");
    assert!(open.requests().is_empty(), "nothing reached the receiver");
    assert_eq!(open.connections(), 0, "no connection was made");
}

#[actix_rt::test]
async fn a_rebinding_name_is_checked_again_on_every_connection() {
    // 127.0.0.2 is allowed (the tenant's "public" side); 127.0.0.1 is not.
    let allowed = Receiver::start_at("127.0.0.2", 0, false, []);
    let port = allowed.port();
    let forbidden = Receiver::start_at("127.0.0.1", port, false, []);
    let resolver = Scripted::new(vec![vec![[127, 0, 0, 2]], vec![[127, 0, 0, 1]]]);
    let dispatcher = Dispatcher::builder().resolver(resolver.clone()).start();
    let policy = Egress::default().allow("127.0.0.2").unwrap();
    let target = Target::from_config_with(
        json!({"adapter": "http", "url": format!("http://rebind.example:{port}/hook")}),
        &policy,
    )
    .unwrap();

    let first = within(
        "first",
        dispatcher.send(Dispatch::new(signal(), target.clone())),
    )
    .await
    .unwrap();
    assert!(first.is_ok(), "the first answer is allowed: {first:?}");
    assert_eq!(allowed.requests().len(), 1);

    // The receiver closed the connection: the next delivery resolves again, and the
    // name now points at loopback.
    let second = within("second", dispatcher.send(Dispatch::new(signal(), target)))
        .await
        .unwrap();
    let ErrorKind::EgressDenied(rule) = error_kind(second) else {
        unreachable!()
    };
    assert_eq!(rule, "rebind.example resolves to a loopback address");
    assert_eq!(resolver.lookups(), 2);
    assert!(forbidden.requests().is_empty(), "127.0.0.1 got nothing");
    assert_eq!(forbidden.connections(), 0);
}

#[actix_rt::test]
async fn a_name_with_one_refused_address_among_allowed_ones_is_refused() {
    let receiver = Receiver::start_at("127.0.0.2", 0, true, []);
    let resolver = Scripted::new(vec![vec![[127, 0, 0, 2], [127, 0, 0, 1]]]);
    let dispatcher = Dispatcher::builder().resolver(resolver).start();
    let policy = Egress::default().allow("127.0.0.2").unwrap();
    let url = format!("http://mixed.example:{}/hook", receiver.port());
    let target = Target::from_config_with(json!({"adapter": "http", "url": url}), &policy).unwrap();
    let result = within("dispatch", dispatcher.send(Dispatch::new(signal(), target)))
        .await
        .unwrap();
    error_kind(result);
    assert!(receiver.requests().is_empty());
}

#[actix_rt::test]
async fn a_kept_connection_is_reused_without_another_lookup() {
    let receiver = Receiver::start_at("127.0.0.2", 0, true, []);
    let resolver = Scripted::new(vec![vec![[127, 0, 0, 2]]]);
    let dispatcher = Dispatcher::builder()
        .pool_size(1)
        .resolver(resolver.clone())
        .start();
    let policy = Egress::default().allow("127.0.0.2").unwrap();
    let url = format!("http://kept.example:{}/hook", receiver.port());
    let target = Target::from_config_with(json!({"adapter": "http", "url": url}), &policy).unwrap();
    for _ in 0..5 {
        let result = within(
            "dispatch",
            dispatcher.send(Dispatch::new(signal(), target.clone())),
        )
        .await
        .unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(receiver.requests().len(), 5);
    assert_eq!(receiver.connections(), 1);
    assert_eq!(resolver.lookups(), 1, "one lookup for one connection");
}

#[actix_rt::test]
async fn literal_hosts_are_refused_before_the_first_signal() {
    // Handed to validation only: nothing is sent to these.
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::1]/",
        "http://2130706433/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest",
        "http://metadata.google.internal/",
    ] {
        let config = json!({"adapter": "http", "url": url});
        let error = Target::from_config(config.clone()).expect_err(url);
        assert!(
            error
                .to_string()
                .starts_with("field `url` is refused by the egress policy: "),
            "{url}: {error}"
        );
        // Raw configs, checked by the dispatcher's adapter under its policy.
        let dispatcher = Dispatcher::builder().start();
        let raw = Target::custom("http", json!({"url": url}));
        let problems = within("check", dispatcher.send(CheckTargets::new(raw.clone())))
            .await
            .unwrap()
            .expect_err(url);
        assert!(
            problems[0].error.to_string().contains("egress policy"),
            "{url}: {}",
            problems[0].error
        );
        let result = within("dispatch", dispatcher.send(Dispatch::new(signal(), raw)))
            .await
            .unwrap();
        let error = result.expect_err(url);
        assert!(
            matches!(
                error.failures()[0].error.kind(),
                ErrorKind::InvalidTarget(_)
            ),
            "{url}"
        );
    }
}

#[actix_rt::test]
async fn an_allowed_tenant_target_keeps_no_body_unless_asked() {
    let body = b"internal secret page".to_vec();
    let receiver = Receiver::start_at(
        "127.0.0.2",
        0,
        true,
        [
            Reply::With(404, vec![], body.clone()),
            Reply::With(404, vec![], body.clone()),
        ],
    );
    let dispatcher = Dispatcher::builder().start();
    let policy = Egress::default().allow("127.0.0.2").unwrap();
    let tenant =
        Target::from_config_with(json!({"adapter": "http", "url": receiver.url}), &policy).unwrap();
    let result = within("tenant", dispatcher.send(Dispatch::new(signal(), tenant)))
        .await
        .unwrap();
    let error = result.unwrap_err();
    match error.failures()[0].error.kind() {
        ErrorKind::HttpStatus { status, body } => {
            assert_eq!(*status, 404);
            assert!(body.is_empty(), "no excerpt by default: {body:?}");
        }
        other => panic!("{other:?}"),
    }
    // An application's own target, asking for an excerpt of 8 bytes.
    let own = Target::http(&receiver.url).unwrap().error_body(8);
    let result = within("own", dispatcher.send(Dispatch::new(signal(), own)))
        .await
        .unwrap();
    match result.unwrap_err().failures()[0].error.kind() {
        ErrorKind::HttpStatus { body, .. } => assert_eq!(body, "internal"),
        other => panic!("{other:?}"),
    }
}

#[actix_rt::test]
async fn the_dispatchers_policy_widens_raw_configs() {
    let receiver = Receiver::start_at("127.0.0.2", 0, true, []);
    let dispatcher = Dispatcher::builder()
        .egress(Egress::default().allow("127.0.0.2/32").unwrap())
        .start();
    let raw = Target::custom("http", json!({"url": receiver.url}));
    let result = within("dispatch", dispatcher.send(Dispatch::new(signal(), raw)))
        .await
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(receiver.requests().len(), 1);
}
