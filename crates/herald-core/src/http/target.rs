//! The options of an `http` or `webhook` target, checked once when built.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http02::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue, TRANSFER_ENCODING,
};
use serde_json::{Map, Value};
use url::Url;

use super::names::{
    WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, X_WEBHOOK_EVENT, X_WEBHOOK_SIGNATURE,
    X_WEBHOOK_TIMESTAMP,
};
use super::{RetryPolicy, Signer, Tls, WebhookSecret};
use crate::egress::Egress;
use crate::{ConfigFields, Secrets, Target, TargetError, TargetOptions};

/// The most of an error response's body an error keeps.
pub(crate) const ERROR_BODY_LIMIT: usize = 4096;

/// The HTTP methods a delivery may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HttpMethod {
    /// `POST`.
    #[default]
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
}

impl HttpMethod {
    /// The method as the `http` crate names it.
    pub fn as_http(self) -> http02::Method {
        match self {
            Self::Post => http02::Method::POST,
            Self::Put => http02::Method::PUT,
            Self::Patch => http02::Method::PATCH,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "POST" => Some(Self::Post),
            "PUT" => Some(Self::Put),
            "PATCH" => Some(Self::Patch),
            _ => None,
        }
    }
}

/// How the signal travels in the request (the CloudEvents binding's mode, shared with
/// NATS): structured, the whole event as `application/cloudevents+json`; or binary,
/// attributes as `ce-*` headers and `datacontenttype` as `Content-Type`, the data as
/// the body.
pub use herald_signal::BodyMode;

/// The shortest and longest request timeout.
const TIMEOUTS: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(60));

/// A target that delivers a signal over HTTP(S): build with
/// [`Target::http`](crate::Target::http) (plain) or
/// [`Target::webhook`](crate::Target::webhook) (signed), or read one from data. The
/// `http` and `webhook` adapters that deliver it are herald-core's `http` feature.
///
/// Every setter checks its input; a built target is valid.
///
/// ```
/// use std::time::Duration;
/// use herald_core::Target;
/// use herald_core::http::{BodyMode, HttpMethod, RetryPolicy};
///
/// let target = Target::http("https://example.com/events")?
///     .method(HttpMethod::Put)
///     .header("x-tenant", "acme")?
///     .timeout(Duration::from_secs(2))?
///     .retry(RetryPolicy::new(5, Duration::from_millis(100), Duration::from_secs(2))?)
///     .body(BodyMode::Binary);
/// assert_eq!(target.url().as_str(), "https://example.com/events");
/// # Ok::<(), herald_core::TargetError>(())
/// ```
#[derive(Clone)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct HttpTarget {
    url: Url,
    /// Scheme, host and port: the endpoint per-endpoint policies key on, made once.
    endpoint: Arc<str>,
    method: HttpMethod,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    retry: RetryPolicy,
    body: BodyMode,
    signing: Option<Signing>,
    /// Where it may connect: `None` for a target built in code (unchecked), the policy
    /// it was read with for one read from data.
    egress: Option<Egress>,
    /// How much of an error response's body its errors keep; `None` for the default.
    error_body: Option<usize>,
    /// Whether the URL's path is a secret (a bearer URL): never shown.
    secret_path: bool,
    /// Its own TLS settings, over the dispatcher's.
    tls: Option<Tls>,
}

/// How a webhook is signed: its keys (the first names the scheme: Standard Webhooks or
/// jido), signers the application holds the keys of, and, for the jido scheme, its
/// header names and event-type map. Read from [`HttpTarget::signing`]; `Debug` never
/// shows a key.
///
/// A Standard Webhooks target signs with every key and signer it has, their entries
/// side by side in one `webhook-signature` header (space-separated), as the
/// specification allows during a key rotation: a receiver that knows any one of them
/// accepts the request.
#[derive(Clone)]
pub struct Signing {
    /// Herald-held keys; for the jido scheme exactly one.
    keys: Vec<WebhookSecret>,
    /// Keys held elsewhere (Standard Webhooks only).
    signers: Vec<Arc<dyn Signer>>,
    /// Jido scheme: the three header names (signature, timestamp, event).
    jido_headers: [HeaderName; 3],
    /// Jido scheme: signal type → value of the event header.
    event_types: BTreeMap<String, String>,
}

