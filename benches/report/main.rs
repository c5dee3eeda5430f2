//! Herald's benchmark report: every scenario against a baseline doing the same work,
//! measured in the same run, as a ratio (lower is better).
//!
//! ```sh
//! cargo bench --bench report                        # the full report (several minutes)
//! cargo bench --bench report -- sustained           # scenarios whose name contains it
//! cargo bench --bench report -- sustained,=webhook_10k  # either (`=`: exactly)
//! cargo bench --bench report -- --cores 1           # pinned to the first N cores
//! HERALD_BENCH_QUICK=1 cargo bench --bench report   # every scenario at a tiny scale
//! ```
//!
//! Prints a table and writes `target/herald-bench/report.json`. Each scenario runs in
//! a fresh process; each figure is the median of several runs after a warm-up; Herald
//! and its baseline alternate, so drift on a shared machine hits both alike. See
//! `docs/PERFORMANCE.md`.

// A benchmark binary: its items are documented for readers, not as API.
#![allow(missing_docs, missing_debug_implementations)]

mod memory;
mod nats;
mod peers;
mod scenarios;
mod watchdog;
#[cfg(feature = "web")]
mod web;

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use herald::prelude::*;
use serde_json::json;

/// How big each scenario is, and how many measured runs.
pub(crate) struct Scale {
    quick: bool,
    runs: usize,
}

impl Scale {
    pub(crate) fn of(&self, full: usize, quick: usize) -> usize {
        if self.quick { quick } else { full }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Seconds,
    Bytes,
}

struct Row {
    scenario: Cow<'static, str>,
    baseline_is: Cow<'static, str>,
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

/// The mean time of `times` runs of `run` in a row: one sample.
async fn sample<F: FnMut() -> Fut, Fut: Future>(run: &mut F, times: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..times {
        run().await;
    }
    start.elapsed().as_secs_f64() / times as f64
}

/// One warm-up of each, then `runs` measured rounds of one run each, the side that
/// goes first alternating; the medians.
pub(crate) async fn measure<H, HF, B, BF>(scale: &Scale, herald: H, baseline: B) -> (f64, f64)
where
    H: FnMut() -> HF,
    HF: Future,
    B: FnMut() -> BF,
    BF: Future,
{
    measure_batched(scale, 1, herald, baseline).await
}

/// As [`measure`], each sample the mean of `times` runs in a row: scenarios well under
/// a millisecond are measured over a batch, so that one late wake-up on a busy machine
/// does not decide a sample.
pub(crate) async fn measure_batched<H, HF, B, BF>(
    scale: &Scale,
    times: usize,
    mut herald: H,
    mut baseline: B,
) -> (f64, f64)
where
    H: FnMut() -> HF,
    HF: Future,
    B: FnMut() -> BF,
    BF: Future,
{
    let times = if scale.quick { 1 } else { times };
    sample(&mut herald, times).await;
    sample(&mut baseline, times).await;
    let (mut h, mut b) = (Vec::new(), Vec::new());
    // Each side goes first in every other round: whatever the first of a pair meets
    // (the other's tail: wake-ups, connections closing) falls on both alike.
    for round in 0..scale.runs {
        if round % 2 == 0 {
            h.push(sample(&mut herald, times).await);
            b.push(sample(&mut baseline, times).await);
        } else {
            b.push(sample(&mut baseline, times).await);
            h.push(sample(&mut herald, times).await);
        }
    }
    (median(h), median(b))
}

/// The pool size the dispatchers here use: Herald's default, or `HERALD_BENCH_POOL`.
pub(crate) fn pool_size() -> usize {
    std::env::var("HERALD_BENCH_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(herald::DispatcherBuilder::default_pool_size)
}

/// A dispatcher builder with the default configuration (the pool size as above).
pub(crate) fn builder() -> herald::DispatcherBuilder {
    Dispatcher::builder().pool_size(pool_size())
}

pub(crate) fn signal() -> Arc<Signal> {
    Arc::new(
        Signal::builder("bench.signal")
            .source("/bench")
            .data(json!({"id": 42, "name": "Ada"}))
            .build()
            .expect("valid signal"),
    )
}

pub(crate) async fn dispatch(dispatcher: &Addr<Dispatcher>, dispatch: Dispatch) {
    dispatcher
        .send(dispatch)
        .await
        .expect("dispatcher running")
        .expect("every target delivered");
}

fn print(rows: &[Row]) {
    println!(
        "\n{:<42} {:>12} {:>12} {:>7} {:>6}  {:<4} baseline",
        "scenario", "herald", "baseline", "ratio", "goal", "met"
    );
    for row in rows {
        let show = |value: f64| match row.unit {
            Unit::Seconds => format!("{:.3} ms", value * 1e3),
            Unit::Bytes if value < 1e6 => format!("{value:.0} B"),
            Unit::Bytes => format!("{:.1} MiB", value / (1024.0 * 1024.0)),
        };
        let goal = row.goal.map_or("-".to_owned(), |goal| format!("{goal:.2}"));
        let met = match row.met() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "{:<42} {:>12} {:>12} {:>7.3} {:>6}  {met:<4} {}",
            row.scenario,
            show(row.herald),
            show(row.baseline),
            row.ratio(),
            goal,
            row.baseline_is,
        );
    }
}

impl Row {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "scenario": self.scenario,
            "baseline": self.baseline_is,
            "herald": self.herald,
            "baseline_value": self.baseline,
            "unit": if self.unit == Unit::Seconds { "s" } else { "bytes" },
            "ratio": self.ratio(),
            "goal": self.goal,
        })
    }

    fn from_json(json: &serde_json::Value) -> Option<Row> {
        let text = |key: &str| Some(Cow::Owned(json.get(key)?.as_str()?.to_owned()));
        Some(Row {
            scenario: text("scenario")?,
            baseline_is: text("baseline")?,
            herald: json.get("herald")?.as_f64()?,
            baseline: json.get("baseline_value")?.as_f64()?,
            goal: json.get("goal")?.as_f64(),
            unit: match json.get("unit")?.as_str()? {
                "s" => Unit::Seconds,
                _ => Unit::Bytes,
            },
        })
    }
}

