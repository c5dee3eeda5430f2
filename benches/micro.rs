//! Criterion micro-benchmarks for the pieces whose regressions matter: signal JSON,
//! bus pattern matching, webhook signatures.
//!
//! ```sh
//! cargo bench --bench micro
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use herald::http::WebhookSecret;
use herald::{Pattern, PatternSet, Signal};
use serde_json::json;

fn signal() -> Signal {
    Signal::builder("user.profile.updated")
        .source("/users")
        .subject("user/42")
        .extension("tenant", "acme")
        .data(
            json!({"id": 42, "name": "Ada Lovelace", "roles": ["admin", "author"], "active": true}),
        )
        .build()
        .expect("valid signal")
}

fn signal_json(c: &mut Criterion) {
    let signal = signal();
    let text = signal.to_json();
    c.bench_function("signal_encode", |b| {
        b.iter(|| black_box(&signal).to_json_vec())
    });
    c.bench_function("signal_decode", |b| {
        b.iter(|| Signal::from_json(black_box(&text)).expect("valid"))
    });
}

fn bus_matching(c: &mut Criterion) {
    // 10,000 subscriptions: exact types, one-segment and multi-segment wildcards.
    let mut set = PatternSet::new();
    for i in 0..10_000u32 {
        let pattern = match i % 4 {
            0 => format!("service{}.entity{}.created", i % 97, i),
            1 => format!("service{}.*.updated", i % 97),
            2 => format!("service{}.entity{}.**", i % 97, i),
            _ => format!("**.event{i}"),
        };
        set.insert(&Pattern::parse(&pattern).expect("valid pattern"), i);
    }
    c.bench_function("bus_match_10k_subscriptions", |b| {
        b.iter(|| set.matches(black_box("service7.entity1234.updated")))
    });
}

fn signatures(c: &mut Criterion) {
    let body = signal().to_json_vec();
    let standard =
        WebhookSecret::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
    let jido = WebhookSecret::jido("jido-shared-secret").expect("valid");
    c.bench_function("sign_standard_webhooks", |b| {
        b.iter(|| standard.signature(black_box("msg_1"), 1_700_000_000, black_box(&body)))
    });
    c.bench_function("sign_jido", |b| {
        b.iter(|| jido.signature(black_box("msg_1"), 1_700_000_000, black_box(&body)))
    });
}

criterion_group!(benches, signal_json, bus_matching, signatures);
criterion_main!(benches);