impl Signing {
    /// The first key, which also names the scheme; `None` when only signers sign.
    pub fn secret(&self) -> Option<&WebhookSecret> {
        self.keys.first()
    }

    /// Every key Herald signs with, in order.
    pub fn keys(&self) -> &[WebhookSecret] {
        &self.keys
    }

    /// The signers that sign too, in order.
    pub fn signers(&self) -> &[Arc<dyn Signer>] {
        &self.signers
    }

    /// Whether this is the jido scheme (else Standard Webhooks).
    pub fn is_jido(&self) -> bool {
        matches!(self.keys.first(), Some(WebhookSecret::Jido(_)))
    }

    /// The scheme's name: `"standard"` or `"jido"`.
    pub fn scheme(&self) -> &'static str {
        if self.is_jido() { "jido" } else { "standard" }
    }

    /// The jido scheme's header names: signature, timestamp, event.
    pub fn jido_headers(&self) -> &[HeaderName; 3] {
        &self.jido_headers
    }

    /// What the jido scheme's event header says for a signal of type `ty`: its mapping,
    /// or the type itself.
    pub fn event_for<'a>(&'a self, ty: &'a str) -> &'a str {
        self.event_types.get(ty).map_or(ty, String::as_str)
    }

    /// The headers this scheme sets itself; callers' headers of these names are dropped.
    pub fn reserved(&self) -> &[HeaderName] {
        static STANDARD: [HeaderName; 3] = [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE];
        if self.is_jido() {
            &self.jido_headers
        } else {
            &STANDARD
        }
    }

    fn new(keys: Vec<WebhookSecret>, signers: Vec<Arc<dyn Signer>>) -> Self {
        Self {
            keys,
            signers,
            jido_headers: [X_WEBHOOK_SIGNATURE, X_WEBHOOK_TIMESTAMP, X_WEBHOOK_EVENT],
            event_types: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signing")
            .field("scheme", &self.scheme())
            .field("keys", &self.keys)
            .field("signers", &self.signers)
            .field("jido_headers", &self.jido_headers)
            .field("event_types", &self.event_types.len())
            .finish()
    }
}

impl HttpTarget {
    /// The default request timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A plain target for `url`: http or https, with a host, no userinfo, no whitespace
    /// or control characters.
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming `url` and the broken rule.
    pub fn new(url: &str) -> Result<Self, TargetError> {
        let url = parse_url(url)?;
        let port = url.port_or_known_default().unwrap_or_default();
        let host = url.host_str().unwrap_or_default();
        Ok(Self {
            endpoint: format!("{}://{host}:{port}", url.scheme()).into(),
            method: HttpMethod::Post,
            headers: Vec::new(),
            timeout: Self::DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            body: BodyMode::Structured,
            signing: None,
            egress: None,
            error_body: None,
            secret_path: bearer_host(&url),
            tls: None,
            url,
        })
    }

    /// Puts the target under an egress policy, checking its host now: for a URL that
    /// came from a tenant, though the target is built in code. Targets read from data
    /// are under one already ([`Egress::default`] unless read with another); targets
    /// built in code are not, unless this is called. The addresses a host name resolves
    /// to are checked when connecting. Default is no policy for targets built in code.
    ///
    /// ```
    /// use herald_core::Target;
    /// use herald_core::egress::Egress;
    ///
    /// let tenant_url = "http://169.254.169.254/latest/meta-data";
    /// let error = Target::http(tenant_url)?.egress(Egress::default()).unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "field `url` is refused by the egress policy: 169.254.169.254 is a cloud metadata address"
    /// );
    /// # Ok::<(), herald_core::TargetError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A host the policy refuses, naming the rule.
    pub fn egress(mut self, policy: Egress) -> Result<Self, TargetError> {
        if let Some(host) = self.url.host() {
            policy.check_host(&host).map_err(|denied| {
                TargetError::invalid_field(
                    "url",
                    format!("is refused by the egress policy: {denied}"),
                )
            })?;
        }
        self.egress = Some(policy);
        Ok(self)
    }

    /// The egress policy the target is under: `None` for one built in code without
    /// [`egress`](Self::egress).
    pub fn egress_policy(&self) -> Option<&Egress> {
        self.egress.as_ref()
    }

