//! Where a signal goes: an adapter name and that adapter's options.

mod config;
mod identity;
mod list;

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use actix::Recipient;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use config::ConfigFields;
pub use identity::Fingerprint;
pub(crate) use identity::HashWriter;
pub use list::IntoTargets;

use crate::adapters::{
    BusTarget, ConsoleTarget, LoggerTarget, NamedTarget, NoopTarget, PidTarget, PubSubTarget,
};
use crate::egress::Egress;
use crate::error::DisplayFn;
use crate::redact;
use crate::resilience::Resilience;
use crate::text::Escaped;
use crate::{DeliveryError, ErrorKind, SignalMessage, TargetError};

/// The validated options of one target, as an adapter defines them.
///
/// Built-in adapters' option types (e.g. [`PidTarget`]) implement it; a custom adapter's
/// `Options` type implements it with one line. `describe` writes the short, redacted
/// text errors and telemetry show for the target; by default it is the `Debug` output,
/// so keep secrets out of `Debug`.
///
/// ```
/// #[derive(Debug)]
/// struct SlackOptions { channel: String }
/// impl herald_core::TargetOptions for SlackOptions {}
/// ```
pub trait TargetOptions: Any + fmt::Debug + Send + Sync {
    /// Writes a short, redacted description of the target. Default is `Debug`.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }

    /// The options as config fields (without `adapter`), what the adapter's config
    /// reader takes back; secret values written only with [`Secrets::Include`]. Default
    /// is `None`: the target cannot be described as data (a `pid` holds an address).
    fn to_config(&self, secrets: Secrets) -> Option<Map<String, Value>> {
        let _ = secrets;
        None
    }

    /// The endpoint this target reaches, for per-endpoint policies (breakers, rate
    /// limits, concurrency caps): targets naming the same endpoint share them. Must
    /// hold no secret: it appears in [`Stats`](crate::Stats) and telemetry. Default is
    /// `None`: the adapter's name and the target's description. It is asked for on
    /// every delivery under a policy: options that can should keep it made (HTTP's
    /// borrows a string made with the target).
    fn endpoint(&self) -> Option<Cow<'_, str>> {
        None
    }

    /// Writes the target's identity into `state`: every field that changes where or
    /// how it is delivered, secrets included (the hasher is a digest: nothing written
    /// here is shown). Targets are told apart by it where one must be recognised again:
    /// a dead letter's target at redrive ([`Fingerprint`]), dedupe windows. Write each
    /// field with [`Fingerprint::field`]. Default is the endpoint and the description,
    /// which is enough when the description shows every field; options with secrets,
    /// or fields the description leaves out, should write them all.
    fn identity(&self, state: &mut dyn std::hash::Hasher) {
        use std::fmt::Write;
        if let Some(endpoint) = self.endpoint() {
            Fingerprint::field(state, endpoint.as_bytes());
        }
        let described = DisplayFn(|f: &mut fmt::Formatter<'_>| self.describe(f));
        let _ = write!(HashWriter(state), "{described}");
    }

    /// Whether every delivery to this target waits (a sync call to an actor, a publish
    /// to a bus): then the dispatcher does not offer it to
    /// [`Adapter::deliver_now`](crate::Adapter::deliver_now), which would decline it,
    /// and goes straight to [`Adapter::deliver`](crate::Adapter::deliver). A hint that
    /// spares the offer: answering `false` for such a target costs only the offer;
    /// answering `true` for one that could be delivered at once costs it that fast
    /// path (its delivery is then made by a future), never its delivery. Default is
    /// `false`.
    fn waits(&self) -> bool {
        false
    }
}

/// Whether a target written as data carries its secrets: signing secrets, header
/// values, a URL's query and fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Secrets {
    /// Replace them with `[REDACTED]` (the URL loses its query and fragment): safe to
    /// log or show, not to read back as a working target. The default, and what
    /// `Serialize` writes.
    #[default]
    Redact,
    /// Write them as they are, to store a target and read it back.
    Include,
}

impl Secrets {
    /// `value`, or `[REDACTED]`.
    pub fn show(self, value: &str) -> Value {
        match self {
            Self::Include => Value::String(value.to_owned()),
            Self::Redact => Value::String(crate::redact::REDACTED.to_owned()),
        }
    }
}

