//! Waiting until the server has read what a client sent.
//!
//! async-nats's `flush` returns once the client's buffer is written to its socket, not
//! once the server has read it: a subscription that was flushed may not be registered
//! yet, and a message published from another connection at that moment finds no one
//! and is gone (core NATS is at-most-once). The server reads a connection in order and
//! answers a request at once when no one listens ("no responders"), so the answer to a
//! request made after a subscription means the subscription is in place.

use std::time::Duration;

use async_nats::{Client, RequestErrorKind};
use bytes::Bytes;

/// How long the server has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Returns once the server has read everything `client` sent before this call.
///
/// Within one server; in a cluster, interest reaches the other servers a moment later,
/// which no client can wait for.
pub(crate) async fn server_has_read(client: &Client) -> Result<(), String> {
    // Nobody subscribes to a fresh inbox, so the server itself answers.
    let asked = client.request(client.new_inbox(), Bytes::new());
    match tokio::time::timeout(ANSWER_WITHIN, asked).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) if error.kind() == RequestErrorKind::NoResponders => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!(
            "the server did not answer within {} s",
            ANSWER_WITHIN.as_secs()
        )),
    }
}