    /// Keeps up to `bytes` (at most 4 KiB) of an error response's body in the
    /// delivery's error ([`ErrorKind::HttpStatus`](crate::ErrorKind::HttpStatus)), where
    /// reports, logs and dead letters show it. Default is 4 KiB for a target built in
    /// code, and nothing for one under an egress policy (a receiver's body is the
    /// receiver's data: an application that shows errors to a tenant would show it).
    pub fn error_body(mut self, bytes: usize) -> Self {
        self.error_body = Some(bytes.min(ERROR_BODY_LIMIT));
        self
    }

    /// Sets the target's own TLS settings: extra root certificates, a client
    /// certificate for mutual TLS. They win over the dispatcher's
    /// ([`DispatcherBuilder::tls`](crate::DispatcherBuilder::tls)). As data: `"tls":
    /// {"root_certificates": PEM, "client_certificate": PEM, "client_key": PEM}`.
    /// Default is the dispatcher's.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The target's own TLS settings, if it has any.
    pub fn tls_settings(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// How much of an error response's body this target's errors keep.
    pub fn error_body_limit(&self) -> usize {
        match (self.error_body, &self.egress) {
            (Some(bytes), _) => bytes,
            (None, Some(_)) => 0,
            (None, None) => ERROR_BODY_LIMIT,
        }
    }

    /// Sets the method. Default is [`HttpMethod::Post`].
    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = method;
        self
    }