/// One destination of a dispatch: which adapter delivers, and to what.
///
/// Constructors check their options once, so a `Target` in hand is valid; the one
/// exception is [`Target::custom`], whose raw config the adapter validates once per
/// dispatch. Cloning is cheap (the options are shared).
///
/// ```
/// use herald_core::Target;
/// use serde_json::json;
///
/// let targets = vec![
///     Target::logger().into(),
///     Target::noop(),
///     Target::custom("slack", json!({"channel": "#ops"})),
/// ];
/// assert_eq!(targets[0].adapter(), "logger");
///
/// // Targets that can be described as data deserialize from JSON or TOML.
/// let target: Target = serde_json::from_value(json!({"adapter": "logger", "level": "warn"}))?;
/// assert_eq!(target.adapter(), "logger");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct Target {
    adapter: Cow<'static, str>,
    options: Options,
    resilience: Option<Arc<Resilience>>,
}

/// A target's options: checked at construction, or raw until its adapter checks them.
#[derive(Clone)]
pub(crate) enum Options {
    Typed(Arc<dyn TargetOptions>),
    Config(Arc<Value>),
}

impl Target {
    /// A target for `adapter` with typed options, already checked by their own
    /// constructor. The adapter must use the same options type.
    pub fn new(adapter: impl Into<Cow<'static, str>>, options: impl TargetOptions) -> Self {
        Self {
            adapter: adapter.into(),
            options: Options::Typed(Arc::new(options)),
            resilience: None,
        }
    }

    /// A target for the [`NamedAdapter`](crate::NamedAdapter) `A`, with its options:
    /// the adapter's name comes from its type, so it cannot be misspelled.
    pub fn to<A: crate::NamedAdapter>(options: A::Options) -> Self {
        Self::new(A::NAME, options)
    }

    /// A target for a custom adapter registered on the dispatcher under `adapter`, with
    /// a raw config its [`validate`](crate::Adapter::validate) checks once per dispatch.
    pub fn custom(adapter: impl Into<Cow<'static, str>>, config: Value) -> Self {
        Self {
            adapter: adapter.into(),
            options: Options::Config(Arc::new(config)),
            resilience: None,
        }
    }

    /// An in-process actor, by address. See [`PidTarget`].
    pub fn pid(recipient: Recipient<SignalMessage>) -> PidTarget {
        PidTarget::new(recipient)
    }

    /// An in-process actor, by its name in the dispatcher's
    /// [`Registry`](crate::Registry). See [`NamedTarget`].
    ///
    /// # Errors
    ///
    /// An empty name, one over 255 bytes, or one with whitespace or control characters.
    pub fn named(name: impl Into<String>) -> Result<NamedTarget, TargetError> {
        NamedTarget::new(name)
    }

    /// Every subscriber of a topic in the dispatcher's [`PubSub`](crate::PubSub). See
    /// [`PubSubTarget`].
    ///
    /// # Errors
    ///
    /// An empty topic.
    pub fn pubsub(topic: impl Into<String>) -> Result<PubSubTarget, TargetError> {
        PubSubTarget::new(topic)
    }

    /// A [`Bus`](crate::Bus) given to the dispatcher under `name`. See [`BusTarget`].
    ///
    /// # Errors
    ///
    /// An empty name, or one with whitespace or control characters.
    pub fn bus(name: impl Into<String>) -> Result<BusTarget, TargetError> {
        BusTarget::new(name)
    }

    /// A plain HTTP(S) endpoint, delivered by the `http` adapter (feature `http`). See
    /// [`HttpTarget`](crate::http::HttpTarget).
    ///
    /// # Errors
    ///
    /// A URL that is not http(s), has no host, has userinfo, whitespace or control
    /// characters (the error never repeats the URL).
    pub fn http(url: &str) -> Result<crate::http::HttpTarget, TargetError> {
        crate::http::HttpTarget::new(url)
    }

    /// A signed webhook, delivered by the `webhook` adapter (feature `http`); give it a
    /// secret next. See [`Webhook`](crate::http::Webhook).
    ///
    /// # Errors
    ///
    /// As [`Target::http`].
    pub fn webhook(url: &str) -> Result<crate::http::Webhook, TargetError> {
        crate::http::Webhook::new(url)
    }

