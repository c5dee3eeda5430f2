//! NATS credentials appear in no rendering: not in `Debug` or errors (a password with
//! `@`, `:` and percent escapes included), and not in async-nats' own events at
//! `TRACE` under the recommended directive. The control case shows the directive is
//! what keeps them out.

mod support;

use herald_nats::{NatsOptions, QUIET_CREDENTIALS};
use support::{Log, within};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

const PASSWORD: &str = "PW@ss:w/rd%PLANT";
/// The password as it stands in a URL's userinfo.
const ENCODED: &str = "PW%40ss%3Aw%2Frd%25PLANT";

/// Connects under a TRACE subscriber filtered by `directives`; what was logged.
async fn connect_logged(options: NatsOptions, directives: &str) -> String {
    let log = Log::default();
    let filter: Targets = directives.parse().unwrap();
    let subscriber = tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(log.clone()),
    );
    let _guard = tracing::subscriber::set_default(subscriber);
    let client = within("connect", options.connect())
        .await
        .expect("connected");
    within("flush", client.flush()).await.unwrap();
    drop(client);
    String::from_utf8(log.0.lock().unwrap().clone()).unwrap()
}

fn server() -> herald_testkit::nats::NatsServer {
    herald_testkit::nats::NatsServer::start_with(&["--user", "herald", "--pass", PASSWORD])
        .unwrap_or_else(|e| panic!("{e}"))
}

#[actix_rt::test]
async fn credentials_in_a_url_are_used_and_never_shown() {
    let server = server();
    let port = server.url().rsplit(':').next().unwrap().to_owned();
    let url = format!("nats://herald:{ENCODED}@127.0.0.1:{port}");
    let options = NatsOptions::new([url.clone()]);
    let shown = format!("{options:?}");
    assert!(!shown.contains("PLANT"), "{shown}");
    assert!(
        shown.contains(&format!("nats://[REDACTED]@127.0.0.1:{port}")),
        "{shown}"
    );

    let logged = connect_logged(options, &format!("trace,{QUIET_CREDENTIALS}")).await;
    assert!(
        logged.contains("async_nats"),
        "async-nats' events were captured:\n{logged}"
    );
    assert!(!logged.contains("PLANT"), "{logged}");
    assert!(!logged.contains(ENCODED), "{logged}");

    // A wrong password: the error shows neither password.
    let wrong = format!("nats://herald:WRONG%40PLANT@127.0.0.1:{port}");
    let error = NatsOptions::new([wrong])
        .max_reconnects(Some(1))
        .connect()
        .await
        .expect_err("refused");
    let text = format!("{error} {error:?}");
    assert!(!text.contains("PLANT"), "{text}");
}

#[actix_rt::test]
async fn without_the_directive_async_nats_would_log_the_password_at_trace() {
    let server = server();
    let options = NatsOptions::new([server.url()]).user_and_password("herald", PASSWORD);
    let logged = connect_logged(options, "trace").await;
    assert!(
        logged.contains("PLANT"),
        "async-nats no longer logs its CONNECT line with credentials; the directive may go:\n{logged}"
    );
}

#[test]
fn redaction_parses_the_url() {
    for (server, shown) in [
        ("nats://user:p@ss@host:4222", "nats://[REDACTED]@host:4222"),
        ("nats://tok%40en@host", "nats://[REDACTED]@host"),
        ("tls://u:pw@host:4443/x?y", "tls://[REDACTED]@host:4443"),
        ("host:4222", "nats://host:4222"),
    ] {
        let options = NatsOptions::new([server]);
        let debug = format!("{options:?}");
        assert!(debug.contains(shown), "{server}: {debug}");
        assert!(!debug.contains("ss@") && !debug.contains("pw"), "{debug}");
    }
}
