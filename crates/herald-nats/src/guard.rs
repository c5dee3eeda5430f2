//! Dropping NATS handles safely when the runtime is gone.

/// Holds a value whose `Drop` needs a running tokio runtime (async-nats's
/// `Subscriber` spawns its unsubscribe): dropped as usual inside one, forgotten outside
/// (at process or `System` shutdown, where spawning would panic and the connection is
/// going away anyway).
#[derive(Debug)]
pub(crate) struct InRuntime<T>(Option<T>);

impl<T> InRuntime<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Some(value))
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.as_mut().expect("present until dropped")
    }
}

impl<T> Drop for InRuntime<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                drop(value);
            } else {
                std::mem::forget(value);
            }
        }
    }
}
