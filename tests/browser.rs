//! The operations page in a real browser: the `ingress` example runs, its partner
//! endpoint fails until its circuit opens and its dead letters pile up; headless
//! Chromium (driven over the DevTools protocol) opens the page, sees both, clicks
//! "Reset circuit" and "Redrive all", and the partner gets every signal. Screenshots go
//! to `target/artifacts/`.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it; `CHROMIUM=<path>` for another).
//! Without one it is skipped — except under `CI=true`, where it fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::web::Bytes;
use awc::ws;
use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use herald_testkit::within;
use serde_json::{Value, json};

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|path| path.exists())
}

/// The example's binary, built beside this test's (`cargo test` builds examples);
/// built now if it is not there or older than its source (`--test browser` alone
/// builds no example).
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(Path::parent).unwrap();
    let binary = profile.join("examples").join("ingress");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ingress.rs");
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    if modified(&binary) < modified(&source) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "--example", "ingress", "--features", "http,web"])
            .status()
            .unwrap();
        assert!(status.success(), "the ingress example builds");
    }
    binary
}

/// What follows `prefix` in the first line of `reader` that has it (waiting at most a
/// minute: a process that never says it is a failure, not a hang), and the reader.
fn line_after<R: BufRead + Send + 'static>(mut reader: R, prefix: &'static str) -> (String, R) {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut found = None;
        for _ in 0..200 {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if let Some(at) = line.find(prefix) {
                found = Some(line[at + prefix.len()..].trim().to_owned());
                break;
            }
        }
        let _ = sender.send(found.map(|line| (line, reader)));
    });
    receiver
        .recv_timeout(Duration::from_secs(60))
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no line with {prefix:?}"))
}

/// A DevTools protocol session with one page.
struct Page<S> {
    socket: S,
    next: u64,
}