/// Set in the process that runs one scenario for the report (see [`isolated`]).
const CHILD: &str = "HERALD_BENCH_CHILD";
/// How such a process writes each of its rows on its standard output.
const ROW: &str = "herald-bench-row ";

/// Runs scenario `name` in a fresh process of this benchmark, so that no scenario
/// meets another's leftovers (threads, heap, connections); its rows. Whatever else it
/// prints is passed on.
fn isolated(name: &str) -> Result<Vec<Row>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .arg("--bench")
        .arg(format!("={name}"))
        .env(CHILD, "1")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start: {e}"))?;
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        match line.strip_prefix(ROW) {
            Some(row) => rows.push(
                serde_json::from_str(row)
                    .ok()
                    .as_ref()
                    .and_then(Row::from_json)
                    .ok_or_else(|| format!("an unreadable row: {row}"))?,
            ),
            None => println!("{line}"),
        }
    }
    if output.status.success() {
        Ok(rows)
    } else {
        Err(format!("ended with {}", output.status))
    }
}

fn write_json(rows: &[Row]) {
    let json: Vec<_> = rows.iter().map(Row::to_json).collect();
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

/// The command line: `--cores N` and an optional scenario filter (`cargo bench`
/// adds `--bench`).
struct Args {
    cores: Option<usize>,
    filter: Option<String>,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        cores: None,
        filter: None,
    };
    while let Some(arg) = args.next() {
        if arg == "--cores" {
            parsed.cores = args.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0);
            assert!(parsed.cores.is_some(), "--cores takes a number of cores");
        } else if !arg.starts_with('-') {
            parsed.filter = Some(arg);
        }
    }
    parsed
}

/// Runs this report again pinned to the first `cores` cores (with `taskset`), and
/// exits with its status.
fn pin(cores: usize) -> ! {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let status = std::process::Command::new("taskset")
        .arg("-c")
        .arg(format!("0-{}", cores - 1))
        .arg(exe)
        .args(std::env::args().skip(1))
        .env("HERALD_BENCH_PINNED", cores.to_string())
        .status()
        .expect("taskset (util-linux) runs");
    std::process::exit(status.code().unwrap_or(1));
}

