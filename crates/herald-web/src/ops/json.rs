//! What the operations API answers: Herald's snapshots as JSON, with the same redacted
//! names `Stats` and dead letters carry (no secret, no URL path, no signal data).

use herald_core::StatsSnapshot;
use herald_core::resilience::{DeadLetter, DeadLetterPage, EndpointStats, QueueStatsSnapshot};
use serde_json::{Map, Value, json};

/// A duration in milliseconds, to the microsecond.
fn millis(duration: std::time::Duration) -> f64 {
    duration.as_micros() as f64 / 1_000.0
}

/// The dispatcher's counters.
pub(super) fn stats(stats: &StatsSnapshot) -> Value {
    let per_adapter: Map<String, Value> = stats
        .per_adapter
        .iter()
        .map(|(name, counts)| {
            let counts = json!({ "delivered": counts.delivered, "failed": counts.failed });
            (name.clone(), counts)
        })
        .collect();
    json!({
        "dispatched": stats.dispatched,
        "delivered": stats.delivered,
        "failed": stats.failed,
        "in_flight": stats.in_flight,
        "refused": stats.refused,
        "unknown_adapter": stats.unknown_adapter,
        "duplicates": stats.duplicates,
        "endpoints_refused": stats.endpoints_refused,
        "dead_lettered": stats.dead_lettered,
        "dead_letters_failed": stats.dead_letters_failed,
        "lanes": stats.lanes,
        "lane_deliveries": stats.lane_deliveries,
        "lanes_blocked": stats.lanes_blocked,
        "per_adapter": per_adapter,
    })
}

/// One endpoint: its key, policy state and counts, and whether it is paused.
pub(super) fn endpoint(key: &str, stats: &EndpointStats, held: Option<usize>) -> Value {
    let latency = stats.latency.map(|latency| {
        json!({
            "count": latency.count,
            "mean_ms": millis(latency.mean),
            "recent_ms": millis(latency.recent),
            "max_ms": millis(latency.max),
        })
    });
    json!({
        "endpoint": key,
        "circuit": stats.circuit.map(|state| state.name()),
        "consecutive_failures": stats.consecutive_failures,
        "opened": stats.opened,
        "succeeded": stats.succeeded,
        "failed": stats.failed,
        "short_circuited": stats.short_circuited,
        "rate_limited": stats.rate_limited,
        "in_flight": stats.in_flight,
        "concurrency_limit": stats.concurrency_limit,
        "latency": latency,
        "paused": held.is_some(),
        "held": held.unwrap_or(0),
    })
}

/// Every endpoint the dispatcher keeps, and the paused keys that are not endpoints (a
/// paused target's fingerprint, an endpoint not yet delivered to).
pub(super) fn endpoints(stats: &StatsSnapshot) -> Value {
    let endpoints: Vec<Value> = stats
        .endpoints
        .iter()
        .map(|(key, endpoint_stats)| endpoint(key, endpoint_stats, stats.paused.get(key).copied()))
        .collect();
    let paused: Vec<Value> = stats
        .paused
        .iter()
        .filter(|(key, _)| !stats.endpoints.contains_key(*key))
        .map(|(key, held)| json!({ "key": key, "held": held }))
        .collect();
    json!({ "endpoints": endpoints, "paused": paused })
}

/// A dead letter: the signal's attributes (not its data) and the failure.
pub(super) fn dead_letter(letter: &DeadLetter) -> Value {
    let signal = letter.original();
    json!({
        "id": signal.id(),
        "type": signal.ty(),
        "source": signal.source(),
        "subject": signal.subject(),
        "time": signal.time().map(|time| time.to_rfc3339()),
        "target": letter.target(),
        "adapter": letter.adapter(),
        "kind": letter.kind(),
        "status": letter.status(),
        "attempts": letter.attempts(),
        "message": letter.message(),
    })
}

/// A page of dead letters, with the queue's counts.
pub(super) fn dead_letters(page: &DeadLetterPage, queue: &QueueStatsSnapshot) -> Value {
    json!({
        "queue": { "len": queue.len, "capacity": queue.capacity, "dropped": queue.dropped },
        "matched": page.matched,
        "dead_letters": page.letters.iter().map(dead_letter).collect::<Vec<_>>(),
    })
}
