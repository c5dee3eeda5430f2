//! Herald's benchmark report: every scenario against a baseline measured in the same
//! run, as a ratio (lower is better).
//!
//! ```sh
//! cargo bench --bench report                        # the full report (a few minutes)
//! HERALD_BENCH_QUICK=1 cargo bench --bench report   # every scenario at a tiny scale
//! ```
//!
//! Prints a table and writes `target/herald-bench/report.json`. Each figure is the
//! median of several runs after a warm-up; Herald and its baseline alternate, so drift
//! on a shared machine hits both alike. See `docs/PERFORMANCE.md`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::StreamExt;
use futures_util::future::join_all;
use herald::http::RetryPolicy;
use herald::prelude::*;
use herald::{Adapter, Delivery, ErrorKind, Outcome, TargetError, TargetOptions};
use serde_json::json;

/// How big each scenario is, and how many measured runs.
struct Scale {
    quick: bool,
    runs: usize,
}

impl Scale {
    fn of(&self, full: usize, quick: usize) -> usize {
        if self.quick { quick } else { full }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Seconds,
    Bytes,
}

struct Row {
    scenario: &'static str,
    herald: f64,
    baseline: f64,
    goal: Option<f64>,
    unit: Unit,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.herald / self.baseline
    }

    fn met(&self) -> Option<bool> {
        self.goal.map(|goal| self.ratio() <= goal)
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn seconds<F: Future>(future: F) -> f64 {
    let start = Instant::now();
    future.await;
    start.elapsed().as_secs_f64()
}

/// One warm-up of each, then `runs` alternating measured runs; the medians.
async fn measure<H, HF, B, BF>(scale: &Scale, mut herald: H, mut baseline: B) -> (f64, f64)
where
    H: FnMut() -> HF,
    HF: Future,
    B: FnMut() -> BF,
    BF: Future,
{
    seconds(herald()).await;
    seconds(baseline()).await;
    let (mut h, mut b) = (Vec::new(), Vec::new());
    for _ in 0..scale.runs {
        h.push(seconds(herald()).await);
        b.push(seconds(baseline()).await);
    }
    (median(h), median(b))
}

/// A receiver that accepts everything: the baseline's target and the `pid` target.
struct Sink;

impl Actor for Sink {
    type Context = Context<Self>;
}

/// Receivers live on an arbiter of their own, as an application's actors would. The
/// arbiter stops with the scenario, so no scenario runs beside another's threads.
struct Receivers(Arbiter);

impl Drop for Receivers {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl Receivers {
    fn new() -> Self {
        Self(Arbiter::new())
    }

    /// Starts `n` sinks and waits until each has handled a message, so that their
    /// mailbox capacity is in place before a scenario sends.
    async fn start(&self, n: usize) -> Vec<Addr<Sink>> {
        let sinks: Vec<Addr<Sink>> = (0..n)
            .map(|_| {
                // Room for every async delivery a scenario makes before the sink catches
                // up, set before the sink runs (not in `started`, which would race the
                // first sends).
                Sink::start_in_arbiter(&self.0.handle(), |ctx| {
                    ctx.set_mailbox_capacity(1 << 20);
                    Sink
                })
            })
            .collect();
        for sink in &sinks {
            let ready = sink.send(SignalMessage::new(signal())).await;
            ready.expect("sink started").expect("sink accepts");
        }
        sinks
    }
}

impl Handler<SignalMessage> for Sink {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

/// A custom adapter that takes `delay_ms` to deliver.
struct Sleep;

#[derive(Debug)]
struct SleepOptions(Duration);

impl TargetOptions for SleepOptions {}

impl Adapter for Sleep {
    type Options = SleepOptions;

    fn validate(&self, config: &serde_json::Value) -> Result<SleepOptions, TargetError> {
        let ms = config["delay_ms"].as_u64().unwrap_or(0);
        Ok(SleepOptions(Duration::from_millis(ms)))
    }

    async fn deliver(&self, delivery: Delivery<'_, SleepOptions>) -> Result<Outcome, ErrorKind> {
        actix_rt::time::sleep(delivery.options.0).await;
        Ok(Outcome::Delivered)
    }
}

/// A dispatcher builder; `HERALD_BENCH_POOL` overrides the pool size (for experiments).
fn builder() -> herald::DispatcherBuilder {
    let builder = Dispatcher::builder();
    match std::env::var("HERALD_BENCH_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(pool) => builder.pool_size(pool),
        None => builder,
    }
}

fn signal() -> Arc<Signal> {
    Arc::new(
        Signal::builder("bench.signal")
            .source("/bench")
            .data(json!({"id": 42, "name": "Ada"}))
            .build()
            .expect("valid signal"),
    )
}

async fn dispatch(dispatcher: &Addr<Dispatcher>, dispatch: Dispatch) {
    dispatcher
        .send(dispatch)
        .await
        .expect("dispatcher running")
        .expect("every target delivered");
}

/// `n` sends to `sinks` in turn, all awaited together.
async fn joined_sends(sinks: &[Addr<Sink>], signal: &Arc<Signal>, n: usize) {
    let sends = (0..n).map(|i| sinks[i % sinks.len()].send(SignalMessage::new(Arc::clone(signal))));
    for result in join_all(sends).await {
        result.expect("sink running").expect("sink accepts");
    }
}

async fn fanout_noop(scale: &Scale, telemetry: bool, n: usize, concurrency: usize) -> (f64, f64) {
    let dispatcher = builder().telemetry(telemetry).max_in_flight(n).start();
    let signal = signal();
    let targets = vec![Target::noop(); n];
    let receivers = Receivers::new();
    let sinks = receivers.start(1).await;
    measure(
        scale,
        || {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(concurrency),
            )
        },
        || joined_sends(&sinks, &signal, n),
    )
    .await
}

async fn fanout_pid(scale: &Scale, mode: herald::Mode) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let dispatcher = builder().start();
    let signal = signal();
    let receivers = Receivers::new();
    let sinks = receivers.start(10).await;
    let targets: Vec<Target> = (0..n)
        .map(|i| {
            Target::pid(sinks[i % 10].clone().recipient())
                .mode(mode)
                .into()
        })
        .collect();
    measure(
        scale,
        || {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(n),
            )
        },
        || joined_sends(&sinks, &signal, n),
    )
    .await
}

/// The default mailbox mode (waits for room when full) against `best_effort` (a bare
/// `try_send`), both Herald, both to sinks with room: what waiting costs when it never
/// has to wait.
async fn mailbox_modes(scale: &Scale) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let dispatcher = builder().start();
    let signal = signal();
    let receivers = Receivers::new();
    let sinks = receivers.start(10).await;
    let targets = |mode: herald::Mode| -> Vec<Target> {
        (0..n)
            .map(|i| {
                Target::pid(sinks[i % 10].clone().recipient())
                    .mode(mode)
                    .into()
            })
            .collect()
    };
    let (waiting, best_effort) = (
        targets(herald::Mode::Async),
        targets(herald::Mode::BestEffort),
    );
    measure(
        scale,
        || {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), waiting.clone()).max_concurrency(n),
            )
        },
        || {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), best_effort.clone()).max_concurrency(n),
            )
        },
    )
    .await
}