    /// Adds a request header. Names are RFC 7230 tokens, compared case-insensitively and
    /// given once each; values are visible ASCII and spaces (no control characters, TAB
    /// included). The headers that frame and route a request — `host`,
    /// `content-length`, `transfer-encoding`, `connection`, and `content-type` (which
    /// follows the body mode) — are Herald's, not the caller's. Headers a webhook's
    /// signing scheme sets itself are dropped. Default is no extra headers.
    ///
    /// # Errors
    ///
    /// An invalid or repeated name, a framing header, or an invalid value. Errors name
    /// the header, never its value.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, TargetError> {
        let name = header_name("headers", name)?;
        if self.headers.iter().any(|(existing, _)| *existing == name) {
            return Err(TargetError::invalid_field(
                "headers",
                format!("name `{name}` is given more than once"),
            ));
        }
        let value = header_value(value).ok_or_else(|| {
            TargetError::invalid_field(
                "headers",
                format!("value of `{name}` must be visible ASCII and spaces only"),
            )
        })?;
        self.headers.push((name, value));
        Ok(self)
    }

    /// Sets the time one attempt may take, from connecting to the response's status:
    /// 1 ms to 60 s. Default is 5 seconds.
    ///
    /// # Errors
    ///
    /// A timeout outside 1 ms – 60 s.
    pub fn timeout(mut self, timeout: Duration) -> Result<Self, TargetError> {
        if timeout < TIMEOUTS.0 || timeout > TIMEOUTS.1 {
            return Err(TargetError::invalid_field(
                "timeout_ms",
                "must be between 1 ms and 60 s",
            ));
        }
        self.timeout = timeout;
        Ok(self)
    }

    /// Sets the retry policy. Default is [`RetryPolicy::default`]: 3 attempts, 100 ms
    /// to 10 s apart.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets how the signal travels. Default is [`BodyMode::Structured`].
    pub fn body(mut self, body: BodyMode) -> Self {
        self.body = body;
        self
    }

    /// Maps a signal type to the value of the jido scheme's event header (other types
    /// are sent as they are). Default is no mapping.
    ///
    /// # Errors
    ///
    /// A target not signed with the jido scheme (only it sends that header), an empty
    /// signal type, or an event that is not a valid header value (visible ASCII and
    /// spaces).
    pub fn event_type(mut self, signal_type: &str, event: &str) -> Result<Self, TargetError> {
        let signing = self.jido_signing("event_types")?;
        if signal_type.is_empty() {
            return Err(TargetError::invalid_field(
                "event_types",
                "signal types must not be empty",
            ));
        }
        if event.is_empty() || header_value(event).is_none() {
            return Err(TargetError::invalid_field(
                "event_types",
                format!(
                    "event for {:?} must be non-empty visible ASCII and spaces",
                    signal_type
                ),
            ));
        }
        signing
            .event_types
            .insert(signal_type.to_owned(), event.to_owned());
        Ok(self)
    }

    /// Renames the jido scheme's headers (signature, timestamp, event), which must be
    /// distinct tokens and none of the headers that frame a request. Default is
    /// `x-webhook-signature`, `x-webhook-timestamp`, `x-webhook-event`.
    ///
    /// # Errors
    ///
    /// A target not signed with the jido scheme, a name that is not a token or is a
    /// framing header, or names that are not distinct.
    pub fn jido_headers(
        mut self,
        signature: &str,
        timestamp: &str,
        event: &str,
    ) -> Result<Self, TargetError> {
        let names = [
            header_name("jido_headers", signature)?,
            header_name("jido_headers", timestamp)?,
            header_name("jido_headers", event)?,
        ];
        if names[0] == names[1] || names[1] == names[2] || names[0] == names[2] {
            return Err(TargetError::invalid_field(
                "jido_headers",
                "must be three distinct names",
            ));
        }
        self.jido_signing("jido_headers")?.jido_headers = names;
        Ok(self)
    }

    /// The signing of a jido-signed target, or an error naming `field` for any other.
    fn jido_signing(&mut self, field: &str) -> Result<&mut Signing, TargetError> {
        match &mut self.signing {
            Some(signing) if signing.is_jido() => Ok(signing),
            _ => Err(TargetError::invalid_field(
                field,
                "applies only to webhooks signed with the jido scheme",
            )),
        }
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL as errors and telemetry show it: no userinfo (there is none), query or
    /// fragment, and the path `[REDACTED]` when it is a secret (see
    /// [`secret_path`](Self::secret_path)).
    pub fn redacted_url(&self) -> String {
        redacted_url(&self.url, self.secret_path)
    }

    /// Marks the URL's path as a secret, as it is in bearer URLs (the path is the
    /// credential): errors, telemetry, `Debug`, dead letters and redacted configs show
    /// `[REDACTED]` in its place. Default is on for the known bearer-URL hosts —
    /// `hooks.slack.com`, `discord.com` and `discordapp.com`, `*.webhook.office.com`,
    /// `outlook.office.com`, `hooks.zapier.com`, `api.telegram.org`, `maker.ifttt.com`
    /// — and off for others. As data: `"secret_path": true`.
    pub fn secret_path(mut self) -> Self {
        self.secret_path = true;
        self
    }

    /// The method.
    pub fn method_value(&self) -> HttpMethod {
        self.method
    }

    /// The extra request headers, in the order given. Their values are the caller's
    /// (they may hold tokens): Herald never renders them.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The time one attempt may take.
    pub fn timeout_value(&self) -> Duration {
        self.timeout
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// How the signal travels.
    pub fn body_mode(&self) -> BodyMode {
        self.body
    }

    /// How requests are signed: `Some` for a webhook.
    pub fn signing(&self) -> Option<&Signing> {
        self.signing.as_ref()
    }

    fn signed(mut self, secret: WebhookSecret) -> Self {
        self.signing = Some(Signing::new(vec![secret], Vec::new()));
        self
    }

    /// Also signs with `secret` (`whsec_` HMAC or `whsk_` Ed25519), its signature beside
    /// the others in `webhook-signature`: for a key rotation, sign with the new key and
    /// the old until every receiver has the new one. Default is the one key given.
    ///
    /// ```
    /// use herald_core::Target;
    /// use herald_core::http::WebhookSecret;
    ///
    /// let target = Target::webhook("https://example.com/hook")?
    ///     .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?
    ///     .also_sign_with(WebhookSecret::ed25519("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")?)?;
    /// assert_eq!(target.signing().unwrap().keys().len(), 2);
    /// # Ok::<(), herald_core::TargetError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A target that is not a Standard Webhooks webhook, or a jido secret (that scheme
    /// has one signature).
    pub fn also_sign_with(mut self, secret: WebhookSecret) -> Result<Self, TargetError> {
        if matches!(secret, WebhookSecret::Jido(_)) {
            return Err(TargetError::invalid_field(
                "secret",
                "only Standard Webhooks keys sign side by side",
            ));
        }
        self.standard_signing()?.keys.push(secret);
        Ok(self)
    }

    /// Also signs with `signer`, beside the target's keys (see
    /// [`also_sign_with`](Self::also_sign_with)).
    ///
    /// # Errors
    ///
    /// A target that is not a Standard Webhooks webhook.
    pub fn also_signer(mut self, signer: impl Signer) -> Result<Self, TargetError> {
        self.standard_signing()?.signers.push(Arc::new(signer));
        Ok(self)
    }

    /// The signing of a Standard Webhooks target, or an error for any other.
    fn standard_signing(&mut self) -> Result<&mut Signing, TargetError> {
        match &mut self.signing {
            Some(signing) if !signing.is_jido() => Ok(signing),
            _ => Err(TargetError::invalid_field(
                "secret",
                "applies only to webhooks signed with Standard Webhooks",
            )),
        }
    }

    /// Reads a target from a config object (without its `adapter` field): `url`,
    /// `method`, `headers` (object), `timeout_ms`, `body` (`structured` | `binary`),
    /// `retry` (`max_attempts`, `base_delay_ms`, `max_delay_ms`, or instead
    /// `schedule_ms`, a list; and `deadline_ms`, `penalty_ms`); and for webhooks
    /// `secret`, `scheme` (`standard` | `jido`), `event_types` (object).
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming the field and the rule.
    pub fn from_config(config: &Value, webhook: bool) -> Result<Self, TargetError> {
        Self::from_config_with(config, webhook, &Egress::default())
    }

    /// [`from_config`](Self::from_config) under the egress policy `egress` (its host
    /// checked now, its addresses when connecting).
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming the field and the rule.
    pub fn from_config_with(
        config: &Value,
        webhook: bool,
        egress: &Egress,
    ) -> Result<Self, TargetError> {
        let mut fields = ConfigFields::from_config(config)?;
        let mut target = Self::new(&fields.required_string("url")?)?.egress(egress.clone())?;
        if let Some(method) = fields.string("method")? {
            target.method = HttpMethod::parse(&method)
                .ok_or_else(|| fields.invalid("method", "must be one of POST, PUT, PATCH"))?;
        }
        for (name, value) in fields.strings("headers")?.unwrap_or_default() {
            target = target.header(&name, &value)?;
        }
        if let Some(timeout) = fields.millis("timeout_ms", Duration::MAX)? {
            target = target.timeout(timeout)?;
        }
        let body = [
            ("structured", BodyMode::Structured),
            ("binary", BodyMode::Binary),
        ];
        if let Some(body) = fields.one_of("body", &body)? {
            target.body = body;
        }
        if let Some(retry) = fields.object("retry")? {
            target.retry = retry_from(retry)?;
        }
        if fields.bool("secret_path")? == Some(true) {
            target.secret_path = true;
        }
        if let Some(tls) = fields.object("tls")? {
            target.tls = Some(Tls::from_fields(tls)?);
        }
        let mut expected = vec![
            "url",
            "method",
            "headers",
            "timeout_ms",
            "body",
            "retry",
            "secret_path",
            "tls",
        ];
        if webhook {
            expected.extend(["secret", "scheme", "event_types", "jido_headers"]);
            let schemes = [("standard", false), ("jido", true)];
            let jido = fields.one_of("scheme", &schemes)? == Some(true);
            let secrets = match fields.take("secret") {
                Some(Value::String(secret)) => vec![secret],
                Some(Value::Array(items)) if !jido && !items.is_empty() => items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(secret) => Ok(secret),
                        _ => Err(fields.invalid("secret", "must be a list of secrets (strings)")),
                    })
                    .collect::<Result<_, _>>()?,
                None => {
                    return Err(fields.missing("secret"));
                }
                Some(_) => {
                    let rule = if jido {
                        "must be a string"
                    } else {
                        "must be a secret, or a non-empty list of secrets"
                    };
                    return Err(fields.invalid("secret", rule));
                }
            };
            let keys = secrets
                .iter()
                .map(|secret| match jido {
                    true => WebhookSecret::jido(secret),
                    false => WebhookSecret::standard_any(secret),
                })
                .collect::<Result<Vec<_>, _>>()?;
            target.signing = Some(Signing::new(keys, Vec::new()));
            for (ty, event) in fields.strings("event_types")?.unwrap_or_default() {
                target = target.event_type(&ty, &event)?;
            }
            if let Some(names) = fields.take("jido_headers") {
                let names: Option<Vec<&str>> = match &names {
                    Value::Array(items) => items.iter().map(Value::as_str).collect(),
                    _ => None,
                };
                let Some([signature, timestamp, event]) = names.as_deref() else {
                    return Err(fields.invalid(
                        "jido_headers",
                        "must be three header names: signature, timestamp, event",
                    ));
                };
                target = target.jido_headers(signature, timestamp, event)?;
            }
        }
        fields.finish(&expected)?;
        Ok(target)
    }
}