    /// A `tracing` event per signal. See [`LoggerTarget`].
    pub fn logger() -> LoggerTarget {
        LoggerTarget::default()
    }

    /// A readable block on stdout per signal. See [`ConsoleTarget`].
    pub fn console() -> ConsoleTarget {
        ConsoleTarget::default()
    }

    /// A target that discards the signal and always succeeds.
    pub fn noop() -> Target {
        NoopTarget.into()
    }

    /// Reads a target from data: an object with an `adapter` field and that adapter's
    /// options as the other fields, e.g. `{"adapter": "logger", "level": "warn"}`.
    ///
    /// Built-in adapters' options — `http` and `webhook` included — are checked here,
    /// once. Any other adapter name becomes a [`custom`](Target::custom) target, checked
    /// by that adapter when dispatched (an unknown name then fails with the list of
    /// known adapters); until then it is described by its field names only.
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming the field and the rule it breaks.
    pub fn from_config(config: Value) -> Result<Self, TargetError> {
        Self::from_config_with(config, &Egress::default())
    }

    /// [`from_config`](Self::from_config), with network targets (`http`, `webhook`, a
    /// dead-letter target's too) under the egress policy `egress` instead of the
    /// default (public addresses only): for a set of targets the application may let
    /// reach more, e.g. `Egress::default().allow("10.1.0.0/16")?`. See
    /// [`egress`](crate::egress).
    ///
    /// ```
    /// use herald_core::Target;
    /// use herald_core::egress::Egress;
    /// use serde_json::json;
    ///
    /// let config = json!({"adapter": "http", "url": "http://10.1.2.3/hook"});
    /// assert!(Target::from_config(config.clone()).is_err());
    /// let internal = Egress::default().allow("10.1.0.0/16")?;
    /// assert!(Target::from_config_with(config, &internal).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_config`](Self::from_config).
    pub fn from_config_with(config: Value, egress: &Egress) -> Result<Self, TargetError> {
        let Value::Object(mut map) = config else {
            return Err(TargetError::NotAnObject);
        };
        let adapter = match map.remove("adapter") {
            Some(Value::String(adapter)) => adapter,
            _ => return Err(TargetError::NotAnObject),
        };
        let resilience = match map.remove("resilience") {
            None | Some(Value::Null) => None,
            Some(Value::Object(policies)) => Some(Resilience::from_fields(
                ConfigFields::new(policies).within("resilience"),
                egress,
            )?),
            Some(_) => {
                return Err(TargetError::invalid_field(
                    "resilience",
                    "must be an object",
                ));
            }
        };
        let target = Self::from_adapter_config(adapter, ConfigFields::new(map), egress)?;
        Ok(match resilience {
            Some(resilience) => target.with_resilience(resilience),
            None => target,
        })
    }

    /// A target of `adapter` from its options' fields.
    fn from_adapter_config(
        adapter: String,
        fields: ConfigFields,
        egress: &Egress,
    ) -> Result<Self, TargetError> {
        match adapter.as_str() {
            "logger" => Ok(LoggerTarget::from_fields(fields)?.into()),
            "console" => Ok(ConsoleTarget::from_fields(fields)?.into()),
            "noop" => Ok(NoopTarget::from_fields(fields)?.into()),
            "named" => Ok(NamedTarget::from_fields(fields)?.into()),
            "pubsub" => Ok(PubSubTarget::from_fields(fields)?.into()),
            "bus" => Ok(BusTarget::from_fields(fields)?.into()),
            "http" | "webhook" => {
                let config = Value::Object(fields.into_map());
                let webhook = adapter == "webhook";
                let target = crate::http::HttpTarget::from_config_with(&config, webhook, egress)?;
                Ok(target.into())
            }
            "pid" => Err(TargetError::NotConfigurable { adapter }),
            _ => Ok(Self::custom(adapter, Value::Object(fields.into_map()))),
        }
    }

    /// Reads a list of targets from data (a JSON or TOML array of target configs), each
    /// checked as [`from_config`](Self::from_config) does. To check them against a
    /// dispatcher's adapters too (unknown adapters, custom adapters' options), send it
    /// [`CheckTargets`](crate::CheckTargets).
    ///
    /// # Errors
    ///
    /// Every problem, each with its target's index; one for the whole list if it is not
    /// an array.
    pub fn list_from_config(configs: Value) -> Result<Vec<Self>, Vec<crate::TargetProblem>> {
        Self::list_from_config_with(configs, &Egress::default())
    }