impl<S, E> Page<S>
where
    S: futures_util::Sink<ws::Message, Error = E>
        + futures_util::Stream<Item = Result<ws::Frame, awc::error::WsProtocolError>>
        + Unpin,
    E: std::fmt::Debug,
{
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        within(method, self.socket.send(ws::Message::Text(message.into())))
            .await
            .unwrap();
        loop {
            // DevTools sends each message whole, in one frame.
            let frame = within(method, self.socket.next()).await.unwrap().unwrap();
            let ws::Frame::Text(text) = frame else {
                assert!(
                    !matches!(frame, ws::Frame::Continuation(_)),
                    "a fragmented message"
                );
                continue;
            };
            let answer: Value = serde_json::from_slice(&text).unwrap();
            if answer["id"] == id {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, expression: &str) -> Value {
        let params = json!({ "expression": expression, "returnByValue": true });
        self.call("Runtime.evaluate", params).await["result"]["value"].clone()
    }

    /// Waits (a bounded number of looks) until `expression` is true.
    async fn until(&mut self, what: &str, expression: &str) {
        for _ in 0..300 {
            if self.eval(expression).await == json!(true) {
                return;
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        let html = self.eval("document.body && document.body.innerText").await;
        panic!("never saw {what}; the page says: {html}");
    }

    /// Clicks the first button for `action`, and waits for the page to say it was done.
    async fn click(&mut self, action: &str) {
        for _ in 0..5 {
            let click = format!(
                "(() => {{ const b = document.querySelector('button[data-action={action}]'); if (b) {{ b.click(); return true; }} return false; }})()"
            );
            if self.eval(&click).await == json!(true) {
                let done = format!(
                    "(document.getElementById('done')?.textContent ?? '').startsWith('{action} done')"
                );
                for _ in 0..100 {
                    if self.eval(&done).await == json!(true) {
                        return;
                    }
                    actix_rt::time::sleep(Duration::from_millis(100)).await;
                }
            }
            actix_rt::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("clicking {action} was never done");
    }

    async fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}

async fn get(url: &str) -> (u16, Bytes) {
    let mut response = within(url, awc::Client::new().get(url).send())
        .await
        .unwrap();
    let body = within(url, response.body()).await.unwrap();
    (response.status().as_u16(), body)
}

async fn post(url: &str, content_type: &str, body: String) -> u16 {
    let request = awc::Client::new()
        .post(url)
        .insert_header(("content-type", content_type));
    within(url, request.send_body(body))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Reads `url` (JSON) until `check` holds, a bounded number of times.
async fn until_json(url: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let (_, body) = get(url).await;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if check(&value) {
            return value;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never showed what was expected");
}

#[actix_rt::test]
async fn the_page_shows_an_open_circuit_and_redrives_its_dead_letters() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI needs chromium for the browser test"
        );
        eprintln!("skipped: no chromium (apt-get install chromium)");
        return;
    };

    // The example, on a free port.
    let mut child = Command::new(example())
        .env("HERALD_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let _example = Killed(child);
    let (ingress, stdout) = line_after(stdout, "ingress");
    let (ops, stdout) = line_after(stdout, "operations");
    let base = ingress.trim_end_matches("/events").to_owned();
    std::thread::spawn(move || for _ in stdout.lines() {});

    // The partner is down: three paid orders open its circuit and are dead-lettered.
    for n in 1..=3 {
        let order = json!({
            "specversion": "1.0", "id": format!("order-{n}"), "source": "/shop",
            "type": "order.paid", "data": {"total": n}
        });
        let status = post(&ingress, herald::signal::STRUCTURED, order.to_string()).await;
        assert_eq!(status, 202);
    }
    until_json(&format!("{ops}api/dead-letters"), |v| v["matched"] == 3).await;
    until_json(&format!("{ops}api/endpoints"), |v| {
        (v["endpoints"].as_array().into_iter().flatten()).any(|e| e["circuit"] == "open")
    })
    .await;

    // The browser.
    let profile = std::env::temp_dir().join(format!("herald-chromium-{}", std::process::id()));
    let mut browser = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--mute-audio",
            "--window-size=1400,1000",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(browser.stderr.take().unwrap());
    let _browser = Killed(browser);
    let (devtools, stderr) = line_after(stderr, "DevTools listening on ");
    std::thread::spawn(move || for _ in stderr.lines() {});
    let port = devtools
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let (_, list) = get(&format!("http://127.0.0.1:{port}/json/list")).await;
    let targets: Vec<Value> = serde_json::from_slice(&list).unwrap();
    let page_url = targets
        .iter()
        .find(|target| target["type"] == "page")
        .and_then(|target| target["webSocketDebuggerUrl"].as_str())
        .unwrap()
        .to_owned();
    let (_, socket) = within(
        "devtools",
        awc::Client::new()
            .ws(page_url)
            .max_frame_size(64 << 20)
            .connect(),
    )
    .await
    .unwrap();
    let mut page = Page { socket, next: 0 };

    page.call("Page.navigate", json!({ "url": ops })).await;
    page.until(
        "the open circuit",
        "document.querySelector('tr.endpoint[data-circuit=open]') !== null",
    )
    .await;
    page.until(
        "three dead letters",
        "document.querySelectorAll('tr.dead-letter').length === 3",
    )
    .await;
    let text = page.eval("document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("order-1") && text.contains("http_status"),
        "{text}"
    );
    assert!(!text.contains("whsec_"), "{text}");
    let before = page.screenshot("operations-open-circuit.png").await;
    println!("screenshot: {}", before.display());

    // The partner recovers; reset and redrive from the page.
    assert_eq!(
        post(&format!("{base}/partner/up"), "text/plain", String::new()).await,
        204
    );
    page.click("reset").await;
    page.until(
        "the closed circuit",
        "document.querySelector('tr.endpoint[data-circuit=closed]') !== null",
    )
    .await;
    page.click("redrive").await;
    page.until(
        "no dead letters",
        "document.getElementById('dead-letter-count').textContent === '0'",
    )
    .await;
    let after = page.screenshot("operations-redriven.png").await;
    println!("screenshot: {}", after.display());

    let (_, count) = get(&format!("{base}/partner/count")).await;
    assert_eq!(&count[..], b"3", "the partner got every redriven signal");
    let _ = std::fs::remove_dir_all(profile);
}
