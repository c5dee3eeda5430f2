//! The timed scenarios: each returns (Herald, baseline) medians in seconds, both sides
//! doing the same work.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use herald::http::RetryPolicy;
use herald::prelude::*;
use herald::{Adapter, Delivery, ErrorKind, Outcome, TargetError, TargetOptions};
use serde_json::json;

use crate::peers::{self, Post, Poster, Receivers, Relay, Sink, Work};
use crate::{Scale, builder, dispatch, measure, measure_batched, signal};

/// Runs per sample of the scenarios that take well under a millisecond.
const BATCH: usize = 20;

fn recipients(sinks: &[Addr<Sink>], n: usize) -> Arc<[Recipient<SignalMessage>]> {
    (0..n)
        .map(|i| sinks[i % sinks.len()].clone().recipient())
        .collect()
}

/// A shared list of `pid` targets, built once: the relay's recipients are a shared list
/// too, so neither side counts building its list per dispatch.
fn pid_targets(recipients: &[Recipient<SignalMessage>], mode: herald::Mode) -> Arc<[Target]> {
    recipients
        .iter()
        .map(|r| Target::pid(r.clone()).mode(mode).into())
        .collect()
}

/// One dispatch of `signal` to all of `targets` at once.
fn fan_out<'a>(
    dispatcher: &'a Addr<Dispatcher>,
    signal: &Arc<Signal>,
    targets: &Arc<[Target]>,
) -> impl std::future::Future<Output = ()> + 'a {
    let all = Dispatch::new(Arc::clone(signal), Arc::clone(targets)).max_concurrency(targets.len());
    dispatch(dispatcher, all)
}

/// `n` noop targets against the relay doing nothing `n` times.
pub(crate) async fn noop_vs_relay(scale: &Scale, n: usize, concurrency: usize) -> (f64, f64) {
    let dispatcher = builder().max_in_flight(n).start();
    let floor = Relay.start();
    let signal = signal();
    let targets: Arc<[Target]> = vec![Target::noop(); n].into();
    let work = Work::Nothing(n);
    measure_batched(
        scale,
        BATCH,
        || {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(concurrency),
            )
        },
        || peers::relay(&floor, &signal, &work),
    )
    .await
}

/// 1,000 async `pid` targets on 10 sinks against raw `try_send` to the same sinks:
/// until enqueued, or (with `handled`) until every sink has handled its messages.
pub(crate) async fn fanout_pid(scale: &Scale, handled: bool) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let dispatcher = builder().start();
    let signal = signal();
    let receivers = Receivers::new();
    let sinks = receivers.start(10).await;
    let recipients = recipients(&sinks, n);
    let targets = pid_targets(&recipients, herald::Mode::Async);
    measure_batched(
        scale,
        BATCH,
        || async {
            fan_out(&dispatcher, &signal, &targets).await;
            if handled {
                peers::flush(&sinks).await;
            }
        },
        || async {
            for recipient in recipients.iter() {
                recipient
                    .try_send(SignalMessage::new(Arc::clone(&signal)))
                    .expect("room in the mailbox");
            }
            if handled {
                peers::flush(&sinks).await;
            }
        },
    )
    .await
}

/// 1,000 sync `pid` targets against 1,000 joined `Addr::send`s, same concurrency.
pub(crate) async fn fanout_pid_sync(scale: &Scale) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let dispatcher = builder().max_in_flight(n).start();
    let signal = signal();
    let receivers = Receivers::new();
    let sinks = receivers.start(10).await;
    let recipients = recipients(&sinks, n);
    let targets = pid_targets(&recipients, herald::Mode::Sync);
    measure_batched(
        scale,
        BATCH,
        || fan_out(&dispatcher, &signal, &targets),
        || async {
            // Bounded as Herald's sync deliveries are, by the target's timeout.
            let sends = recipients.iter().map(|r| {
                r.send(SignalMessage::new(Arc::clone(&signal)))
                    .timeout(herald::PidTarget::DEFAULT_TIMEOUT)
            });
            for answer in futures_util::future::join_all(sends).await {
                answer.expect("sink running").expect("sink accepts");
            }
        },
    )
    .await
}