/// The headers that frame and route a request: never the caller's to set or rename.
const FRAMING: [HeaderName; 5] = [
    HOST,
    CONTENT_LENGTH,
    TRANSFER_ENCODING,
    CONNECTION,
    CONTENT_TYPE,
];

/// A header name the caller may set: an RFC 7230 token, not a framing header.
fn header_name(field: &str, name: &str) -> Result<HeaderName, TargetError> {
    let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        TargetError::invalid_field(field, format!("name {name:?} is not an HTTP token"))
    })?;
    if FRAMING.contains(&parsed) {
        return Err(TargetError::invalid_field(
            field,
            format!("must not set `{parsed}`; Herald sets the headers that frame a request"),
        ));
    }
    Ok(parsed)
}

/// A header value of visible ASCII and spaces: `http` also takes TAB and bytes above
/// 0x7F, which the specification's "no control characters" rule keeps out.
fn header_value(value: &str) -> Option<HeaderValue> {
    if value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        HeaderValue::from_str(value).ok()
    } else {
        None
    }
}

fn retry_from(mut fields: ConfigFields) -> Result<RetryPolicy, TargetError> {
    let expected = [
        "max_attempts",
        "base_delay_ms",
        "max_delay_ms",
        "deadline_ms",
        "schedule_ms",
        "penalty_ms",
    ];
    let mut policy = match fields.millis_list("schedule_ms", RetryPolicy::MAX_DELAY)? {
        Some(delays) => {
            for backoff in ["max_attempts", "base_delay_ms", "max_delay_ms"] {
                if fields.take(backoff).is_some() {
                    return Err(fields.invalid(backoff, "cannot be given with schedule_ms"));
                }
            }
            RetryPolicy::schedule(&delays).map_err(|error| error.within("retry"))?
        }
        None => backoff_from(&mut fields)?,
    };
    if let Some(deadline) = fields.millis("deadline_ms", RetryPolicy::MAX_DEADLINE)? {
        policy = policy.deadline(deadline);
    }
    if let Some(penalty) = fields.millis("penalty_ms", RetryPolicy::MAX_DELAY)? {
        policy = policy.penalty(penalty);
    }
    fields.finish(&expected)?;
    Ok(policy)
}