    /// [`list_from_config`](Self::list_from_config) under the egress policy `egress`
    /// (see [`from_config_with`](Self::from_config_with)).
    ///
    /// # Errors
    ///
    /// As [`list_from_config`](Self::list_from_config).
    pub fn list_from_config_with(
        configs: Value,
        egress: &Egress,
    ) -> Result<Vec<Self>, Vec<crate::TargetProblem>> {
        let Value::Array(configs) = configs else {
            return Err(vec![crate::TargetProblem::new(
                0,
                TargetError::Invalid("a target list must be an array".to_owned()),
            )]);
        };
        let mut targets = Vec::with_capacity(configs.len());
        let mut problems = Vec::new();
        for (index, config) in configs.into_iter().enumerate() {
            match Self::from_config_with(config, egress) {
                Ok(target) => targets.push(target),
                Err(error) => problems.push(crate::TargetProblem::new(index, error)),
            }
        }
        if problems.is_empty() {
            Ok(targets)
        } else {
            Err(problems)
        }
    }

    /// The name of the adapter that delivers to this target.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// The same target under resilience policies of its own, which win over the
    /// dispatcher's defaults field by field (see [`resilience`](crate::resilience)).
    ///
    /// ```
    /// use herald_core::Target;
    /// use herald_core::resilience::{Breaker, Resilience};
    ///
    /// let target = Target::from(Target::logger())
    ///     .with_resilience(Resilience::new().breaker(Breaker::default()));
    /// assert!(target.resilience().is_some());
    /// ```
    pub fn with_resilience(mut self, resilience: Resilience) -> Self {
        self.resilience = (!resilience.is_empty()).then(|| Arc::new(resilience));
        self
    }

    /// The target's own resilience policies, if it has any.
    pub fn resilience(&self) -> Option<&Resilience> {
        self.resilience.as_deref()
    }

    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    /// Whether a delivery at once ([`Adapter::deliver_now`](crate::Adapter::deliver_now))
    /// may be offered: not for typed options that always wait, nor for a raw config
    /// (validated once, by the delivery that waits).
    #[inline]
    pub(crate) fn may_be_at_once(&self) -> bool {
        match &self.options {
            Options::Typed(options) => !options.waits(),
            Options::Config(_) => false,
        }
    }

    /// The typed options, if this target has options of type `O`.
    pub fn options_as<O: TargetOptions>(&self) -> Option<&O> {
        match &self.options {
            Options::Typed(options) => (options.as_ref() as &dyn Any).downcast_ref(),
            Options::Config(_) => None,
        }
    }

    /// The target's exact identity: its adapter and every field of its options,
    /// secrets included, as a fingerprint that shows none of them (see
    /// [`Fingerprint`]). A raw config's identity is its JSON text.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(|state| {
            Fingerprint::field(state, self.adapter.as_bytes());
            self.write_identity(state);
        })
    }

    /// Writes the options' identity (not the adapter's name) into `state`.
    pub(crate) fn write_identity(&self, state: &mut dyn std::hash::Hasher) {
        match &self.options {
            Options::Typed(options) => {
                let written =
                    std::panic::catch_unwind(AssertUnwindSafe(|| options.identity(state)));
                if written.is_err() {
                    state.write(b"<identity panicked>");
                }
            }
            Options::Config(config) => identity::write_config(state, config),
        }
    }

    /// A short, redacted description for errors and telemetry.
    ///
    /// A [`TargetOptions::describe`] that panics is contained here: the description
    /// then ends in `<describe panicked>`, and the dispatcher keeps serving.
    pub fn describe(&self) -> impl fmt::Display + '_ {
        DisplayFn(move |f: &mut fmt::Formatter<'_>| match &self.options {
            Options::Typed(options) => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| options.describe(f))) {
                    Ok(written) => written,
                    Err(_) => f.write_str("<describe panicked>"),
                }
            }
            Options::Config(config) => describe_config(f, &self.adapter, config),
        })
    }

    /// This target's failure with `kind`, from its adapter name and description.
    pub(crate) fn error(&self, kind: ErrorKind) -> DeliveryError {
        DeliveryError::new(self.adapter.clone(), self.describe().to_string(), kind)
    }
}

