//! Targets described as data: JSON and TOML, with errors that name the field.

mod support;

use support::within;

use herald_core::{LogLevel, LoggerTarget, Target, TargetError};
use serde_json::json;

fn parse(value: serde_json::Value) -> Result<Target, TargetError> {
    Target::from_config(value)
}

#[test]
fn builtin_configs_parse_into_typed_targets() {
    let target = parse(
        json!({"adapter": "logger", "level": "warn", "format": "line", "include_data": false}),
    )
    .unwrap();
    assert_eq!(target.adapter(), "logger");
    assert_eq!(
        target.options_as::<LoggerTarget>(),
        Some(
            &Target::logger()
                .level(LogLevel::Warn)
                .format(herald_core::LogFormat::Line)
                .include_data(false)
        )
    );
    assert_eq!(parse(json!({"adapter": "noop"})).unwrap().adapter(), "noop");
    assert_eq!(
        parse(json!({"adapter": "console", "max_data_bytes": 10}))
            .unwrap()
            .adapter(),
        "console"
    );
}

#[test]
fn other_adapters_are_kept_for_their_adapter_to_validate() {
    let target = parse(json!({"adapter": "slack", "channel": "#ops"})).unwrap();
    assert_eq!(target.adapter(), "slack");
    assert_eq!(target.describe().to_string(), "slack{channel}");
}

#[test]
fn bad_configs_name_the_field_and_the_rule() {
    let cases = [
        (
            json!({"adapter": "logger", "level": "loud"}),
            "field `level` must be one of debug, info, warn, error",
        ),
        (
            json!({"adapter": "logger", "include_data": "yes"}),
            "field `include_data` must be true or false",
        ),
        (
            json!({"adapter": "logger", "max_data_bytes": -1}),
            "field `max_data_bytes` must be a whole number",
        ),
        (
            json!({"adapter": "logger", "lvl": "warn"}),
            "unknown field `lvl`; expected one of: level, format, include_data, max_data_bytes",
        ),
        (json!({"adapter": "noop", "x": 1}), "unknown field `x`"),
        (
            json!({"adapter": "pid"}),
            "adapter `pid` cannot be configured from data",
        ),
        (
            json!({"level": "warn"}),
            "a target config must be an object with a string field `adapter`",
        ),
        (json!({"adapter": 7}), "a target config must be an object"),
        (json!(["logger"]), "a target config must be an object"),
        (json!(null), "a target config must be an object"),
    ];
    for (config, expected) in cases {
        let error = parse(config.clone()).unwrap_err().to_string();
        assert!(
            error.contains(expected),
            "{config}: {error:?} lacks {expected:?}"
        );
    }
}

#[test]
fn targets_deserialize_from_json_and_toml_with_serde() {
    let targets: Vec<Target> = serde_json::from_str(
        r#"[{"adapter": "logger", "level": "error"}, {"adapter": "noop"}, {"adapter": "audit", "x": 1}]"#,
    )
    .unwrap();
    assert_eq!(
        targets.iter().map(Target::adapter).collect::<Vec<_>>(),
        ["logger", "noop", "audit"]
    );

    #[derive(Debug, serde::Deserialize)]
    struct Config {
        targets: Vec<Target>,
    }
    let config: Config = toml::from_str(
        r#"
        [[targets]]
        adapter = "logger"
        level = "debug"

        [[targets]]
        adapter = "console"
        include_data = false
        "#,
    )
    .unwrap();
    assert_eq!(config.targets.len(), 2);

    let error =
        serde_json::from_str::<Vec<Target>>(r#"[{"adapter": "logger", "level": 3}]"#).unwrap_err();
    assert!(
        error.to_string().contains("field `level` must be a string"),
        "{error}"
    );
    let error = toml::from_str::<Config>("[[targets]]\nadapter = \"logger\"\nformat = \"xml\"\n")
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("field `format` must be one of structured, line"),
        "{error}"
    );
}