fn backoff_from(fields: &mut ConfigFields) -> Result<RetryPolicy, TargetError> {
    let default = RetryPolicy::default();
    let attempts = match fields.usize("max_attempts")? {
        None => default.max_attempts(),
        Some(n) => u32::try_from(n)
            .map_err(|_| fields.invalid("max_attempts", "must be between 1 and 10"))?,
    };
    let base = fields
        .millis("base_delay_ms", RetryPolicy::MAX_DELAY)?
        .unwrap_or(default.base_delay());
    let max = fields
        .millis("max_delay_ms", RetryPolicy::MAX_DELAY)?
        .unwrap_or(default.max_delay().max(base));
    RetryPolicy::new(attempts, base, max).map_err(|error| error.within("retry"))
}

/// Checks a target URL: http or https, a host, a valid non-zero port, no userinfo, no
/// whitespace or control characters. Errors never echo the URL (it may hold a token).
fn parse_url(text: &str) -> Result<Url, TargetError> {
    let invalid = |rule: &str| TargetError::invalid_field("url", rule);
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not contain whitespace or control characters"));
    }
    let url =
        Url::parse(text).map_err(|error| invalid(&format!("is not a valid URL ({error})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must use http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must have a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not contain userinfo (user:password@)"));
    }
    if url.port() == Some(0) {
        return Err(invalid("must not use port 0"));
    }
    Ok(url)
}

/// The URL as telemetry and errors show it: no userinfo, query or fragment; no path
/// either when it is a secret.
fn redacted_url(url: &Url, secret_path: bool) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    if secret_path && url.path() != "/" {
        shown.push('/');
        shown.push_str(crate::redact::REDACTED);
    } else {
        shown.push_str(url.path());
    }
    shown
}

