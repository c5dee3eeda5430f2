//! A fan-out's join set: its local deliveries still pending and its batch requests to pool
//! actors. Most fan-outs have one member at a time, which needs no `FuturesUnordered`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix::dev::RecipientRequest;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::delivery::{DeliverBatch, Reply};

/// One member of the join set.
pub(super) enum Joined<'a> {
    /// A local delivery: answers with its reply.
    Delivery(LocalBoxFuture<'a, Reply>),
    /// A batch sent to a pool actor: answers `None` once taken (or refused, when its
    /// jobs answer for themselves).
    Batch(Pin<Box<RecipientRequest<DeliverBatch>>>),
}

impl Future for Joined<'_> {
    type Output = Option<Reply>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Reply>> {
        match self.get_mut() {
            Self::Delivery(delivery) => delivery.as_mut().poll(cx).map(Some),
            Self::Batch(request) => request.as_mut().poll(cx).map(|_| None),
        }
    }
}

/// The join set.
#[derive(Default)]
pub(super) struct JoinSet<'a> {
    /// The only member, while there is one.
    one: Option<Joined<'a>>,
    /// Every member, once there were two at once.
    many: Option<FuturesUnordered<Joined<'a>>>,
}

impl<'a> JoinSet<'a> {
    pub(super) fn push(&mut self, joined: Joined<'a>) {
        if let Some(many) = &mut self.many {
            many.push(joined);
            return;
        }
        match self.one.take() {
            None => self.one = Some(joined),
            Some(first) => {
                let many = FuturesUnordered::new();
                many.push(first);
                many.push(joined);
                self.many = Some(many);
            }
        }
    }

    /// The next reply; `Pending` while members are still at work, `Ready(None)` when
    /// none is left.
    pub(super) fn poll_reply(&mut self, cx: &mut Context<'_>) -> Poll<Option<Reply>> {
        if let Some(one) = &mut self.one {
            match Pin::new(one).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(answer) => {
                    self.one = None;
                    if answer.is_some() {
                        return Poll::Ready(answer);
                    }
                }
            }
        }
        if let Some(many) = &mut self.many {
            while let Poll::Ready(Some(answer)) = many.poll_next_unpin(cx) {
                if answer.is_some() {
                    return Poll::Ready(answer);
                }
            }
            if !many.is_empty() {
                return Poll::Pending;
            }
        }
        Poll::Ready(None)
    }

    /// Drops every member: their deliveries stop.
    pub(super) fn clear(&mut self) {
        self.one = None;
        self.many = None;
    }
}