/// The default mailbox mode (waits for room when full) against `best_effort` (a bare
/// `try_send`), both Herald, both to sinks with room: what waiting costs when it never
/// has to wait.
pub(crate) async fn mailbox_modes(scale: &Scale) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let dispatcher = builder().start();
    let signal = signal();
    let receivers = Receivers::new();
    let sinks = receivers.start(10).await;
    let recipients = recipients(&sinks, n);
    let waiting = pid_targets(&recipients, herald::Mode::Async);
    let best_effort = pid_targets(&recipients, herald::Mode::BestEffort);
    measure_batched(
        scale,
        BATCH,
        || fan_out(&dispatcher, &signal, &waiting),
        || fan_out(&dispatcher, &signal, &best_effort),
    )
    .await
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

/// Ten 100 ms deliveries at `concurrency`, against the least time that can take.
pub(crate) async fn slow(scale: &Scale, concurrency: usize) -> (f64, f64) {
    let dispatcher = builder().adapter("sleep", || Sleep).start();
    let signal = signal();
    let targets: Arc<[Target]> = vec![Target::custom("sleep", json!({"delay_ms": 100})); 10].into();
    let floor = if concurrency >= 10 { 0.1 } else { 0.2 };
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
    (herald, floor)
}

/// `n` one-target dispatches with `outstanding` at a time, against the relay floor
/// doing the same sends: one `pid` target (`mode`) per dispatch. A sync call through
/// the floor waits up to `bound` (Herald's side waits up to the target's timeout,
/// [`herald::PidTarget::DEFAULT_TIMEOUT`]), or unbounded with `None`.
pub(crate) async fn one_target_vs_relay(
    scale: &Scale,
    n: usize,
    outstanding: usize,
    mode: herald::Mode,
    bound: Option<Duration>,
) -> (f64, f64) {
    let dispatcher = builder().start();
    let floor = Relay.start();
    let signal = signal();
    let receivers = Receivers::new();
    let sinks = receivers.start(1).await;
    let recipients = recipients(&sinks, 1);
    let targets = pid_targets(&recipients, mode);
    let work = match mode {
        herald::Mode::Sync => Work::Call(recipients, bound),
        _ => Work::Enqueue(recipients),
    };
    measure(
        scale,
        || {
            futures_util::stream::iter(0..n)
                .map(|_| {
                    dispatch(
                        &dispatcher,
                        Dispatch::new(Arc::clone(&signal), Arc::clone(&targets)),
                    )
                })
                .buffer_unordered(outstanding)
                .for_each(|()| async {})
        },
        || {
            futures_util::stream::iter(0..n)
                .map(|_| peers::relay(&floor, &signal, &work))
                .buffer_unordered(outstanding)
                .for_each(|()| async {})
        },
    )
    .await
}

/// `n` one-target async dispatches, 64 outstanding per shard, through `shards`
/// dispatchers against one.
pub(crate) async fn sharded(scale: &Scale, shards: usize) -> (f64, f64) {
    let n = scale.of(100_000, 2_000);
    let many = builder().start_sharded(shards);
    let one = builder().start_sharded(1);
    let signal = signal();
    let receivers = Receivers::new();
    let sinks = receivers.start(shards).await;
    // One single-target list per sink, built once.
    let targets: Vec<Arc<[Target]>> = pid_targets(&recipients(&sinks, shards), herald::Mode::Async)
        .iter()
        .map(|target| Arc::from([target.clone()]))
        .collect();
    let run = |sharded: &herald::Sharded| {
        let sharded = sharded.clone();
        let (signal, targets) = (Arc::clone(&signal), targets.clone());
        async move {
            futures_util::stream::iter(0..n)
                .map(|i| {
                    let target = Arc::clone(&targets[i % targets.len()]);
                    let request = sharded.send(Dispatch::new(Arc::clone(&signal), target));
                    async move {
                        request.await.expect("running").expect("delivered");
                    }
                })
                .buffer_unordered(64 * shards)
                .for_each(|()| async {})
                .await
        }
    };
    measure(scale, || run(&many), || run(&one)).await
}