#[test]
fn a_list_in_a_serde_config_names_each_bad_target_and_a_misspelled_field() {
    #[derive(Debug, serde::Deserialize)]
    struct Config {
        #[serde(deserialize_with = "Target::deserialize_list")]
        targets: Vec<Target>,
    }
    let text = "[[targets]]\nadapter = \"noop\"\n\n[[targets]]\nadapter = \"named\"\nnme = \"audit\"\n\n[[targets]]\nadapter = \"logger\"\nlevel = 3\n";
    let error = toml::from_str::<Config>(text).unwrap_err().to_string();
    assert!(
        error.contains("target 1: missing field `name`; found `nme` instead"),
        "{error}"
    );
    assert!(
        error.contains("target 2: field `level` must be a string"),
        "{error}"
    );
    let good = "[[targets]]\nadapter = \"noop\"\n";
    assert_eq!(toml::from_str::<Config>(good).unwrap().targets.len(), 1);

    // A field in another case, or one letter off, is named; one far from it is not.
    let near = |config| parse(config).unwrap_err().to_string();
    assert!(near(json!({"adapter": "pubsub", "Topic": "t"})).contains("found `Topic`"));
    assert!(near(json!({"adapter": "bus", "bsu": "main"})).contains("found `bsu`"));
    let far = near(json!({"adapter": "named", "label": "x"}));
    assert_eq!(far, "missing field `name`");
    let nested = near(json!({"adapter": "noop", "resilience": {"rate_limit": {"per_secnd": 5}}}));
    assert!(
        nested.contains("found `resilience.rate_limit.per_secnd`"),
        "{nested}"
    );
}