async fn slow(scale: &Scale, concurrency: usize) -> (f64, f64) {
    let dispatcher = builder().adapter("sleep", || Sleep).start();
    let signal = signal();
    let targets = vec![Target::custom("sleep", json!({"delay_ms": 100})); 10];
    let limit = if concurrency >= 10 { 0.1 } else { 0.2 };
    let (herald, _) = measure(
        scale,
        || {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(concurrency),
            )
        },
        || async {},
    )
    .await;
    (herald, limit)
}

async fn sustained_pid(scale: &Scale, mode: herald::Mode) -> (f64, f64) {
    let n = scale.of(100_000, 1_000);
    let dispatcher = builder().start();
    let signal = signal();
    let receivers = Receivers::new();
    let sink = receivers.start(1).await.remove(0);
    let target: Target = Target::pid(sink.clone().recipient()).mode(mode).into();
    measure(
        scale,
        || {
            futures_util::stream::iter(0..n)
                .map(|_| {
                    dispatch(
                        &dispatcher,
                        Dispatch::new(Arc::clone(&signal), [target.clone()]),
                    )
                })
                .buffer_unordered(64)
                .for_each(|()| async {})
        },
        || {
            futures_util::stream::iter(0..n)
                .map(|_| sink.send(SignalMessage::new(Arc::clone(&signal))))
                .buffer_unordered(64)
                .for_each(|result| async { result.unwrap().unwrap() })
        },
    )
    .await
}

