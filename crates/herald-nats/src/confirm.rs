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

use crate::NatsError;

/// How long the server has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Returns once the NATS server has read everything `client` sent before this call,
/// its subscriptions among them: a message that another connection publishes after
/// this returns reaches them. (`Client::flush` only writes to the socket.) `Bridge`
/// and `expose` call it before they return; call it after subscribing on a client of
/// your own before telling another node to publish.
///
/// Within one server; in a cluster, interest reaches the other servers a moment later,
/// which no client can wait for.
///
/// # Errors
///
/// [`NatsError::Subscribe`] when the server does not answer within 10 seconds, or the
/// connection fails.
pub async fn server_has_read(client: &Client) -> Result<(), NatsError> {
    // Nobody subscribes to a fresh inbox, so the server itself answers.
    let asked = client.request(client.new_inbox(), Bytes::new());
    match tokio::time::timeout(ANSWER_WITHIN, asked).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) if error.kind() == RequestErrorKind::NoResponders => Ok(()),
        Ok(Err(error)) => Err(NatsError::Subscribe(error.to_string())),
        Err(_) => Err(NatsError::Subscribe(format!(
            "the server did not confirm within {} s",
            ANSWER_WITHIN.as_secs()
        ))),
    }
}