/// Hosts whose webhook URLs carry their credential in the path.
const BEARER_HOSTS: [&str; 7] = [
    "hooks.slack.com",
    "discord.com",
    "discordapp.com",
    "outlook.office.com",
    "hooks.zapier.com",
    "api.telegram.org",
    "maker.ifttt.com",
];

/// Whether `url`'s host is a known bearer-URL host (or a subdomain of
/// `webhook.office.com`).
fn bearer_host(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default().trim_end_matches('.');
    BEARER_HOSTS
        .iter()
        .any(|known| host.eq_ignore_ascii_case(known))
        || host.to_ascii_lowercase().ends_with(".webhook.office.com")
}

impl fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTarget")
            .field("url", &self.redacted_url())
            .field("method", &self.method)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("body", &self.body)
            .field("scheme", &self.signing.as_ref().map(Signing::scheme))
            .field("egress", &self.egress)
            .field("tls", &self.tls)
            .finish()
    }
}

impl TargetOptions for HttpTarget {
    /// The scheme, host and port: `http` and `webhook` targets built in code on one
    /// server share its policies. A target under an egress policy (read from data: a
    /// tenant's) has state of its own, keyed by its identity too, so that no other
    /// target can trip its breaker or spend its rate limit.
    fn endpoint(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.endpoint))
    }

    /// Every field: the whole URL, method, headers with their values, timeout, retry
    /// policy, body mode, error body, and the signing scheme, secret and names.
    fn identity(&self, state: &mut dyn std::hash::Hasher) {
        let field = |state: &mut dyn std::hash::Hasher, bytes: &[u8]| {
            crate::Fingerprint::field(state, bytes);
        };
        field(state, self.url.as_str().as_bytes());
        field(state, self.method.as_http().as_str().as_bytes());
        for (name, value) in &self.headers {
            field(state, name.as_str().as_bytes());
            field(state, value.as_bytes());
        }
        field(state, format!("{:?}", self.timeout).as_bytes());
        field(state, format!("{:?}", self.retry).as_bytes());
        field(state, format!("{:?}", self.body).as_bytes());
        field(state, &self.error_body_limit().to_le_bytes());
        if let Some(tls) = &self.tls {
            tls.identity(state);
        }
        if let Some(signing) = &self.signing {
            field(state, signing.scheme().as_bytes());
            for key in &signing.keys {
                field(state, key.expose_text().as_bytes());
            }
            for signer in &signing.signers {
                signer.identity(state);
            }
            for name in &signing.jido_headers {
                field(state, name.as_str().as_bytes());
            }
            for (ty, event) in &signing.event_types {
                field(state, ty.as_bytes());
                field(state, event.as_bytes());
            }
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_url())
    }

    fn to_config(&self, secrets: Secrets) -> Option<Map<String, Value>> {
        let url = match secrets {
            Secrets::Include => self.url.to_string(),
            _ => self.redacted_url(),
        };
        let method = match self.method {
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            _ => "POST",
        };
        let headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    secrets.show(value.to_str().unwrap_or_default()),
                )
            })
            .collect();
        let mut retry = match self.retry.delays() {
            Some(delays) => Map::from_iter([(
                "schedule_ms".to_owned(),
                delays
                    .iter()
                    .map(|delay| millis(*delay))
                    .collect::<Vec<_>>()
                    .into(),
            )]),
            None => Map::from_iter([
                ("max_attempts".to_owned(), self.retry.max_attempts().into()),
                ("base_delay_ms".to_owned(), millis(self.retry.base_delay())),
                ("max_delay_ms".to_owned(), millis(self.retry.max_delay())),
            ]),
        };
        if let Some(deadline) = self.retry.overall_deadline() {
            retry.insert("deadline_ms".to_owned(), millis(deadline));
        }
        if !self.retry.penalty_value().is_zero() {
            retry.insert("penalty_ms".to_owned(), millis(self.retry.penalty_value()));
        }
        let mut config = Map::from_iter([
            ("url".to_owned(), url.into()),
            ("method".to_owned(), method.into()),
            ("headers".to_owned(), headers.into()),
            ("timeout_ms".to_owned(), millis(self.timeout)),
            ("body".to_owned(), self.body.name().into()),
            ("retry".to_owned(), retry.into()),
        ]);
        if self.secret_path && !bearer_host(&self.url) {
            config.insert("secret_path".to_owned(), true.into());
        }
        if let Some(tls) = &self.tls {
            config.insert("tls".to_owned(), tls.to_config(secrets));
        }
        if let Some(signing) = &self.signing {
            if !signing.signers.is_empty() {
                // A key held elsewhere cannot be written as data.
                return None;
            }
            let shown: Vec<Value> = signing
                .keys
                .iter()
                .map(|key| secrets.show(&key.expose_text()))
                .collect();
            let secret = match <[Value; 1]>::try_from(shown) {
                Ok([one]) => one,
                Err(many) => many.into(),
            };
            config.insert("secret".to_owned(), secret);
            config.insert("scheme".to_owned(), signing.scheme().into());
            if signing.is_jido() {
                let names: Vec<Value> = signing
                    .jido_headers
                    .iter()
                    .map(|name| name.as_str().into())
                    .collect();
                config.insert("jido_headers".to_owned(), names.into());
                let types: Map<String, Value> = signing
                    .event_types
                    .iter()
                    .map(|(ty, event)| (ty.clone(), event.clone().into()))
                    .collect();
                config.insert("event_types".to_owned(), types.into());
            }
        }
        Some(config)
    }
}