/// 1,000 subscribers of one topic against `try_send` to each.
pub(crate) async fn pubsub(scale: &Scale) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let hub = PubSub::new();
    let receivers = Receivers::new();
    let sinks = receivers.start(n).await;
    for sink in &sinks {
        hub.subscribe("bench", sink.clone().recipient())
            .expect("valid topic");
    }
    let recipients = recipients(&sinks, n);
    let dispatcher = builder().pubsub(hub).start();
    let signal = signal();
    let target: Arc<[Target]> = Arc::new([Target::pubsub("bench").expect("valid topic").into()]);
    measure_batched(
        scale,
        BATCH,
        || async {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), Arc::clone(&target)),
            )
            .await;
            peers::flush(&sinks).await;
        },
        || async {
            for recipient in recipients.iter() {
                recipient
                    .try_send(SignalMessage::new(Arc::clone(&signal)))
                    .expect("room in the mailbox");
            }
            peers::flush(&sinks).await;
        },
    )
    .await
}

/// 1,000 noop targets with telemetry off, against the same with telemetry on.
pub(crate) async fn telemetry(scale: &Scale) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let off = builder().telemetry(false).max_in_flight(n).start();
    let on = builder().max_in_flight(n).start();
    let signal = signal();
    let targets: Arc<[Target]> = vec![Target::noop(); n].into();
    let run = |dispatcher: Addr<Dispatcher>| {
        let dispatch = Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(n);
        async move { crate::dispatch(&dispatcher, dispatch).await }
    };
    measure_batched(scale, BATCH, || run(off.clone()), || run(on.clone())).await
}

/// 10,000 signed webhooks, 64 in flight, against raw awc signing each request on as
/// many arbiters as Herald's pool has.
pub(crate) async fn webhook(scale: &Scale) -> (f64, f64) {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let n = scale.of(10_000, 100);
    let url: Arc<str> = format!("http://127.0.0.1:{}/hook", peers::http_receiver()).into();
    let dispatcher = builder().max_in_flight(n).start();
    let signal = signal();
    let target: Target = Target::webhook(&url)
        .expect("valid url")
        .secret(SECRET)
        .expect("valid secret")
        .retry(RetryPolicy::none())
        .into();
    let targets: Arc<[Target]> = vec![target; n].into();
    let pool = crate::pool_size();
    let arbiters: Vec<Arbiter> = (0..pool.max(1)).map(|_| Arbiter::new()).collect();
    let key = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        SECRET.trim_start_matches("whsec_"),
    )
    .expect("base64 secret");
    let posters = if pool == 0 {
        // Herald's pool adapters then run on the dispatcher's arbiter: so does this.
        vec![Poster::start_on_current(&key)]
    } else {
        Poster::start_on(&arbiters, &key)
    };
    let body = bytes::Bytes::from(signal.to_json_vec());
    let id: Arc<str> = signal.id().into();
    let result = measure(
        scale,
        || {
            dispatch(
                &dispatcher,
                Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(64),
            )
        },
        || {
            futures_util::stream::iter(0..n)
                .map(|i| {
                    posters[i % posters.len()].send(Post {
                        url: Arc::clone(&url),
                        id: Arc::clone(&id),
                        body: body.clone(),
                    })
                })
                .buffer_unordered(64)
                .for_each(|posted| async move { posted.expect("poster running") })
        },
    )
    .await;
    for arbiter in arbiters {
        arbiter.stop();
    }
    result
}

