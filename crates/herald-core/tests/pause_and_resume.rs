//! Pausing an endpoint or a target: deliveries held (bounded) or failed fast, released
//! in order at resume through the rate limit, and reported (and dead-lettered) if a
//! shutdown comes first. On tokio's paused clock.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use actix::Addr;
use futures_util::future::join_all;
use herald_core::resilience::{PauseEndpoint, RateLimit, Resilience, ResumeEndpoint, WhilePaused};
use herald_core::{
    Dispatch, DispatchExt, DispatchResult, Dispatcher, Shutdown, Stats, StatsSnapshot, Target,
};
use herald_signal::Signal;
use serde_json::json;
use support::{Answer, Inbox, Recorder, within};
use tokio::time::Instant;

type Kept = Mutex<Vec<Signal>>;

fn numbered(n: u64) -> Signal {
    Signal::new("step", json!({ "n": n })).unwrap()
}

fn numbers(kept: &Kept) -> Vec<u64> {
    kept.lock()
        .unwrap()
        .iter()
        .map(|s| {
            s.data().and_then(|d| d.as_json()).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

async fn stats(dispatcher: &Addr<Dispatcher>) -> StatsSnapshot {
    within("stats", dispatcher.send(Stats)).await.unwrap()
}

/// Waits (yielding, on the paused clock) until the pause `key` holds `held`.
async fn until_held(dispatcher: &Addr<Dispatcher>, key: &str, held: usize) {
    within("the held deliveries", async {
        while stats(dispatcher).await.paused.get(key) != Some(&held) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

fn kind(result: &DispatchResult) -> &'static str {
    result.as_ref().unwrap_err().first().error.kind().name()
}

#[actix_rt::test]
async fn held_deliveries_go_at_resume_in_order_through_the_rate_limit() {
    tokio::time::pause();
    let (receiver, kept) = Recorder::<Kept>::start(Answer::Accept);
    let dispatcher = Dispatcher::builder().telemetry(false).start();
    let limit = RateLimit::per_second(2).unwrap().burst(1).unwrap();
    let target = Target::from(Target::pid(receiver.recipient()))
        .with_resilience(Resilience::new().endpoint("partner").rate_limit(limit));
    let pause = PauseEndpoint::endpoint("partner");
    assert_eq!(
        within("pause", dispatcher.send(pause)).await.unwrap(),
        Some(false)
    );
    // The same endpoint, named by a target that reaches it: already paused.
    let same = PauseEndpoint::endpoint_of(&target);
    assert_eq!(
        within("pause", dispatcher.send(same)).await.unwrap(),
        Some(true)
    );

    // Unkeyed, every one is held; keyed, the lane's front is, the rest wait behind it.
    let mut sent = Vec::new();
    for n in 0..4 {
        sent.push(dispatcher.dispatch(Dispatch::new(numbered(n), [target.clone()])));
    }
    let sent: Vec<_> = sent.into_iter().map(actix_rt::spawn).collect();
    until_held(&dispatcher, "partner", 4).await;
    let keyed: Vec<_> = (10..14)
        .map(|n| Dispatch::new(numbered(n), [target.clone()]).ordering_key("k"))
        .map(|dispatch| actix_rt::spawn(dispatcher.dispatch(dispatch)))
        .collect();
    until_held(&dispatcher, "partner", 5).await;
    assert!(
        numbers(&kept).is_empty(),
        "nothing reaches a paused endpoint"
    );
    let stats = stats(&dispatcher).await;
    assert_eq!((stats.lanes, stats.lane_deliveries), (1, 4));

    let resumed = Instant::now();
    let resume = ResumeEndpoint::endpoint("partner");
    assert_eq!(
        within("resume", dispatcher.send(resume)).await.unwrap(),
        Some(5)
    );
    for result in within("the held ones", join_all(sent.into_iter().chain(keyed))).await {
        result.unwrap().expect("delivered after the resume");
    }
    // Eight deliveries at two a second, one at once: three and a half seconds.
    assert!(
        resumed.elapsed() >= Duration::from_millis(3_500),
        "{:?}",
        resumed.elapsed()
    );
    let got = numbers(&kept);
    assert_eq!(got.len(), 8);
    let keyed: Vec<u64> = got.iter().copied().filter(|n| *n >= 10).collect();
    assert_eq!(keyed, [10, 11, 12, 13], "one key, in order");
    assert!(stats_paused_is_empty(&dispatcher).await);
    let again = ResumeEndpoint::endpoint("partner");
    assert_eq!(
        within("resume again", dispatcher.send(again))
            .await
            .unwrap(),
        None
    );
}

async fn stats_paused_is_empty(dispatcher: &Addr<Dispatcher>) -> bool {
    stats(dispatcher).await.paused.is_empty()
}

#[actix_rt::test]
async fn a_target_may_fail_fast_and_a_pause_holds_within_its_bounds() {
    tokio::time::pause();
    let (receiver, at_receiver) = Inbox::start(Answer::Accept);
    let dispatcher = Dispatcher::builder().telemetry(false).start();
    let target: Target = Target::pid(receiver.recipient()).into();
    // A pause of one target, by its fingerprint.
    let pause = PauseEndpoint::target(&target)
        .max_held(2)
        .max_hold(Duration::from_secs(60));
    assert_eq!(
        within("pause", dispatcher.send(pause)).await.unwrap(),
        Some(false)
    );
    let key = format!("target:{}", target.fingerprint());

    let failing = target
        .clone()
        .with_resilience(Resilience::new().while_paused(WhilePaused::Fail));
    let result = within(
        "fail fast",
        dispatcher.dispatch(Dispatch::new(numbered(0), [failing])),
    )
    .await;
    assert_eq!(kind(&result), "paused");
    let failure = result.unwrap_err();
    let error = &failure.first().error;
    assert!(error.retryable());
    assert_eq!(error.attempts(), 0);

    let held: Vec<_> = (1..3)
        .map(|n| actix_rt::spawn(dispatcher.dispatch(Dispatch::new(numbered(n), [target.clone()]))))
        .collect();
    until_held(&dispatcher, &key, 2).await;
    let third = within(
        "past max_held",
        dispatcher.dispatch(Dispatch::new(numbered(3), [target.clone()])),
    )
    .await;
    assert_eq!(kind(&third), "paused", "the pause holds two at most");

    // Held past the pause's longest hold, they fail.
    tokio::time::advance(Duration::from_secs(61)).await;
    for result in within("the held ones", join_all(held)).await {
        assert_eq!(kind(&result.unwrap()), "paused");
    }
    assert_eq!(support::Probe::get(&at_receiver), 0);
    let resume = ResumeEndpoint::target(&target);
    assert_eq!(
        within("resume", dispatcher.send(resume)).await.unwrap(),
        Some(0)
    );
    within(
        "after resume",
        dispatcher.dispatch(Dispatch::new(numbered(4), [target.clone()])),
    )
    .await
    .expect("delivered");
}

#[actix_rt::test]
async fn a_shutdown_reports_and_dead_letters_what_a_pause_held() {
    tokio::time::pause();
    let (receiver, _) = Inbox::start(Answer::Accept);
    let (letters, kept) = Recorder::<Kept>::start(Answer::Accept);
    let dispatcher = Dispatcher::builder()
        .telemetry(false)
        .resilience(Resilience::new().dead_letter(Target::pid(letters.recipient())))
        .start();
    let target = Target::from(Target::pid(receiver.recipient()))
        .with_resilience(Resilience::new().endpoint("partner"));
    within("pause", dispatcher.send(PauseEndpoint::endpoint("partner")))
        .await
        .unwrap();
    let held = actix_rt::spawn(dispatcher.dispatch(Dispatch::new(numbered(7), [target])));
    until_held(&dispatcher, "partner", 1).await;
    within(
        "shutdown",
        dispatcher.send(Shutdown::new(Duration::from_secs(1))),
    )
    .await
    .unwrap();
    let result = within("the held one", held).await.unwrap();
    assert_eq!(kind(&result), "shutdown", "reported, not lost");
    assert_eq!(numbers(&kept), [7], "and dead-lettered");
}

#[test]
fn pauses_read_from_data_name_their_fields() {
    let pause = PauseEndpoint::from_config(&json!({"endpoint": "partner", "max_held": 5}));
    assert!(pause.is_ok());
    let fingerprint = Target::noop().fingerprint().to_string();
    assert!(ResumeEndpoint::from_config(&json!({ "target": fingerprint })).is_ok());
    let cases = [
        (json!({}), "missing field `endpoint`"),
        (
            json!({"endpoint": "a", "max_held": 0}),
            "field `max_held` must be at least 1",
        ),
        (
            json!({"target": "zz"}),
            "field `target` must be a target's fingerprint (32 hex digits)",
        ),
        (
            json!({"endpoint": "a", "hold": 1}),
            "unknown field `hold`; expected one of: endpoint, target, max_held, max_hold_ms",
        ),
    ];
    for (config, message) in cases {
        let error = PauseEndpoint::from_config(&config).unwrap_err();
        assert_eq!(error.to_string(), message);
    }
    let target = Target::from_config(json!({
        "adapter": "noop",
        "resilience": {"while_paused": "fail"}
    }))
    .unwrap();
    let resilience = target.resilience().unwrap();
    assert_eq!(resilience.while_paused_setting(), Some(WhilePaused::Fail));
    let config = target.to_config(herald_core::Secrets::Redact).unwrap();
    assert_eq!(config["resilience"]["while_paused"], "fail");
    let error = Target::from_config(json!({
        "adapter": "noop",
        "resilience": {"while_paused": "drop"}
    }))
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `resilience.while_paused` must be one of hold, fail"
    );
}