fn main() {
    let quick = std::env::var("HERALD_BENCH_QUICK").is_ok_and(|v| v != "0");
    if let Ok(side) = std::env::var("HERALD_BENCH_PROBE") {
        memory::probe(&side, quick);
        return;
    }
    let args = args();
    if let Some(cores) = args.cores
        && std::env::var_os("HERALD_BENCH_PINNED").is_none()
    {
        pin(cores);
    }
    let scale = Scale {
        quick,
        runs: if quick { 1 } else { 7 },
    };
    let child = std::env::var_os(CHILD).is_some();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !child {
        println!(
            "cores available: {cores}; dispatcher pool size: {}; {}",
            pool_size(),
            if quick { "quick mode" } else { "full scale" }
        );
    }
    // A filter selects scenarios whose name contains it; `=name` selects one exactly;
    // `a,b` selects what either selects.
    let selected = |name: &str| {
        args.filter.as_deref().is_none_or(|filter| {
            filter.split(',').any(|f| match f.strip_prefix('=') {
                Some(exact) => name == exact,
                None => name.contains(f),
            })
        })
    };
    // The report runs each scenario below in a process of its own (`isolated`): here
    // it only notes which are selected; the process it starts runs the one it names.
    let isolate = RefCell::new(Vec::new());
    let wanted = |name: &'static str| {
        if !selected(name) {
            false
        } else if child {
            true
        } else {
            isolate.borrow_mut().push(name);
            false
        }
    };
    watchdog::start();
    let mut rows = Vec::new();
    actix::System::new().block_on(async {
        let s = &scale;
        let mut time = |scenario, baseline_is, (herald, baseline): (f64, f64), goal| {
            watchdog::finished(scenario);
            rows.push(Row {
                scenario: scenario.into(),
                baseline_is: Cow::Borrowed(baseline_is),
                herald,
                baseline,
                goal,
                unit: Unit::Seconds,
            })
        };
        use herald::Mode::{Async, Sync};
        use scenarios as sc;
        if wanted("fanout_noop_1k") {
            let n = s.of(1000, 100);
            let result = sc::noop_vs_relay(s, n, n).await;
            time("fanout_noop_1k", "relay floor", result, Some(1.5));
        }
        if wanted("fanout_pid_1k_enqueued") {
            let result = sc::fanout_pid(s, false).await;
            time("fanout_pid_1k_enqueued", "raw try_send", result, None);
        }
        if wanted("fanout_pid_1k_handled") {
            let result = sc::fanout_pid(s, true).await;
            time("fanout_pid_1k_handled", "raw try_send", result, Some(1.15));
        }
        if wanted("fanout_pid_1k_sync") {
            let result = sc::fanout_pid_sync(s).await;
            time(
                "fanout_pid_1k_sync",
                "joined Addr::send, bounded",
                result,
                None,
            );
        }
        if wanted("pid_wait_vs_best_effort_1k") {
            let result = sc::mailbox_modes(s).await;
            time(
                "pid_wait_vs_best_effort_1k",
                "herald best_effort",
                result,
                None,
            );
        }
        if wanted("batch_noop_10k_c50") {
            let result = sc::noop_vs_relay(s, s.of(10_000, 500), 50).await;
            time("batch_noop_10k_c50", "relay floor", result, None);
        }
        if wanted("slow_10x100ms_c8") {
            time(
                "slow_10x100ms_c8",
                "2 x 100 ms",
                sc::slow(s, 8).await,
                Some(1.05),
            );
        }
        if wanted("slow_10x100ms_c10") {
            time(
                "slow_10x100ms_c10",
                "1 x 100 ms",
                sc::slow(s, 10).await,
                Some(1.05),
            );
        }
        if wanted("one_target_10k") {
            let result = sc::one_target_vs_relay(s, s.of(10_000, 500), 1, Async, None).await;
            time("one_target_10k", "relay floor", result, Some(1.15));
        }
        if wanted("sustained_async_100k") {
            let n = s.of(100_000, 2_000);
            let result = sc::one_target_vs_relay(s, n, 64, Async, None).await;
            time("sustained_async_100k", "relay floor", result, Some(1.2));
        }
        // Herald bounds each sync wait by the target's timeout; the floor that does the
        // same bounds each call with actix's `timeout`. The unbounded floor does less
        // (a stalled receiver would hold it forever): shown, not judged.
        let sync_rows = [
            (
                "sustained_sync_100k",
                "relay floor, bounded",
                Some(herald::PidTarget::DEFAULT_TIMEOUT),
                Some(1.2),
            ),
            (
                "sustained_sync_100k_unbounded",
                "relay floor, unbounded",
                None,
                None,
            ),
        ];
        for (scenario, baseline_is, bound, goal) in sync_rows {
            if wanted(scenario) {
                let n = s.of(100_000, 2_000);
                let result = sc::one_target_vs_relay(s, n, 64, Sync, bound).await;
                time(scenario, baseline_is, result, goal);
            }
        }
        if wanted("sharded_2_vs_1") {
            let result = sc::sharded(s, 2).await;
            time("sharded_2_vs_1", "one shard", result, None);
        }
        if wanted("pubsub_1k_subscribers") {
            let result = sc::pubsub(s).await;
            time("pubsub_1k_subscribers", "raw try_send", result, Some(1.5));
        }
        if wanted("telemetry_off_vs_on") {
            let result = sc::telemetry(s).await;
            time("telemetry_off_vs_on", "telemetry on", result, None);
        }
        if wanted("webhook_10k") {
            let result = sc::webhook(s).await;
            time("webhook_10k", "raw signing awc", result, Some(1.1));
        }
        if wanted("egress_webhook_10k") {
            let (result, lookups) = sc::egress_webhook(s).await;
            let per_delivery = (result.0 - result.1) / s.of(10_000, 100) as f64;
            println!(
                "egress_webhook_10k: {:.2} µs a delivery over the code-built target; {lookups} lookups",
                per_delivery * 1e6
            );
            time("egress_webhook_10k", "built in code", result, Some(1.05));
        }
        if wanted("endpoint_churn_100k") {
            let result = sc::endpoint_churn(s).await;
            time("endpoint_churn_100k", "map of 1,000", result, Some(1.2));
        }
        if wanted("ordered_fanout_1k_keys") {
            let result = sc::ordered_fan_out(s).await;
            time("ordered_fanout_1k_keys", "no keys", result, Some(1.2));
        }
        if wanted("paused_then_resumed_10k") {
            let result = sc::paused_then_resumed(s).await;
            time("paused_then_resumed_10k", "delivered directly", result, Some(1.3));
        }
        #[cfg(feature = "metrics")]
        if wanted("metrics_fanout_pid_1k") {
            let result = sc::metrics_fanout(s).await;
            time("metrics_fanout_pid_1k", "metrics off", result, Some(1.15));
        }
        #[cfg(feature = "metrics")]
        if wanted("metrics_webhook_10k") {
            let result = sc::metrics_webhook(s).await;
            time("metrics_webhook_10k", "metrics off", result, Some(1.05));
        }
        #[cfg(feature = "web")]
        if wanted("ingress_structured_10k_c64") {
            let result = web::ingress(s).await;
            time(
                "ingress_structured_10k_c64",
                "bare actix-web, serde, try_send",
                result,
                Some(1.2),
            );
        }
        if wanted("policies_idle_webhook_10k") {
            let result = sc::webhook_policies(s).await;
            time(
                "policies_idle_webhook_10k",
                "no policies",
                result,
                Some(1.05),
            );
        }
        {
            use herald::resilience::{Breaker, Concurrency, Dedupe, RateLimit};
            let every = || {
                Resilience::new()
                    .breaker(Breaker::default())
                    .dedupe(Dedupe::default())
                    .rate_limit(RateLimit::per_second(u32::MAX).expect("a rate"))
                    .concurrency(Concurrency::max(u32::MAX).expect("a cap"))
                    .dead_letter(Target::noop())
            };
            type Policy = Box<dyn Fn() -> Resilience>;
            let policies: [(&'static str, Policy); 6] = [
                (
                    "policy_breaker_pid_1k",
                    Box::new(|| Resilience::new().breaker(Breaker::default())),
                ),
                (
                    "policy_dedupe_pid_1k",
                    Box::new(|| Resilience::new().dedupe(Dedupe::default())),
                ),
                (
                    "policy_rate_limit_pid_1k",
                    Box::new(|| {
                        Resilience::new()
                            .rate_limit(RateLimit::per_second(u32::MAX).expect("a rate"))
                    }),
                ),
                (
                    "policy_concurrency_pid_1k",
                    Box::new(|| {
                        Resilience::new().concurrency(Concurrency::max(u32::MAX).expect("a cap"))
                    }),
                ),
                (
                    "policy_dead_letter_idle_pid_1k",
                    Box::new(|| Resilience::new().dead_letter(Target::noop())),
                ),
                ("policies_all_idle_pid_1k", Box::new(every)),
            ];
            for (name, resilience) in policies {
                if wanted(name) {
                    let result = sc::policy_cost(s, resilience()).await;
                    time(name, "no policies", result, None);
                }
            }
        }
        let nats = [
            "nats_publish_10k",
            "nats_bridge_10k",
            "nats_durable_10k",
            "nats_replay_10k",
            "nats_dead_letter_1k",
        ];
        if nats.iter().any(|name| wanted(name)) {
            match nats::Server::start() {
                Err(why) => println!("nats rows left out: {why}"),
                Ok(server) => {
                    if wanted("nats_publish_10k") {
                        let result = nats::publish(s, &server).await;
                        time(
                            "nats_publish_10k",
                            "raw async-nats publish",
                            result,
                            Some(1.2),
                        );
                    }
                    if wanted("nats_bridge_10k") {
                        let result = nats::bridge(s, &server).await;
                        time(
                            "nats_bridge_10k",
                            "raw subscribe + try_send",
                            result,
                            Some(1.3),
                        );
                    }
                    if wanted("nats_durable_10k") {
                        let result = nats::durable(s, &server).await;
                        time("nats_durable_10k", "raw JetStream", result, Some(1.3));
                    }
                    if wanted("nats_replay_10k") {
                        let result = nats::replay(s, &server).await;
                        time("nats_replay_10k", "raw ordered consumer", result, Some(1.3));
                    }
                    if wanted("nats_dead_letter_1k") {
                        let result = nats::dead_letter(s, &server).await;
                        time("nats_dead_letter_1k", "raw JetStream", result, Some(1.3));
                    }
                }
            }
        }
        if wanted("memory_growth_1m") {
            let (herald, baseline) = memory::growth(s).await;
            watchdog::finished("memory_growth_1m");
            rows.push(Row {
                scenario: "memory_growth_1m".into(),
                baseline_is: "after the first 10%".into(),
                herald,
                baseline,
                goal: Some(1.05),
                unit: Unit::Bytes,
            });
        }
    });
    if child {
        for row in &rows {
            println!("{ROW}{}", row.to_json());
        }
        return;
    }
    let mut failed = Vec::new();
    for name in isolate.take() {
        match isolated(name) {
            Ok(done) => rows.extend(done),
            Err(why) => {
                eprintln!("{name}: {why}");
                failed.push(name);
            }
        }
        watchdog::finished(name);
    }
    // Herald's side is measured once (a fresh process) for every baseline. Herald
    // bounds its wait; the baselines that do the same bound each call with actix's
    // `timeout`, the unbounded ones (less work) are shown, not judged.
    let memory_rows = [
        (
            "memory_per_outstanding",
            "raw Addr::send, bounded",
            "raw_bounded",
            Some(1.1),
        ),
        (
            "memory_per_outstanding_vs_relay",
            "relay floor, bounded",
            "relay_bounded",
            None,
        ),
        (
            "memory_per_outstanding_unbounded",
            "raw Addr::send, unbounded",
            "raw",
            None,
        ),
        (
            "memory_per_outstanding_vs_relay_unbounded",
            "relay floor, unbounded",
            "relay",
            None,
        ),
    ];
    let mut herald_bytes = None;
    for (scenario, baseline_is, side, goal) in memory_rows {
        if selected(scenario) {
            let herald =
                *herald_bytes.get_or_insert_with(|| memory::per_outstanding("herald", quick));
            let baseline = memory::per_outstanding(side, quick);
            watchdog::finished(scenario);
            rows.push(Row {
                scenario: scenario.into(),
                baseline_is: baseline_is.into(),
                herald,
                baseline,
                goal,
                unit: Unit::Bytes,
            });
        }
    }
    print(&rows);
    write_json(&rows);
    if quick {
        println!("(quick mode: tiny scale, timings not judged)");
    }
    if !failed.is_empty() {
        eprintln!("scenarios that failed: {}", failed.join(", "));
        std::process::exit(1);
    }
}