/// 1,000 async `pid` targets (each its own actor, so each its own endpoint and dedupe
/// key) through a dispatcher whose default policies are `resilience` (never
/// triggered: every delivery succeeds, every limit is far off), until handled, against
/// the same dispatch through one with no policies. Each sample dispatches a fresh
/// signal (on both sides), so that a dedupe window never skips one.
pub(crate) async fn policy_cost(scale: &Scale, resilience: Resilience) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let with = builder().resilience(resilience).start();
    let without = builder().start();
    let receivers = Receivers::new();
    let sinks = receivers.start(n).await;
    let recipients = recipients(&sinks, n);
    let targets = pid_targets(&recipients, herald::Mode::Async);
    let run = |dispatcher: Addr<Dispatcher>| {
        let targets = &targets;
        let sinks = &sinks;
        async move {
            fan_out(&dispatcher, &signal(), targets).await;
            peers::flush(sinks).await;
        }
    };
    measure_batched(scale, BATCH, || run(with.clone()), || run(without.clone())).await
}

/// 10,000 dispatches, each to the same 10 async `pid` targets, keyed in turn by 1,000
/// ordering keys (64 outstanding), against the same dispatches without keys: what
/// keeping each key's deliveries in order costs when they never have to wait.
pub(crate) async fn ordered_fan_out(scale: &Scale) -> (f64, f64) {
    let n = scale.of(10_000, 500);
    let dispatcher = builder().start();
    let receivers = Receivers::new();
    let sinks = receivers.start(10).await;
    let recipients = recipients(&sinks, 10);
    let targets = pid_targets(&recipients, herald::Mode::Async);
    let signal = signal();
    let keys: Vec<String> = (0..1_000).map(|key| format!("order-{key}")).collect();
    let run = |keyed: bool| {
        let (targets, signal, keys, sinks) = (&targets, &signal, &keys, &sinks);
        let dispatcher = &dispatcher;
        async move {
            futures_util::stream::iter(0..n)
                .map(|i| {
                    let dispatch = Dispatch::new(Arc::clone(signal), Arc::clone(targets));
                    let dispatch = match keyed {
                        true => dispatch.ordering_key(&keys[i % keys.len()]),
                        false => dispatch,
                    };
                    crate::dispatch(dispatcher, dispatch)
                })
                .buffer_unordered(64)
                .for_each(|()| async {})
                .await;
            peers::flush(sinks).await;
        }
    };
    measure(scale, || run(true), || run(false)).await
}

