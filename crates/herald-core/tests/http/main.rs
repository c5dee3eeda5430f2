//! HTTP and webhook delivery against real receivers on 127.0.0.1 (actix-web), and
//! interop with `cloudevents-sdk`, `standardwebhooks` and Python's libraries. One test
//! binary: the HTTP stack links once.

mod support;

mod asymmetric_signatures_and_key_rotation;
mod egress_refuses_what_tenants_may_not_reach;
mod endpoint_stats;
mod interop;
mod ordered_by_key;
mod private_ca_and_mutual_tls;
mod properties;
mod python_interop;
mod receivers_that_reset_and_restart;
mod receivers_that_stall;
mod resilience_over_http;
mod retries_and_errors;
mod target_validation;
mod tenants_stay_apart;
mod tls_is_always_verified;
mod verify_rejects_forgeries;
