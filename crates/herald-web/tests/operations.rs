//! The operations API and page on a real actix-web server, over a real failing
//! endpoint: circuits and dead letters shown, redrive and pause carried out, the guard
//! and the same-origin rules held, nothing secret shown.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix::Actor as _;
use actix_web::{App, HttpResponse, guard, web};
use herald_core::http::RetryPolicy;
use herald_core::resilience::{Breaker, DeadLetterQueue, Resilience};
use herald_core::{Dispatch, DispatchExt, Dispatcher, Target};
use herald_signal::Signal;
use herald_web::{MountError, Operations};
use serde_json::{Value, json};
use support::within;

const TOKEN: (&str, &str) = ("x-admin-token", "let-me-in");
const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// A receiver that answers 500 until it is switched up; counts what it took.
struct Receiver {
    up: Arc<AtomicBool>,
    took: Arc<AtomicUsize>,
    server: support::Server,
}

fn receiver() -> Receiver {
    let up = Arc::new(AtomicBool::new(false));
    let took = Arc::new(AtomicUsize::new(0));
    let (up2, took2) = (Arc::clone(&up), Arc::clone(&took));
    let server = serve!(move || {
        let (up, took) = (Arc::clone(&up2), Arc::clone(&took2));
        App::new().default_service(web::to(move || {
            let (up, took) = (Arc::clone(&up), Arc::clone(&took));
            async move {
                if up.load(Ordering::SeqCst) {
                    took.fetch_add(1, Ordering::SeqCst);
                    HttpResponse::Ok().finish()
                } else {
                    HttpResponse::InternalServerError().finish()
                }
            }
        }))
    });
    Receiver { up, took, server }
}

struct Ops {
    url: String,
    _server: support::Server,
}

async fn call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> (u16, Value, String) {
    let client = awc::Client::builder().disable_redirects().finish();
    let mut request = match method {
        "GET" => client.get(url),
        _ => client.post(url),
    };
    for header in headers {
        request = request.insert_header(*header);
    }
    let sent = match body {
        Some((content_type, body)) => request
            .insert_header(("content-type", content_type))
            .send_body(body),
        None => request.send(),
    };
    let mut response = within(url, sent).await.unwrap();
    let body = within("the body", response.body().limit(1 << 20))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body).into_owned();
    let location = (response.headers().get("location")).map(|v| v.to_str().unwrap().to_owned());
    let json = serde_json::from_slice(&body).unwrap_or_else(|_| json!({ "location": location }));
    (response.status().as_u16(), json, text)
}

#[actix_rt::test]
async fn it_does_not_mount_without_a_guard() {
    let dispatcher = Dispatcher::builder().start();
    let operations = Operations::new(dispatcher);
    assert_eq!(
        operations.clone().scope("/ops").err(),
        Some(MountError::Unguarded)
    );
    let open = operations.insecure_open();
    assert!(open.clone().scope("/ops").is_ok());
    for bad in ["ops", "/ops/", "/{tail}", "/a b", ""] {
        assert_eq!(
            open.clone().scope(bad).err(),
            Some(MountError::InvalidPrefix),
            "{bad}"
        );
    }
}

