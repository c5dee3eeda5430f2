//! One delivery under its policies, in their order: dedupe, breaker, rate limit,
//! concurrency, then the adapter's attempt.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use herald_signal::Signal;
use tokio::time::Instant;

use super::breaker::{Admit, Verdict, verdict};
use super::endpoints::Endpoint;
use super::{Breaker, Effective, Policies};
use crate::{ErrorKind, Outcome, TargetOptions};

/// Delivers through `effective`'s policies; `attempt` makes the adapter's delivery.
/// Waits for a rate limit's turn or a concurrency cap's room take at most `budget`.
// Not an `async fn`, whose future would keep each argument twice.
#[allow(clippy::too_many_arguments, clippy::manual_async_fn)]
pub(crate) fn guarded<'a, F, A>(
    policies: &'a Policies,
    effective: Effective<'a>,
    adapter: &'a str,
    options: &'a dyn TargetOptions,
    signal: &'a Signal,
    budget: Duration,
    attempt: F,
) -> impl Future<Output = Result<Outcome, ErrorKind>> + 'a
where
    F: FnOnce() -> A + 'a,
    A: Future<Output = Result<Outcome, ErrorKind>> + 'a,
{
    async move {
        let endpoints = &policies.endpoints;
        let started = Instant::now();
        let key = endpoint_key(adapter, options, effective.endpoint);
        let dedupe = effective.dedupe.map(|dedupe| {
            let id = endpoints.window.key(|hasher| {
                use std::fmt::Write;
                hasher.write(adapter.as_bytes());
                hasher.write(key.as_bytes());
                // The description, streamed into the hash rather than written out.
                let _ = write!(HashWriter(hasher), "{}", Described(options));
                hasher.write(signal.id().as_bytes());
            });
            (dedupe, id)
        });
        if let Some((_, id)) = dedupe {
            if endpoints.window.seen(id, started) {
                endpoints.duplicate();
                return Ok(Outcome::Duplicate);
            }
        }
        let endpoint = effective.per_endpoint().then(|| endpoints.get(&key));

        let mut watch = None;
        if let (Some(breaker), Some(endpoint)) = (effective.breaker, &endpoint) {
            let (admit, transition) = endpoint.admit(breaker, started);
            if let Some(transition) = transition {
                endpoints.report(&key, transition, breaker);
            }
            match admit {
                Admit::Refuse(retry_in) => {
                    endpoint.short_circuited();
                    return Err(ErrorKind::CircuitOpen { retry_in });
                }
                admit => {
                    watch = Some(Watch {
                        policies,
                        endpoint: Arc::clone(endpoint),
                        key: &key,
                        breaker,
                        started,
                        probe: admit == Admit::Probe,
                        tried: false,
                        done: false,
                    });
                }
            }
        }

        if let (Some(limit), Some(endpoint)) = (effective.rate_limit, &endpoint) {
            while let Some(wait) = endpoint.rate_check(limit) {
                let late = started.elapsed() + wait > budget;
                if limit.fails_fast() || late {
                    endpoint.rate_limited();
                    return Err(ErrorKind::RateLimited);
                }
                tokio::time::sleep(wait).await;
            }
        }

        let permit = match (effective.concurrency, &endpoint) {
            (Some(concurrency), Some(endpoint)) => match endpoint.gate.try_enter(*concurrency) {
                Some(permit) => Some(permit),
                None => {
                    let left = budget.saturating_sub(started.elapsed());
                    let room = tokio::time::timeout(left, endpoint.gate.enter(*concurrency));
                    Some(room.await.map_err(|_| ErrorKind::Timeout(budget))?)
                }
            },
            _ => None,
        };

        if let Some(watch) = &mut watch {
            watch.tried = true;
        }
        // The clock is read for an adaptive cap only, which learns from latency.
        let sent = permit
            .as_ref()
            .filter(|p| p.adaptive())
            .map(|_| Instant::now());
        let result = attempt().await;
        if let (Some(permit), Some(sent)) = (permit, sent) {
            permit.finish(sent.elapsed(), result.as_ref().map(|_| ()));
        }
        if let Some(endpoint) = &endpoint {
            endpoint.count(result.is_ok());
        }
        if let Some(mut watch) = watch {
            watch.done = true;
            watch.record(result.as_ref().err());
        }
        if let (Ok(_), Some((dedupe, id))) = (&result, dedupe) {
            endpoints.window.remember(id, started, dedupe.ttl());
        }
        result
    }
}

/// The endpoint a target reaches: as its policies name it, else as its options say,
/// else its adapter and description.
fn endpoint_key<'a>(
    adapter: &str,
    options: &'a dyn TargetOptions,
    named: Option<&'a str>,
) -> Cow<'a, str> {
    match named {
        Some(endpoint) => Cow::Borrowed(endpoint),
        None => options
            .endpoint()
            .unwrap_or_else(|| format!("{adapter}:{}", Described(options)).into()),
    }
}

/// Feeds formatted text to a hasher.
struct HashWriter<'a>(&'a mut dyn std::hash::Hasher);

impl std::fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.write(text.as_bytes());
        Ok(())
    }
}

/// The options' redacted description.
struct Described<'a>(&'a dyn TargetOptions);

impl std::fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.describe(f)
    }
}

/// A delivery the breaker let through, until its end is recorded. Dropped before that
/// (the dispatch's deadline cut it off), a delivery that made its attempt counts as a
/// failure, and one that did not gives its probe back.
struct Watch<'a> {
    policies: &'a Policies,
    endpoint: Arc<Endpoint>,
    key: &'a str,
    breaker: &'a Breaker,
    /// When the delivery began.
    started: Instant,
    probe: bool,
    tried: bool,
    done: bool,
}

impl Watch<'_> {
    fn record(&mut self, error: Option<&ErrorKind>) {
        let failed = match verdict(error) {
            Verdict::Up => false,
            Verdict::Down => true,
            Verdict::Untried => {
                self.untried();
                return;
            }
        };
        // The time only matters when the record opens the circuit (a failure).
        let now = if failed { Instant::now() } else { self.started };
        let transition = self.endpoint.record(self.breaker, self.probe, failed, now);
        if let Some(transition) = transition {
            self.policies
                .endpoints
                .report(self.key, transition, self.breaker);
        }
    }

    fn untried(&self) {
        if self.probe {
            self.endpoint.release_probe();
        }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.tried {
            self.done = true;
            self.record(Some(&ErrorKind::Timeout(Duration::ZERO)));
        } else {
            self.untried();
        }
    }
}