async fn pubsub(scale: &Scale) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let hub = PubSub::new();
    let receivers = Receivers::new();
    let sinks = receivers.start(n).await;
    for sink in &sinks {
        hub.subscribe("bench", sink.clone().recipient())
            .expect("valid topic");
    }
    let recipients: Vec<Recipient<SignalMessage>> =
        sinks.iter().map(|s| s.clone().recipient()).collect();
    let dispatcher = builder().pubsub(hub).start();
    let signal = signal();
    let target: Target = Target::pubsub("bench").expect("valid topic").into();
    measure(
        scale,
        || async {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), [target.clone()]),
            )
            .await;
            // Let the subscribers drain their mailboxes before the next run.
            actix_rt::task::yield_now().await;
        },
        || async {
            for recipient in &recipients {
                recipient
                    .try_send(SignalMessage::new(Arc::clone(&signal)))
                    .expect("room in the mailbox");
            }
            actix_rt::task::yield_now().await;
        },
    )
    .await
}

/// A loopback actix-web receiver on its own thread (and its own actix system).
fn receiver() -> u16 {
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(|| {
                actix_web::App::new().default_service(actix_web::web::to(
                    |_body: actix_web::web::Bytes| async { actix_web::HttpResponse::Ok().finish() },
                ))
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("bind loopback");
            port_tx
                .send(server.addrs()[0].port())
                .expect("report the port");
            server.run().await.expect("receiver runs");
        });
    });
    port_rx.recv().expect("receiver started")
}

async fn webhook(scale: &Scale) -> (f64, f64) {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let n = scale.of(10_000, 100);
    let url = format!("http://127.0.0.1:{}/hook", receiver());
    let dispatcher = builder().max_in_flight(n).start();
    let signal = signal();
    let target: Target = Target::webhook(&url)
        .expect("valid url")
        .secret(SECRET)
        .expect("valid secret")
        .retry(RetryPolicy::none())
        .into();
    let targets = vec![target; n];
    // The baseline posts the same bytes — body and signature headers computed once —
    // with a plain awc client: same settings (no redirects, 5 s timeout), same 64 in flight.
    let body = bytes::Bytes::from(signal.to_json_vec());
    let client = awc::Client::builder()
        .disable_redirects()
        .disable_timeout()
        .finish();
    let headers = [
        ("webhook-id", signal.id().to_owned()),
        ("webhook-timestamp", "1700000000".to_owned()),
        (
            "webhook-signature",
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
    ];
    measure(
        scale,
        || {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(64),
            )
        },
        || {
            futures_util::stream::iter(0..n)
                .map(|_| {
                    let mut request = client
                        .post(&url)
                        .timeout(Duration::from_secs(5))
                        .insert_header(("content-type", "application/cloudevents+json"));
                    for header in &headers {
                        request = request.insert_header(header.clone());
                    }
                    let body = body.clone();
                    async move {
                        let mut response = request.send_body(body).await.expect("receiver answers");
                        assert!(response.status().is_success());
                        let _ = response.body().await;
                    }
                })
                .buffer_unordered(64)
                .for_each(|()| async {})
        },
    )
    .await
}

/// Resident memory of this process, in bytes.
fn rss() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0
}

async fn memory(scale: &Scale) -> (f64, f64) {
    let total = scale.of(1_000_000, 20_000);
    let checkpoint = total / 10;
    let dispatcher = builder().start();
    let signal = signal();
    let receivers = Receivers::new();
    let sink = receivers.start(1).await.remove(0);
    let targets: [Target; 2] = [Target::noop(), Target::pid(sink.recipient()).sync().into()];
    let mut after_first = 0.0;
    let mut done = 0;
    while done < total {
        futures_util::stream::iter(0..checkpoint.min(total - done))
            .map(|_| {
                dispatch(
                    &dispatcher,
                    Dispatch::new(Arc::clone(&signal), targets.clone()),
                )
            })
            .buffer_unordered(64)
            .for_each(|()| async {})
            .await;
        done += checkpoint;
        if done == checkpoint {
            after_first = rss();
        }
    }
    (rss(), after_first)
}

fn print(rows: &[Row]) {
    println!(
        "\n{:<24} {:>14} {:>14} {:>8} {:>6}  met?",
        "scenario", "herald", "baseline", "ratio", "goal"
    );
    for row in rows {
        let show = |value: f64| match row.unit {
            Unit::Seconds => format!("{:.3} ms", value * 1e3),
            Unit::Bytes => format!("{:.1} MiB", value / (1024.0 * 1024.0)),
        };
        let goal = row
            .goal
            .map_or("report".to_owned(), |goal| format!("{goal:.2}"));
        let met = match row.met() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "{:<24} {:>14} {:>14} {:>8.3} {:>6}  {met}",
            row.scenario,
            show(row.herald),
            show(row.baseline),
            row.ratio(),
            goal
        );
    }
}