/// 10,000 one-target dispatches to an async `pid` target whose endpoint is paused,
/// held until all are, then resumed and handled, against the same dispatches
/// delivered directly: what holding and releasing costs.
pub(crate) async fn paused_then_resumed(scale: &Scale) -> (f64, f64) {
    use herald::Stats;
    use herald::resilience::{PauseEndpoint, ResumeEndpoint};
    let n = scale.of(10_000, 500);
    let dispatcher = builder().mailbox_capacity(n).max_in_flight(n).start();
    let receivers = Receivers::new();
    let sinks = receivers.start(1).await;
    let recipients = recipients(&sinks, 1);
    let targets = pid_targets(&recipients, herald::Mode::Async);
    let signal = signal();
    let run = |paused: bool| {
        let (dispatcher, targets, signal, sinks) = (&dispatcher, &targets, &signal, &sinks);
        async move {
            if paused {
                let pause = PauseEndpoint::endpoint_of(&targets[0]).max_held(n);
                dispatcher.send(pause).await.expect("dispatcher running");
            }
            let sent: Vec<_> = (0..n)
                .map(|_| dispatcher.send(Dispatch::new(Arc::clone(signal), Arc::clone(targets))))
                .collect();
            if paused {
                while dispatcher
                    .send(Stats)
                    .await
                    .expect("running")
                    .paused
                    .values()
                    .sum::<usize>()
                    < n
                {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let resume = ResumeEndpoint::endpoint_of(&targets[0]);
                dispatcher.send(resume).await.expect("dispatcher running");
            }
            for answer in futures_util::future::join_all(sent).await {
                answer.expect("dispatcher running").expect("delivered");
            }
            peers::flush(sinks).await;
        }
    };
    measure(scale, || run(true), || run(false)).await
}

/// Every policy Herald has, configured on the webhook scenario's target but never
/// triggered (no failure, limits far off; no dedupe, since that scenario sends one
/// signal many times), against the same webhooks with no policies.
pub(crate) async fn webhook_policies(scale: &Scale) -> (f64, f64) {
    use herald::resilience::{Breaker, Concurrency, RateLimit};
    let n = scale.of(10_000, 100);
    let url = format!("http://127.0.0.1:{}/hook", peers::http_receiver());
    let policies = Resilience::new()
        .breaker(Breaker::default())
        .rate_limit(RateLimit::per_second(10_000_000).expect("a rate"))
        .concurrency(Concurrency::max(10_000).expect("a cap"))
        .dead_letter(Target::noop());
    let with = builder().max_in_flight(n).resilience(policies).start();
    let without = builder().max_in_flight(n).start();
    let signal = signal();
    let target: Target = Target::webhook(&url)
        .expect("valid url")
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .expect("valid secret")
        .retry(RetryPolicy::none())
        .into();
    let targets: Arc<[Target]> = vec![target; n].into();
    let run = |dispatcher: Addr<Dispatcher>| {
        let all = Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(64);
        async move { dispatch(&dispatcher, all).await }
    };
    measure(scale, || run(with.clone()), || run(without.clone())).await
}

/// 10,000 webhooks to a tenant's target (read from data, under an egress policy,
/// reached through a host name the resolver answers), against the same webhooks to the
/// same receiver built in code (no policy, an address): the egress check's cost per
/// delivery. Also counts the resolver's lookups: one per connection, none per request.
pub(crate) async fn egress_webhook(scale: &Scale) -> ((f64, f64), usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Clone, Default)]
    struct Counted(Arc<AtomicUsize>);
    impl herald::http::Resolve for Counted {
        fn resolve<'a>(
            &'a self,
            _host: &'a str,
            port: u16,
        ) -> futures_util::future::BoxFuture<'a, std::io::Result<Vec<std::net::SocketAddr>>>
        {
            self.0.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move { Ok(vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))]) })
        }
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let n = scale.of(10_000, 100);
    let port = peers::http_receiver();
    let lookups = Counted::default();
    let dispatcher = builder().max_in_flight(n).resolver(lookups.clone()).start();
    let policy = herald::egress::Egress::default()
        .allow("127.0.0.1")
        .expect("an address");
    let tenant = Target::from_config_with(
        json!({"adapter": "webhook", "url": format!("http://tenant.bench:{port}/hook"),
               "secret": SECRET, "retry": {"max_attempts": 1}}),
        &policy,
    )
    .expect("a tenant's target");
    let own: Target = Target::webhook(&format!("http://127.0.0.1:{port}/hook"))
        .expect("valid url")
        .secret(SECRET)
        .expect("valid secret")
        .retry(RetryPolicy::none())
        .into();
    let signal = signal();
    let tenants: Arc<[Target]> = vec![tenant; n].into();
    let owns: Arc<[Target]> = vec![own; n].into();
    let run = |targets: Arc<[Target]>| {
        let all = Dispatch::new(Arc::clone(&signal), targets).max_concurrency(64);
        let dispatcher = dispatcher.clone();
        async move { dispatch(&dispatcher, all).await }
    };
    let result = measure(scale, || run(tenants.clone()), || run(owns.clone())).await;
    (result, lookups.0.load(Ordering::Relaxed))
}