/// A target read from data, before its adapter checked it: the adapter's name and the
/// config's field names, never their values (a URL's password, a header's token, a
/// secret), each escaped.
fn describe_config(f: &mut fmt::Formatter<'_>, adapter: &str, config: &Value) -> fmt::Result {
    const SHOWN: usize = 16;
    write!(f, "{}{{", Escaped(adapter))?;
    if let Value::Object(map) = config {
        for (index, key) in map.keys().take(SHOWN).enumerate() {
            let comma = if index == 0 { "" } else { ", " };
            write!(f, "{comma}{}", Escaped(key))?;
        }
        if map.len() > SHOWN {
            write!(f, ", … {} more", map.len() - SHOWN)?;
        }
    }
    f.write_str("}")
}

impl Target {
    /// The target as data: `{"adapter": …, …its options}`, what
    /// [`from_config`](Self::from_config) reads back (secrets included only with
    /// [`Secrets::Include`]). A custom target's raw config is written as it was given;
    /// redacted, values under sensitive keys (at any depth) are replaced and URLs cut
    /// to their origin.
    ///
    /// ```
    /// use herald_core::{Secrets, Target};
    ///
    /// let target: Target = Target::named("audit")?.sync().into();
    /// let config = target.to_config(Secrets::Redact)?;
    /// assert_eq!(config["adapter"], "named");
    /// assert_eq!(Target::from_config(config)?.describe().to_string(), target.describe().to_string());
    /// # Ok::<(), herald_core::TargetError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TargetError::NotConfigurable`] for a target that cannot be data (`pid`).
    pub fn to_config(&self, secrets: Secrets) -> Result<Value, TargetError> {
        let mut map = match &self.options {
            Options::Typed(options) => {
                options
                    .to_config(secrets)
                    .ok_or_else(|| TargetError::NotConfigurable {
                        adapter: self.adapter.to_string(),
                    })?
            }
            Options::Config(config) => match (&**config, secrets) {
                (Value::Object(map), Secrets::Include) => map.clone(),
                (Value::Object(_), Secrets::Redact) => match redact::redacted_value(config) {
                    Value::Object(map) => map,
                    _ => Map::new(),
                },
                _ => Map::new(),
            },
        };
        map.insert(
            "adapter".to_owned(),
            Value::String(self.adapter.to_string()),
        );
        if let Some(resilience) = &self.resilience {
            map.insert("resilience".to_owned(), resilience.to_config(secrets)?);
        }
        Ok(Value::Object(map))
    }
}

/// Writes the target as data with its secrets redacted (see [`Target::to_config`]).
impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_config(Secrets::Redact)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("adapter", &self.adapter)
            .field("options", &format_args!("{}", self.describe()))
            .field("resilience", &self.resilience)
            .finish()
    }
}

/// Reads a target as [`Target::from_config`] does. In a list of your own, serde
/// reports a bad target without its index: use [`Target::deserialize_list`] there.
impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let config = Value::deserialize(deserializer)?;
        Self::from_config(config).map_err(serde::de::Error::custom)
    }
}

impl Target {
    /// Reads a list of targets inside a serde config of your own, as
    /// [`list_from_config`](Self::list_from_config) does: every bad target is named
    /// with its index (serde itself reports a bad element of a `Vec<Target>` with no
    /// index).
    ///
    /// ```
    /// use herald_core::Target;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Config {
    ///     #[serde(deserialize_with = "Target::deserialize_list")]
    ///     targets: Vec<Target>,
    /// }
    ///
    /// let text = r#"{"targets": [{"adapter": "noop"}, {"adapter": "named", "nme": "audit"}]}"#;
    /// let error = serde_json::from_str::<Config>(text).err().unwrap().to_string();
    /// assert!(error.contains("target 1: missing field `name`; found `nme` instead"), "{error}");
    /// ```
    ///
    /// # Errors
    ///
    /// The deserializer's, or every bad target with its index, in one message.
    pub fn deserialize_list<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Self>, D::Error> {
        let configs = Value::deserialize(deserializer)?;
        Self::list_from_config(configs).map_err(|problems| {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            serde::de::Error::custom(problems.join("; "))
        })
    }
}