fn write_json(rows: &[Row]) {
    let json: Vec<_> = rows
        .iter()
        .map(|row| {
            json!({
                "scenario": row.scenario,
                "herald_s": row.herald,
                "baseline_s": row.baseline,
                "ratio": row.ratio(),
                "goal": row.goal,
            })
        })
        .collect();
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("herald-bench");
    std::fs::create_dir_all(&dir).expect("create target/herald-bench");
    let path = dir.join("report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json"))
        .expect("write the report");
    println!("\nwrote {}", path.display());
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument runs only matching scenarios.
    let filter: Option<String> = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let quick = std::env::var("HERALD_BENCH_QUICK").is_ok_and(|v| v != "0");
    let scale = Scale {
        quick,
        runs: if quick { 1 } else { 7 },
    };
    // A filter selects scenarios whose name contains it; `=name` selects one exactly.
    let wanted = |name: &str| {
        filter.as_deref().is_none_or(|f| match f.strip_prefix('=') {
            Some(exact) => name == exact,
            None => name.contains(f),
        })
    };
    let mut rows = Vec::new();
    actix::System::new().block_on(async {
        let s = &scale;
        let seconds = |scenario, (herald, baseline): (f64, f64), goal| Row {
            scenario,
            herald,
            baseline,
            goal,
            unit: Unit::Seconds,
        };
        if wanted("fanout_noop_1k") {
            let n = s.of(1000, 100);
            rows.push(seconds(
                "fanout_noop_1k",
                fanout_noop(s, true, n, n).await,
                Some(1.5),
            ));
        }
        if wanted("fanout_pid_1k") {
            rows.push(seconds(
                "fanout_pid_1k",
                fanout_pid(s, herald::Mode::Async).await,
                Some(1.5),
            ));
        }
        if wanted("fanout_pid_1k_sync") {
            rows.push(seconds(
                "fanout_pid_1k_sync",
                fanout_pid(s, herald::Mode::Sync).await,
                None,
            ));
        }
        if wanted("pid_wait_vs_best_effort_1k") {
            rows.push(seconds(
                "pid_wait_vs_best_effort_1k",
                mailbox_modes(s).await,
                None,
            ));
        }
        if wanted("batch_noop_10k") {
            rows.push(seconds(
                "batch_noop_10k",
                fanout_noop(s, true, s.of(10_000, 500), 50).await,
                Some(1.5),
            ));
        }
        if wanted("slow_10x100ms_c8") {
            rows.push(seconds("slow_10x100ms_c8", slow(s, 8).await, Some(1.05)));
        }
        if wanted("slow_10x100ms_c10") {
            rows.push(seconds("slow_10x100ms_c10", slow(s, 10).await, Some(1.05)));
        }
        if wanted("sustained_pid_100k") {
            rows.push(seconds(
                "sustained_pid_100k",
                sustained_pid(s, herald::Mode::Async).await,
                Some(2.0),
            ));
        }
        if wanted("sustained_pid_100k_sync") {
            rows.push(seconds(
                "sustained_pid_100k_sync",
                sustained_pid(s, herald::Mode::Sync).await,
                None,
            ));
        }
        if wanted("pubsub_1k_subscribers") {
            rows.push(seconds("pubsub_1k_subscribers", pubsub(s).await, Some(1.5)));
        }
        if wanted("telemetry_off_vs_on") {
            let n = s.of(1000, 100);
            let (off, _) = fanout_noop(s, false, n, n).await;
            let (on, _) = fanout_noop(s, true, n, n).await;
            rows.push(seconds("telemetry_off_vs_on", (off, on), None));
        }
        if wanted("webhook_10k") {
            rows.push(seconds("webhook_10k", webhook(s).await, Some(1.25)));
        }
        if wanted("memory_1m") {
            let (herald, baseline) = memory(s).await;
            rows.push(Row {
                scenario: "memory_1m",
                herald,
                baseline,
                goal: Some(1.05),
                unit: Unit::Bytes,
            });
        }
    });
    print(&rows);
    write_json(&rows);
    if quick {
        println!("(quick mode: tiny scale, timings not judged)");
    }
}
