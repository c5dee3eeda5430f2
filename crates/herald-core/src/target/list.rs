//! What a dispatch (or a bus subscription) takes as its targets.

use std::sync::Arc;

use super::Target;

/// A list of targets: one target of any kind, an array, a `Vec` or a slice of one
/// kind, or a tuple mixing kinds — so every target is written as its constructor leaves it,
/// with no `.into()`.
///
/// ```
/// # use actix::prelude::*;
/// # use herald_core::{Dispatch, Rejection, SignalMessage, Target};
/// # struct Audit;
/// # impl Actor for Audit { type Context = Context<Self>; }
/// # impl Handler<SignalMessage> for Audit {
/// #     type Result = Result<(), Rejection>;
/// #     fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result { Ok(()) }
/// # }
/// # actix::System::new().block_on(async {
/// # let audit = Audit.start();
/// let signal = herald_signal::Signal::new("user.created", serde_json::json!({}))?;
/// // Kinds mixed in a tuple:
/// let dispatch = Dispatch::new(
///     signal.clone(),
///     (Target::pid(audit.clone().recipient()).sync(), Target::logger(), Target::noop()),
/// );
/// // One kind in an array or a `Vec`:
/// let more = Dispatch::new(signal.clone(), vec![Target::named("a")?, Target::named("b")?]);
/// // One target, as its constructor leaves it:
/// let one = Dispatch::new(signal, Target::pid(audit.recipient()).sync());
/// # let _ = (dispatch, more, one);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// A mapped iterator is taken as it is (`(0..3).map(|i| …)`); any other iterator is
/// collected first: `Dispatch::new(signal, targets.collect::<Vec<_>>())`.
pub trait IntoTargets {
    /// The targets, in order.
    fn into_targets(self) -> Arc<[Target]>;
}

impl<T: Into<Target>, const N: usize> IntoTargets for [T; N] {
    fn into_targets(self) -> Arc<[Target]> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<T: Into<Target>> IntoTargets for Vec<T> {
    fn into_targets(self) -> Arc<[Target]> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<T: Into<Target> + Clone> IntoTargets for &[T] {
    fn into_targets(self) -> Arc<[Target]> {
        self.iter().cloned().map(Into::into).collect()
    }
}

impl<I, F, T> IntoTargets for std::iter::Map<I, F>
where
    I: Iterator,
    F: FnMut(I::Item) -> T,
    T: Into<Target>,
{
    fn into_targets(self) -> Arc<[Target]> {
        self.map(Into::into).collect()
    }
}

impl IntoTargets for Arc<[Target]> {
    fn into_targets(self) -> Arc<[Target]> {
        self
    }
}

/// One target of any kind (a [`Target`], or the options of a built-in or custom one).
impl<T: Into<Target>> IntoTargets for T {
    fn into_targets(self) -> Arc<[Target]> {
        Arc::new([self.into()])
    }
}

/// Tuples of up to 12 targets of any kinds.
macro_rules! tuples {
    ($($name:ident)+) => {
        impl<$($name: Into<Target>),+> IntoTargets for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_targets(self) -> Arc<[Target]> {
                let ($($name,)+) = self;
                Arc::new([$($name.into()),+])
            }
        }
    };
}

tuples!(A);
tuples!(A B);
tuples!(A B C);
tuples!(A B C D);
tuples!(A B C D E);
tuples!(A B C D E F);
tuples!(A B C D E F G);
tuples!(A B C D E F G H);
tuples!(A B C D E F G H I);
tuples!(A B C D E F G H I J);
tuples!(A B C D E F G H I J K);
tuples!(A B C D E F G H I J K L);
