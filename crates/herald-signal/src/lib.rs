//! The signal envelope Herald delivers: a [CloudEvents 1.0] event.
//!
//! This crate is Herald's vocabulary. It knows nothing of actix and changes rarely:
//! the [`Signal`] type, its [builder](SignalBuilder), its validation errors
//! ([`SignalError`]), the [CloudEvents JSON event format] and the bindings' binary mode.
//!
//! ```
//! use herald_signal::Signal;
//! use serde_json::json;
//!
//! let signal = Signal::builder("user.created")
//!     .source("/users")
//!     .data(json!({"id": 42}))
//!     .build()?;
//!
//! assert_eq!(signal.ty(), "user.created");
//! assert_eq!(signal.datacontenttype(), Some("application/json"));
//!
//! let json = signal.to_json();
//! assert_eq!(Signal::from_json(&json)?, signal);
//! # Ok::<(), herald_signal::SignalError>(())
//! ```
//!
//! # Defaults
//!
//! A built signal gets a fresh UUIDv7 `id`, `time` set to now (UTC), `datacontenttype`
//! `application/json` when its data is JSON, and the process-wide default `source`
//! when none is given (see [`set_default_source`]).
//!
//! # JSON
//!
//! [`Signal::to_json`] writes the structured JSON format: extensions flattened at the
//! top level, binary data as `data_base64`. [`Signal::from_json`] reads it back and also
//! accepts `specversion` `"1.0.2"`, which `jido_signal` emits. [`Signal::batch_from_json`]
//! reads the batch format (a JSON array).
//!
//! # Binary mode
//!
//! [`Signal::binary_headers`] and [`Signal::binary_body`] write the protocol bindings'
//! binary content mode (`ce-` headers, the data as the body); [`Signal::from_binary`]
//! reads it. Herald's HTTP and NATS bindings use them.
//!
//! [CloudEvents 1.0]: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
//! [CloudEvents JSON event format]: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md

mod binary;
mod builder;
mod data;
mod error;
mod extension;
mod filter;
mod json;
mod signal;
mod source;
mod trace;

pub use binary::{BATCH, BinaryError, BodyMode, STRUCTURED};
pub use builder::{MAX_DATA_DEPTH, SignalBuilder};
pub use data::Data;
pub use error::SignalError;
pub use extension::ExtensionValue;
pub use extension::{EXPIRYTIME, PARTITIONKEY};
pub use filter::{Comparison, Filter, FilterError};
pub use signal::{Signal, SpecVersion};
pub use source::{DEFAULT_SOURCE, default_source, set_default_source};
pub use trace::{TRACEPARENT, TRACESTATE, TraceContext};

/// The timestamp type of [`Signal::time`], and how to format it.
pub use chrono::{DateTime, SecondsFormat, Utc};
