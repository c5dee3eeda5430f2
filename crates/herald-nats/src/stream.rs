//! How a durable stream is made: replicas, storage, retention and limits, in code or
//! as data.

use std::time::Duration;

use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
use herald_core::{ConfigFields, TargetError};
use serde_json::Value;

/// The stream a [`Durable`](crate::Durable) opens: how many servers keep it, where,
/// for how long, and how much of it.
///
/// Defaults: 1 replica, file storage, `limits` retention (a signal stays after it is
/// delivered, until a limit removes it: what a replay reads), no age, count or size
/// limit, a two-minute duplicate window. In a cluster, 3 replicas survive the loss of
/// one server.
///
/// As data: `{"replicas": 3, "storage": "file", "retention": "limits", "max_age_ms":
/// 86400000, "max_messages": 1000000, "max_bytes": 1073741824,
/// "duplicate_window_ms": 120000}` (every field optional).
///
/// ```
/// use std::time::Duration;
/// use herald_nats::{Retention, StreamSettings};
///
/// let settings = StreamSettings::new().replicas(3)?.max_age(Duration::from_secs(86_400));
/// assert_eq!(settings.replicas_value(), 3);
/// let read = StreamSettings::from_config(&serde_json::json!({"retention": "work_queue"}))?;
/// assert_eq!(read.retention_value(), Retention::WorkQueue);
/// assert!(StreamSettings::new().replicas(6).is_err());
/// # Ok::<(), herald_core::TargetError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "settings do nothing until a stream is opened with them"]
pub struct StreamSettings {
    replicas: usize,
    memory: bool,
    retention: Retention,
    max_age: Duration,
    max_messages: Option<i64>,
    max_bytes: Option<i64>,
    duplicate_window: Duration,
}

/// When a stream removes a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Retention {
    /// Only when a limit (age, count, size) says so: delivered signals stay, for
    /// replay.
    #[default]
    Limits,
    /// Once every consumer that is interested has acknowledged it.
    Interest,
    /// Once one consumer has acknowledged it (a work queue; no replay).
    WorkQueue,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            replicas: 1,
            memory: false,
            retention: Retention::Limits,
            max_age: Duration::ZERO,
            max_messages: None,
            max_bytes: None,
            duplicate_window: Self::DEFAULT_DUPLICATE_WINDOW,
        }
    }
}

impl StreamSettings {
    /// The most replicas NATS keeps of a stream.
    pub const MAX_REPLICAS: usize = 5;
    /// The duplicate window unless set: two minutes.
    pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
    /// The longest age or duplicate window data may set: ten years.
    const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
    const FIELDS: [&'static str; 7] = [
        "replicas",
        "storage",
        "retention",
        "max_age_ms",
        "max_messages",
        "max_bytes",
        "duplicate_window_ms",
    ];

    /// The defaults (see the type's documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the stream on `replicas` servers (1 to 5; more than the cluster has is
    /// refused by the server when the stream is made).
    ///
    /// # Errors
    ///
    /// 0, or more than [`MAX_REPLICAS`](Self::MAX_REPLICAS).
    pub fn replicas(mut self, replicas: usize) -> Result<Self, TargetError> {
        if !(1..=Self::MAX_REPLICAS).contains(&replicas) {
            return Err(TargetError::invalid_field(
                "replicas",
                "must be from 1 to 5",
            ));
        }
        self.replicas = replicas;
        Ok(self)
    }

    /// Keeps the stream in memory instead of files: faster, lost when every replica's
    /// server restarts.
    pub fn in_memory(mut self) -> Self {
        self.memory = true;
        self
    }

    /// When signals are removed.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Removes signals older than `age` (zero: no age limit).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Keeps at most `count` signals, the oldest removed first.
    pub fn max_messages(mut self, count: u32) -> Self {
        self.max_messages = Some(i64::from(count));
        self
    }