#[test]
fn target_debug_is_the_redacted_description() {
    let target = Target::custom(
        "vault",
        json!({"url": "https://u:pw@x/?token=q", "api_token": "s3cr3t"}),
    );
    let debug = format!("{target:?}");
    for secret in ["s3cr3t", "pw", "token=q"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    // Field names only: no value of an unchecked config is ever shown.
    assert_eq!(target.describe().to_string(), "vault{api_token, url}");
}

#[test]
fn durations_have_upper_bounds() {
    for adapter in ["named", "pubsub"] {
        let config = serde_json::json!({
            "adapter": adapter, "name": "a", "topic": "t", "timeout_ms": u64::MAX,
        });
        let mut config = config;
        // Each adapter takes only its own field.
        let unused = if adapter == "named" { "topic" } else { "name" };
        config.as_object_mut().unwrap().remove(unused);
        let error = Target::from_config(config).unwrap_err().to_string();
        assert_eq!(error, "field `timeout_ms` must be at most 3600000 ms");
    }
    let target = Target::named("a")
        .unwrap()
        .timeout(std::time::Duration::MAX);
    assert_eq!(target.timeout_value(), std::time::Duration::from_secs(3600));
    // An overall deadline of any length never panics.
    let _ = herald_core::Dispatch::new(
        herald_signal::Signal::new("t", serde_json::json!({})).unwrap(),
        [Target::noop()],
    )
    .deadline(std::time::Duration::MAX);
}

mod as_data {
    use herald_core::{Secrets, Target};
    use serde_json::json;

    fn every_kind() -> Vec<Target> {
        vec![
            Target::logger()
                .level(herald_core::LogLevel::Warn)
                .format(herald_core::LogFormat::Line)
                .max_data_bytes(100)
                .into(),
            Target::console().include_data(false).into(),
            Target::noop(),
            Target::named("audit").unwrap().sync().into(),
            Target::pubsub("orders")
                .unwrap()
                .best_effort()
                .require_subscribers(true)
                .into(),
            Target::bus("main").unwrap().into(),
            Target::http("https://example.com/p?token=QUERYSECRET")
                .unwrap()
                .method(herald_core::http::HttpMethod::Put)
                .header("x-tenant", "HEADERSECRET")
                .unwrap()
                .body(herald_core::http::BodyMode::Binary)
                .into(),
            Target::webhook("https://example.com/h")
                .unwrap()
                .secret("whsec_c2VjcmV0LWtleS1ieXRlcw==")
                .unwrap()
                .into(),
            Target::webhook("https://example.com/j")
                .unwrap()
                .jido_secret("JIDOSECRET")
                .unwrap()
                .jido_headers("x-sig", "x-ts", "x-ev")
                .unwrap()
                .event_type("user.created", "created")
                .unwrap()
                .into(),
            Target::custom(
                "slack",
                json!({"channel": "#ops", "api_token": "TOKENSECRET"}),
            ),
        ]
    }

    #[test]
    fn every_kind_round_trips_through_json_and_toml_with_its_secrets() {
        for target in every_kind() {
            let config = target.to_config(Secrets::Include).unwrap();
            let from_json: Target =
                serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
            assert_eq!(from_json.to_config(Secrets::Include).unwrap(), config);
            let text = toml::to_string(&config).unwrap();
            let from_toml: Target = toml::from_str(&text).unwrap();
            assert_eq!(
                from_toml.to_config(Secrets::Include).unwrap(),
                config,
                "{text}"
            );
            assert_eq!(
                from_toml.describe().to_string(),
                target.describe().to_string()
            );
        }
    }

    #[test]
    fn serialize_redacts_every_secret() {
        for target in every_kind() {
            let json = serde_json::to_string(&target).unwrap();
            let toml = toml::to_string(&target).unwrap();
            for secret in [
                "QUERYSECRET",
                "HEADERSECRET",
                "c2VjcmV0LWtleS1ieXRlcw",
                "JIDOSECRET",
                "TOKENSECRET",
            ] {
                assert!(!json.contains(secret), "{json}");
                assert!(!toml.contains(secret), "{toml}");
            }
        }
    }

    #[actix_rt::test]
    async fn a_pid_target_is_not_data() {
        let (inbox, _) = super::support::Inbox::start(super::support::Answer::Accept);
        let target: Target = Target::pid(inbox.recipient()).into();
        assert!(target.to_config(Secrets::Include).is_err());
        assert!(serde_json::to_string(&target).is_err());
    }
}

#[actix_rt::test]
async fn a_list_is_checked_with_indices_before_the_first_signal() {
    use herald_core::{CheckTargets, Dispatcher};
    let probe = support::Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    let problems = Target::list_from_config(json!([
        {"adapter": "logger"},
        {"adapter": "logger", "level": "loud"},
        {"adapter": "named"},
    ]))
    .unwrap_err();
    let found: Vec<(usize, String)> = problems
        .iter()
        .map(|p| (p.index, p.error.to_string()))
        .collect();
    assert_eq!(
        found,
        [
            (
                1,
                "field `level` must be one of debug, info, warn, error".to_owned()
            ),
            (2, "missing field `name`".to_owned()),
        ]
    );

    let targets = Target::list_from_config(json!([
        {"adapter": "logger"},
        {"adapter": "lgoger"},
        {"adapter": "probe", "delay_ms": "soon"},
        {"adapter": "probe", "delay_ms": 1},
    ]))
    .unwrap();
    let problems = within("check", dispatcher.send(CheckTargets::new(targets)))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].index, 1);
    assert!(
        problems[0]
            .to_string()
            .starts_with("target 1: unknown adapter `lgoger`"),
        "{}",
        problems[0]
    );
    assert_eq!(problems[1].index, 2);
    assert!(problems[1].error.to_string().contains("delay_ms"));
    // Checking delivers nothing.
    assert_eq!(support::Probe::get(&probe.deliveries), 0);
}

#[cfg(feature = "http")]
#[actix_rt::test]
async fn every_dispatcher_accepts_http_and_webhook_targets() {
    use herald_core::{CheckTargets, Dispatcher};
    let dispatcher = Dispatcher::builder().start();
    let targets = [
        Target::http("http://127.0.0.1:9/h").unwrap(),
        Target::webhook("https://example.com/h")
            .unwrap()
            .secret("whsec_c2VjcmV0LWtleS1ieXRlcw==")
            .unwrap(),
    ];
    within("check", dispatcher.send(CheckTargets::new(targets)))
        .await
        .unwrap()
        .unwrap();
}

#[cfg(not(feature = "http"))]
#[actix_rt::test]
async fn without_the_http_feature_the_error_names_it() {
    use herald_core::{CheckTargets, Dispatcher};
    let dispatcher = Dispatcher::builder().start();
    let target = Target::webhook("https://example.com/h")
        .unwrap()
        .secret("whsec_c2VjcmV0LWtleS1ieXRlcw==")
        .unwrap();
    let problems = within("check", dispatcher.send(CheckTargets::new([target])))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        problems[0].error.to_string().contains("`http` feature"),
        "{}",
        problems[0]
    );
}