/// 10,000 deliveries, each to an endpoint never seen before, through a dispatcher whose
/// endpoint map is full at 100,000 endpoints (each new one evicts an idle one), against
/// the same through one full at 1,000: eviction's cost stays flat with the map's size.
pub(crate) async fn endpoint_churn(scale: &Scale) -> (f64, f64) {
    use herald::resilience::Breaker;
    use std::cell::Cell;

    let m = scale.of(10_000, 100);
    let start = |capacity: usize| {
        builder()
            .max_endpoints(capacity)
            .resilience(Resilience::new().breaker(Breaker::default()))
            .start()
    };
    let (big, small) = (scale.of(100_000, 1_000), scale.of(1_000, 100));
    let large = start(big);
    let little = start(small);
    let signal = signal();
    let fresh = Cell::new(0usize);
    let targets = |count: usize| -> Arc<[Target]> {
        (0..count)
            .map(|_| {
                let key = fresh.get();
                fresh.set(key + 1);
                Target::noop().with_resilience(Resilience::new().endpoint(format!("e{key}")))
            })
            .collect()
    };
    for (dispatcher, capacity) in [(&large, big), (&little, small)] {
        let all = Dispatch::new(Arc::clone(&signal), targets(capacity)).max_concurrency(64);
        dispatch(dispatcher, all).await;
    }
    let run = |dispatcher: &Addr<Dispatcher>| {
        let all = Dispatch::new(Arc::clone(&signal), targets(m)).max_concurrency(64);
        let dispatcher = dispatcher.clone();
        async move { dispatch(&dispatcher, all).await }
    };
    measure(scale, || run(&large), || run(&little)).await
}

/// Dispatchers with metrics recorded (feature `metrics`): one started under a
/// Prometheus recorder (its handles taken from it), one under none (the facade's no-op
/// handles; the feature compiled out is the instruction gate's). Same settings. Each run
/// of the first is made under the recorder too: an outcome's handle is taken at its
/// first delivery, on the dispatcher's thread, which here is the bench's.
#[cfg(feature = "metrics")]
fn metered(
    recorder: &metrics_exporter_prometheus::PrometheusRecorder,
    builder: impl Fn() -> herald::DispatcherBuilder,
) -> (Addr<Dispatcher>, Addr<Dispatcher>) {
    let on = metrics::with_local_recorder(recorder, || builder().start());
    (on, builder().start())
}

/// `fanout_pid_1k_handled` with metrics recorded, against the same without.
#[cfg(feature = "metrics")]
pub(crate) async fn metrics_fanout(scale: &Scale) -> (f64, f64) {
    let n = scale.of(1000, 100);
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let (on, off) = metered(&recorder, builder);
    let signal = signal();
    let receivers = Receivers::new();
    let sinks = receivers.start(10).await;
    let recipients = recipients(&sinks, n);
    let targets = pid_targets(&recipients, herald::Mode::Async);
    let run = |dispatcher: &Addr<Dispatcher>, metered: bool| {
        let recorder = &recorder;
        let (dispatcher, signal, targets, sinks) = (dispatcher.clone(), &signal, &targets, &sinks);
        async move {
            let _recorded = metered.then(|| metrics::set_default_local_recorder(recorder));
            fan_out(&dispatcher, signal, targets).await;
            peers::flush(sinks).await;
        }
    };
    let result = measure_batched(scale, BATCH, || run(&on, true), || run(&off, false)).await;
    assert!(
        recorder
            .handle()
            .render()
            .contains("herald_deliveries_total"),
        "the metered dispatcher recorded"
    );
    result
}

/// `webhook_10k` with metrics recorded, against the same without.
#[cfg(feature = "metrics")]
pub(crate) async fn metrics_webhook(scale: &Scale) -> (f64, f64) {
    let n = scale.of(10_000, 100);
    let url = format!("http://127.0.0.1:{}/hook", peers::http_receiver());
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let (on, off) = metered(&recorder, || builder().max_in_flight(n));
    let signal = signal();
    let target: Target = Target::webhook(&url)
        .expect("valid url")
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .expect("valid secret")
        .retry(RetryPolicy::none())
        .into();
    let targets: Arc<[Target]> = vec![target; n].into();
    let run = |dispatcher: Addr<Dispatcher>, metered: bool| {
        let recorder = &recorder;
        let all = Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(64);
        async move {
            let _recorded = metered.then(|| metrics::set_default_local_recorder(recorder));
            dispatch(&dispatcher, all).await
        }
    };
    let result = measure(scale, || run(on.clone(), true), || run(off.clone(), false)).await;
    assert!(
        recorder
            .handle()
            .render()
            .contains("herald_delivery_duration_seconds"),
        "the metered dispatcher recorded"
    );
    result
}
