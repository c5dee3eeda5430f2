//! The metrics Herald records through the [`metrics`](https://docs.rs/metrics) facade,
//! with feature `metrics` (off by default; without it nothing here is recorded and
//! nothing costs anything).
//!
//! Herald installs no exporter: the application installs one (e.g.
//! `metrics-exporter-prometheus`) **before it starts its dispatchers**, which take their
//! handles when they start. Every name here follows Prometheus' conventions (`_total`
//! for counters, base units in the name: `_seconds`), and the OpenTelemetry messaging
//! metrics are recorded beside Herald's own where they fit (their dotted names become
//! `messaging_client_sent_messages_total` and the like in Prometheus).
//!
//! Labels are bounded: an adapter's name (the dispatcher's own adapters; a target
//! naming another counts under [`UNKNOWN_ADAPTER`]), an outcome or error kind (fixed
//! sets), a circuit state. No URL, signal id, tenant or endpoint is ever a label, unless
//! the application opts in with
//! [`DispatcherBuilder::endpoint_labels`](crate::DispatcherBuilder::endpoint_labels),
//! which bounds how many distinct endpoints get their own label (the rest share
//! [`OTHER_ENDPOINTS`]).
//!
//! Counters that [`Stats`](crate::Stats) shows are counted by the same call that
//! counts them for `Stats`; gauges are set from the same state `Stats` reads, every
//! [`metrics_every`](crate::DispatcherBuilder::metrics_every). Every metric, its type,
//! unit, labels and meaning: `docs/OBSERVABILITY.md`.

/// Dispatches handled (counter).
pub const DISPATCHES: &str = "herald_dispatches_total";
/// How long a dispatch took, from its admission to its answer (histogram, seconds).
pub const DISPATCH_DURATION: &str = "herald_dispatch_duration_seconds";
/// Targets per dispatch (histogram).
pub const DISPATCH_TARGETS: &str = "herald_dispatch_targets";
/// Dispatches refused whole: no admission permit free, or after `Shutdown` (counter).
pub const DISPATCHES_REFUSED: &str = "herald_dispatches_refused_total";
/// Target deliveries ended, by `adapter`, `status` (`ok`, `error`) and `outcome` (an
/// [`Outcome`](crate::Outcome) name, or an [`ErrorKind`](crate::ErrorKind) name on
/// failure) (counter).
pub const DELIVERIES: &str = "herald_deliveries_total";
/// How long a delivery took, attempts and retries included, by `adapter` (histogram,
/// seconds). Deliveries made at once in the dispatcher's handler (a mailbox push that
/// cannot wait) are counted in [`DELIVERIES`] but not timed.
pub const DELIVERY_DURATION: &str = "herald_delivery_duration_seconds";
/// Attempts made, by `adapter` (counter).
pub const DELIVERY_ATTEMPTS: &str = "herald_delivery_attempts_total";
/// Attempts after a delivery's first, by `adapter` (counter).
pub const DELIVERY_RETRIES: &str = "herald_delivery_retries_total";
/// Deliveries started and not yet ended (gauge).
pub const DELIVERIES_IN_FLIGHT: &str = "herald_deliveries_in_flight";
/// Deliveries skipped as duplicates (counter).
pub const DUPLICATES: &str = "herald_duplicates_total";
/// Deliveries a rate limit refused: fail-fast limits, or a wait past the delivery's
/// budget (counter).
pub const RATE_LIMITED: &str = "herald_rate_limited_total";
/// Deliveries refused by an open circuit (counter).
pub const SHORT_CIRCUITED: &str = "herald_short_circuited_total";
/// Circuit transitions, by the `state` entered (`open`, `half_open`, `closed`,
/// `disabled`), and `endpoint` when opted in (counter).
pub const CIRCUIT_TRANSITIONS: &str = "herald_circuit_transitions_total";
/// Endpoints whose circuit is in each `state` (gauge).
pub const CIRCUITS: &str = "herald_circuits";
/// One endpoint's circuit, by `endpoint` (opted in only): 0 closed, 1 half open, 2
/// open, 3 disabled (gauge).
pub const CIRCUIT_STATE: &str = "herald_circuit_state";
/// Endpoints whose state is kept (gauge).
pub const ENDPOINTS: &str = "herald_endpoints";
/// Dead letters made, by `result`: `kept` by their dead-letter target or `failed`
/// (kept nowhere) (counter).
pub const DEAD_LETTERS: &str = "herald_dead_letters_total";
/// Dead letters a [`DeadLetterQueue`](crate::resilience::DeadLetterQueue) dropped when full
/// (counter).
pub const DEAD_LETTERS_DROPPED: &str = "herald_dead_letters_dropped_total";
/// Dead letters redriven from a [`DeadLetterQueue`](crate::resilience::DeadLetterQueue), by
/// `result` (`ok`, `error`) (counter).
pub const DEAD_LETTERS_REDRIVEN: &str = "herald_dead_letters_redriven_total";
/// Dead letters held by [`DeadLetterQueue`](crate::resilience::DeadLetterQueue)s (gauge).
pub const DEAD_LETTER_QUEUE_DEPTH: &str = "herald_dead_letter_queue_depth";
/// Ordering lanes kept (gauge).
pub const LANES: &str = "herald_lanes";
/// Deliveries in ordering lanes, under way or waiting for their turn (gauge).
pub const LANE_DELIVERIES: &str = "herald_lane_deliveries";
/// Ordering lanes blocked by a failure (gauge).
pub const LANES_BLOCKED: &str = "herald_lanes_blocked";
/// Paused endpoints and targets (gauge).
pub const PAUSED: &str = "herald_paused";
/// Deliveries held by paused endpoints and targets (gauge).
pub const PAUSED_DELIVERIES: &str = "herald_paused_deliveries";

/// OpenTelemetry's `messaging.client.sent.messages`: deliveries ended, by
/// `messaging.system` (`herald`), `messaging.operation.name` (`send`),
/// `messaging.destination.name` (the adapter) and `error.type` on failure (counter).
pub const OTEL_SENT_MESSAGES: &str = "messaging.client.sent.messages";
/// OpenTelemetry's `messaging.client.operation.duration`: a delivery's duration, with
/// the labels of [`OTEL_SENT_MESSAGES`] but `error.type` (histogram, seconds).
pub const OTEL_OPERATION_DURATION: &str = "messaging.client.operation.duration";

/// The `adapter` label of deliveries to targets naming an adapter the dispatcher does
/// not have (names from data never become labels).
pub const UNKNOWN_ADAPTER: &str = "_unknown";
/// The `endpoint` label shared by endpoints past the opted-in bound.
pub const OTHER_ENDPOINTS: &str = "_other";