#[actix_rt::test]
async fn an_open_circuit_and_its_dead_letter_are_shown_and_redriven() {
    let receiver = receiver();
    let queue = DeadLetterQueue::default().start();
    let hook = format!(
        "{}/hooks/tenant-path-secret?key=tenant-query-secret",
        receiver.server.url
    );
    let target: Target = Target::webhook(&hook)
        .unwrap()
        .secret(SECRET)
        .unwrap()
        .retry(RetryPolicy::none())
        // The path holds a tenant's token: shown nowhere, as everywhere else.
        .secret_path()
        .into();
    let target = target.with_resilience(
        Resilience::new()
            .breaker(
                Breaker::new()
                    .failures(1)
                    .cooldown(Duration::from_secs(3_600)),
            )
            .dead_letter(Target::pid(queue.clone().recipient())),
    );
    let dispatcher = Dispatcher::builder().start();
    let signal = Signal::builder("invoice.paid")
        .id("inv-1")
        .source("/billing")
        .build()
        .unwrap();
    let failed = within(
        "the failing delivery",
        dispatcher.dispatch(Dispatch::new(signal, target.clone())),
    )
    .await;
    assert!(failed.is_err());

    let operations = Operations::new(dispatcher.clone())
        .dead_letters(queue.clone(), [target.clone()])
        .guard(guard::Header(TOKEN.0, TOKEN.1));
    let server = serve!(move || App::new().service(operations.clone().scope("/ops").unwrap()));
    let ops = Ops {
        url: format!("{}/ops", server.url),
        _server: server,
    };
    let auth = [TOKEN];

    // The guard.
    let (status, _, _) = call("GET", &format!("{}/api/stats", ops.url), &[], None).await;
    assert_eq!(status, 403);
    let (status, _, _) = call(
        "GET",
        &format!("{}/", ops.url),
        &[("x-admin-token", "wrong")],
        None,
    )
    .await;
    assert_eq!(status, 403);

    let (status, stats, _) = call("GET", &format!("{}/api/stats", ops.url), &auth, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (stats["dispatched"].as_u64(), stats["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(stats["dead_lettered"], 1);

    let (_, endpoints, text) =
        call("GET", &format!("{}/api/endpoints", ops.url), &auth, None).await;
    let endpoint = &endpoints["endpoints"][0];
    assert_eq!(endpoint["circuit"], "open", "{endpoints}");
    assert_eq!(endpoint["failed"], 1);
    let key = endpoint["endpoint"].as_str().unwrap().to_owned();

    let (_, letters, letters_text) =
        call("GET", &format!("{}/api/dead-letters", ops.url), &auth, None).await;
    assert_eq!(letters["matched"], 1);
    assert_eq!(letters["dead_letters"][0]["id"], "inv-1");
    assert_eq!(letters["dead_letters"][0]["kind"], "http_status");
    assert_eq!(letters["dead_letters"][0]["status"], 500);
    let (_, none, _) = call(
        "GET",
        &format!("{}/api/dead-letters?kind=timeout", ops.url),
        &auth,
        None,
    )
    .await;
    assert_eq!(none["matched"], 0);

    let (status, _, page) = call("GET", &format!("{}/", ops.url), &auth, None).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"data-circuit="open""#), "{page}");
    assert!(page.contains("inv-1"));
    for shown in [&text, &letters_text, &page] {
        for secret in [
            "tenant-path-secret",
            "tenant-query-secret",
            SECRET,
            "C2FVsBQ",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
    }

    // Redrive needs a selection; then the endpoint is back, the circuit reset, and the
    // dead letter delivered.
    let json_body = |value: Value| Some(("application/json", value.to_string()));
    let redrive = format!("{}/api/dead-letters/redrive", ops.url);
    let (status, _, _) = call("POST", &redrive, &auth, json_body(json!({}))).await;
    assert_eq!(status, 400);
    receiver.up.store(true, Ordering::SeqCst);
    let reset = format!("{}/api/endpoints/reset", ops.url);
    let (status, answer, _) =
        call("POST", &reset, &auth, json_body(json!({ "endpoint": key }))).await;
    assert_eq!(
        (status, answer["was"].as_str()),
        (200, Some("open")),
        "{answer}"
    );
    let (status, report, _) = call(
        "POST",
        &redrive,
        &auth,
        json_body(json!({ "ids": ["inv-1"] })),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report,
        json!({ "redriven": 1, "failed": 0, "unmatched": 0 })
    );
    assert_eq!(receiver.took.load(Ordering::SeqCst), 1);
    let (_, letters, _) = call("GET", &format!("{}/api/dead-letters", ops.url), &auth, None).await;
    assert_eq!(letters["matched"], 0);
}

#[actix_rt::test]
async fn actions_come_from_the_page_only() {
    let dispatcher = Dispatcher::builder().start();
    let operations = Operations::new(dispatcher.clone()).insecure_open();
    let server = serve!(move || App::new().service(operations.clone().scope("/ops").unwrap()));
    let url = format!("{}/ops", server.url);
    let endpoint = "https://partner.example:443";
    let form = |csrf: &str| {
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&endpoint=https%3A%2F%2Fpartner.example%3A443"),
        ))
    };

    // The page's token.
    let (_, _, page) = call("GET", &format!("{url}/"), &[], None).await;
    assert!(page.contains("Content") || page.contains("Herald operations"));
    let (status, _, _) = call("POST", &format!("{url}/actions/pause"), &[], form("forged")).await;
    assert_eq!(status, 403);

    // Pausing from the API, then the page shows a Resume form with its token.
    let json_body = |value: Value| Some(("application/json", value.to_string()));
    let pause = format!("{url}/api/endpoints/pause");
    let (status, answer, _) = call(
        "POST",
        &pause,
        &[],
        json_body(json!({ "endpoint": endpoint })),
    )
    .await;
    assert_eq!(
        (status, answer["already"].as_bool()),
        (200, Some(false)),
        "{answer}"
    );
    let (_, endpoints, _) = call("GET", &format!("{url}/api/endpoints"), &[], None).await;
    assert_eq!(endpoints["paused"], json!([{ "key": endpoint, "held": 0 }]));
    let (_, _, page) = call("GET", &format!("{url}/"), &[], None).await;
    let token = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form with the token")
        .to_owned();

    // Another origin is refused even with the token; the page's own form works.
    let evil = [("origin", "http://evil.example")];
    let (status, _, _) = call(
        "POST",
        &format!("{url}/actions/resume"),
        &evil,
        form(&token),
    )
    .await;
    assert_eq!(status, 403);
    let cross = [("sec-fetch-site", "cross-site")];
    let (status, _, _) = call(
        "POST",
        &pause,
        &cross,
        json_body(json!({ "endpoint": endpoint })),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = call(
        "POST",
        &pause,
        &[],
        Some(("text/plain", json!({ "endpoint": endpoint }).to_string())),
    )
    .await;
    assert!(matches!(status, 400 | 415), "{status}");
    let (status, answer, _) =
        call("POST", &format!("{url}/actions/resume"), &[], form(&token)).await;
    assert_eq!(status, 303);
    assert!(
        answer["location"]
            .as_str()
            .unwrap()
            .starts_with("/ops/?done=resume"),
        "{answer}"
    );
    let (_, endpoints, _) = call("GET", &format!("{url}/api/endpoints"), &[], None).await;
    assert_eq!(endpoints["paused"], json!([]));

    // Bad input answers a clear error.
    let (status, answer, _) = call(
        "POST",
        &format!("{url}/api/endpoints/reset"),
        &[],
        json_body(json!({})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, _, _) = call(
        "POST",
        &format!("{url}/api/endpoints/explode"),
        &[],
        json_body(json!({ "endpoint": "x" })),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = call("GET", &format!("{url}/api/dead-letters"), &[], None).await;
    assert_eq!(status, 404);
}
