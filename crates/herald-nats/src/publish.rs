//! A JetStream publish that waits out a server's absence: made again until the stream
//! has stored the message, or the caller's bound cuts it off.

use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::context::{GetStreamByNameErrorKind, PublishError, PublishErrorKind};
use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use herald_core::ErrorKind;

/// Publishes what `make` makes until the stream has stored it, every 100 ms, doubling
/// to 1 s; never ends by itself while the stream is away, so bound it (the `nats`
/// adapter with the delivery's timeout). `make` is called again for each attempt: the
/// first publish takes the headers and payload, and keeping copies would cost every
/// publish that succeeds. Give the message a `Nats-Msg-Id`, so that the stream's
/// duplicate window drops a second copy if an unanswered earlier one was stored.
///
/// No responders is what a publish gets both when no stream takes the subject and
/// while a replicated stream elects a leader (a server went down): the stream names are
/// asked for once to tell them apart ([`ErrorKind::NotFound`] when no stream has the
/// subject). When that request fails too, the meta leader is electing as well: an
/// election, waited out.
pub(crate) async fn until_stored(
    jetstream: &Context,
    mut make: impl FnMut() -> Result<(Subject, HeaderMap, Bytes), ErrorKind>,
) -> Result<(), ErrorKind> {
    let (subject, headers, payload) = make()?;
    let again = match stored(jetstream, subject.clone(), headers, payload).await? {
        Ok(()) => return Ok(()),
        Err(again) => again,
    };
    if again == Again::NoResponders {
        let found = jetstream.stream_by_subject(subject.as_str()).await;
        if let Err(error) = found
            && error.kind() == GetStreamByNameErrorKind::NotFound
        {
            return Err(ErrorKind::NotFound);
        }
    }
    tracing::debug!(target: "herald::nats", %subject, ?again, "jetstream publish not acknowledged: publishing again");
    let mut wait = Duration::from_millis(100);
    loop {
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(1));
        let (subject, headers, payload) = make()?;
        if stored(jetstream, subject, headers, payload).await?.is_ok() {
            return Ok(());
        }
    }
}

/// Why a JetStream publish is worth making again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    /// No stream answered (async-nats: `StreamNotFound`).
    NoResponders,
    /// The acknowledgement did not come (timed out, or the connection was lost): the
    /// message may or may not be stored.
    Unanswered,
}

/// Publishes to JetStream and waits for the stream's acknowledgement: `Ok(Ok(()))`
/// once stored, `Ok(Err(again))` when worth making again.
async fn stored(
    jetstream: &Context,
    subject: Subject,
    headers: HeaderMap,
    payload: Bytes,
) -> Result<Result<(), Again>, ErrorKind> {
    let published = match jetstream
        .publish_with_headers(subject, headers, payload)
        .await
    {
        Ok(ack) => ack.await.map(drop),
        Err(error) => Err(error),
    };
    let Err(error) = published else {
        return Ok(Ok(()));
    };
    match error.kind() {
        PublishErrorKind::StreamNotFound => Ok(Err(Again::NoResponders)),
        PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => Ok(Err(Again::Unanswered)),
        _ => Err(jetstream_error(error)),
    }
}

/// A JetStream publish's error that making it again would not mend (see [`stored`]).
fn jetstream_error(error: PublishError) -> ErrorKind {
    match error.kind() {
        PublishErrorKind::MaxAckPending => ErrorKind::custom_retryable(error.to_string()),
        _ => ErrorKind::custom(error.to_string()),
    }
}