    /// Keeps at most `bytes` of signals, the oldest removed first.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(i64::try_from(bytes).unwrap_or(i64::MAX));
        self
    }

    /// How long a signal id is remembered, so that a republished copy is dropped.
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// The replicas.
    pub fn replicas_value(&self) -> usize {
        self.replicas
    }

    /// The retention.
    pub fn retention_value(&self) -> Retention {
        self.retention
    }

    /// Reads settings from data (see the type's documentation).
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming the field.
    pub fn from_config(config: &Value) -> Result<Self, TargetError> {
        let mut fields = ConfigFields::from_config(config)?;
        let mut settings = Self::new();
        if let Some(replicas) = fields.usize("replicas")? {
            settings = settings.replicas(replicas)?;
        }
        if let Some(memory) = fields.one_of("storage", &[("file", false), ("memory", true)])? {
            settings.memory = memory;
        }
        let retentions = [
            ("limits", Retention::Limits),
            ("interest", Retention::Interest),
            ("work_queue", Retention::WorkQueue),
        ];
        if let Some(retention) = fields.one_of("retention", &retentions)? {
            settings.retention = retention;
        }
        if let Some(age) = fields.millis("max_age_ms", Self::MAX_DURATION)? {
            settings.max_age = age;
        }
        if let Some(count) = fields.usize("max_messages")? {
            settings.max_messages = Some(i64::try_from(count).unwrap_or(i64::MAX));
        }
        if let Some(bytes) = fields.usize("max_bytes")? {
            settings.max_bytes = Some(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        if let Some(window) = fields.millis("duplicate_window_ms", Self::MAX_DURATION)? {
            settings.duplicate_window = window;
        }
        fields.finish(&Self::FIELDS)?;
        Ok(settings)
    }

    /// The stream's configuration, named `name` over `subjects`.
    pub(crate) fn config(&self, name: &str, subjects: &[&str]) -> Config {
        Config {
            name: name.to_owned(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            num_replicas: self.replicas,
            storage: match self.memory {
                true => StorageType::Memory,
                false => StorageType::File,
            },
            retention: match self.retention {
                Retention::Limits => RetentionPolicy::Limits,
                Retention::Interest => RetentionPolicy::Interest,
                Retention::WorkQueue => RetentionPolicy::WorkQueue,
            },
            max_age: self.max_age,
            max_messages: self.max_messages.unwrap_or(-1),
            max_bytes: self.max_bytes.unwrap_or(-1),
            duplicate_window: self.duplicate_window,
            ..Config::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_names_the_field_it_refuses() {
        let cases = [
            (json!({"replicas": 0}), "replicas"),
            (json!({"replicas": 9}), "replicas"),
            (json!({"storage": "tape"}), "storage"),
            (json!({"retention": "forever"}), "retention"),
            (json!({"max_age_ms": -1}), "max_age_ms"),
            (json!({"replica": 3}), "replica"),
        ];
        for (config, field) in cases {
            let error = StreamSettings::from_config(&config).unwrap_err();
            assert!(error.to_string().contains(field), "{config}: {error}");
        }
    }

    #[test]
    fn settings_become_the_streams_config() {
        let settings = StreamSettings::from_config(&json!({
            "replicas": 3, "storage": "memory", "retention": "interest",
            "max_age_ms": 60_000, "max_messages": 10, "max_bytes": 4096,
            "duplicate_window_ms": 1_000,
        }))
        .unwrap();
        let config = settings.config("ORDERS", &["orders.>"]);
        assert_eq!(config.num_replicas, 3);
        assert_eq!(config.storage, StorageType::Memory);
        assert_eq!(config.retention, RetentionPolicy::Interest);
        assert_eq!(config.max_age, Duration::from_secs(60));
        assert_eq!((config.max_messages, config.max_bytes), (10, 4096));
        assert_eq!(config.duplicate_window, Duration::from_secs(1));
        let defaults = StreamSettings::new().config("ORDERS", &["orders.>"]);
        assert_eq!(
            (defaults.num_replicas, defaults.storage),
            (1, StorageType::File)
        );
        assert_eq!((defaults.max_messages, defaults.max_bytes), (-1, -1));
    }
}