fn millis(duration: Duration) -> Value {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .into()
}

impl From<HttpTarget> for Target {
    fn from(mut options: HttpTarget) -> Self {
        if options.egress.is_some() {
            // Its fields are final now: key its endpoint state by its identity.
            let fingerprint = crate::Fingerprint::of(|state| options.identity(state));
            let short = &fingerprint.to_string()[..12];
            options.endpoint = format!("{} #{short}", options.endpoint).into();
        }
        let adapter = if options.signing.is_some() {
            crate::adapters::name::WEBHOOK
        } else {
            crate::adapters::name::HTTP
        };
        Target::new(adapter, options)
    }
}

/// A webhook target that still needs its secret: [`Webhook::secret`] (Standard Webhooks)
/// or [`Webhook::jido_secret`] makes it an [`HttpTarget`] that signs every request.
#[derive(Debug, Clone)]
#[must_use = "a webhook needs a secret: call `.secret(..)` or `.jido_secret(..)`"]
pub struct Webhook(HttpTarget);

impl Webhook {
    /// A webhook target for `url`, waiting for its secret.
    ///
    /// # Errors
    ///
    /// As [`HttpTarget::new`].
    pub fn new(url: &str) -> Result<Self, TargetError> {
        HttpTarget::new(url).map(Self)
    }

    /// Signs with [Standard Webhooks](https://www.standardwebhooks.com/); `secret` is
    /// `whsec_` followed by base64.
    ///
    /// # Errors
    ///
    /// A malformed secret (the error does not repeat it).
    pub fn secret(self, secret: &str) -> Result<HttpTarget, TargetError> {
        Ok(self.0.signed(WebhookSecret::standard(secret)?))
    }

    /// Signs with the `jido_signal`-compatible scheme (hex HMAC-SHA256 of
    /// `timestamp.body`).
    ///
    /// # Errors
    ///
    /// An empty secret.
    pub fn jido_secret(self, secret: &str) -> Result<HttpTarget, TargetError> {
        Ok(self.0.signed(WebhookSecret::jido(secret)?))
    }

    /// Signs with [Standard Webhooks](https://www.standardwebhooks.com/) `v1a`
    /// (Ed25519); `key` is `whsk_` followed by the base64 of the 32-byte seed.
    /// Receivers verify with the public key and never hold the secret.
    ///
    /// # Errors
    ///
    /// A malformed key (the error does not repeat it).
    pub fn signing_key(self, key: &str) -> Result<HttpTarget, TargetError> {
        Ok(self.0.signed(WebhookSecret::ed25519(key)?))
    }

    /// Signs with Standard Webhooks through `signer`, which holds the key (a KMS, an
    /// HSM): Herald never sees it.
    pub fn signer(self, signer: impl Signer) -> HttpTarget {
        let mut target = self.0;
        target.signing = Some(Signing::new(Vec::new(), vec![Arc::new(signer)]));
        target
    }

    /// Signs with an already parsed secret.
    pub fn signed(self, secret: WebhookSecret) -> HttpTarget {
        self.0.signed(secret)
    }
}
