//! Herald's `verify` accepts both schemes' signatures and rejects a tampered body, a wrong
//! secret and a timestamp outside the tolerance.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herald_core::http::{DEFAULT_TOLERANCE, VerifyError, WebhookSecret, verify_at};

const BODY: &[u8] = include_bytes!("../../../../vectors/jido-body.json");
const SW_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
const SW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn jido_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("X-Webhook-Timestamp", "1764158400"),
        (
            "x-webhook-signature",
            "3709b35110ec7b0e675b921d6e297984389773810a184fb230114dc46c94b44f",
        ),
    ]
}

fn standard_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
        ("webhook-timestamp", "1649367553"),
        (
            "webhook-signature",
            "v1,bm9wZQ== v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ]
}

#[test]
fn both_vectors_verify() {
    let jido = WebhookSecret::jido("mysecret").unwrap();
    verify_at(
        &jido_headers(),
        BODY,
        &jido,
        DEFAULT_TOLERANCE,
        at(1_764_158_400),
    )
    .unwrap();
    let standard = WebhookSecret::standard(SW_SECRET).unwrap();
    verify_at(
        &standard_headers(),
        SW_BODY,
        &standard,
        DEFAULT_TOLERANCE,
        at(1_649_367_553 + 299),
    )
    .unwrap();
}

#[test]
fn a_tampered_body_is_rejected() {
    let jido = WebhookSecret::jido("mysecret").unwrap();
    let mut tampered = BODY.to_vec();
    tampered[60] ^= 1;
    assert_eq!(
        verify_at(
            &jido_headers(),
            &tampered,
            &jido,
            DEFAULT_TOLERANCE,
            at(1_764_158_400)
        ),
        Err(VerifyError::SignatureMismatch)
    );
    let standard = WebhookSecret::standard(SW_SECRET).unwrap();
    assert_eq!(
        verify_at(
            &standard_headers(),
            b"{}",
            &standard,
            DEFAULT_TOLERANCE,
            at(1_649_367_553)
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn a_wrong_secret_is_rejected() {
    let wrong = WebhookSecret::jido("notmysecret").unwrap();
    assert_eq!(
        verify_at(
            &jido_headers(),
            BODY,
            &wrong,
            DEFAULT_TOLERANCE,
            at(1_764_158_400)
        ),
        Err(VerifyError::SignatureMismatch)
    );
    let wrong = WebhookSecret::standard("whsec_AAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
    assert_eq!(
        verify_at(
            &standard_headers(),
            SW_BODY,
            &wrong,
            DEFAULT_TOLERANCE,
            at(1_649_367_553)
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn timestamps_outside_the_tolerance_are_rejected_both_ways() {
    let jido = WebhookSecret::jido("mysecret").unwrap();
    for now in [1_764_158_400 + 301, 1_764_158_400 - 301] {
        assert_eq!(
            verify_at(&jido_headers(), BODY, &jido, DEFAULT_TOLERANCE, at(now)),
            Err(VerifyError::OutsideTolerance {
                skew: Duration::from_secs(301)
            })
        );
    }
    verify_at(
        &jido_headers(),
        BODY,
        &jido,
        Duration::from_secs(3600),
        at(1_764_158_400 + 3000),
    )
    .unwrap();
}

#[test]
fn missing_and_malformed_headers_are_named() {
    let jido = WebhookSecret::jido("mysecret").unwrap();
    let now = at(1_764_158_400);
    assert_eq!(
        verify_at(&jido_headers()[..1], BODY, &jido, DEFAULT_TOLERANCE, now),
        Err(VerifyError::MissingHeader {
            name: "x-webhook-signature"
        })
    );
    let bad_time = vec![
        ("x-webhook-timestamp", "soon"),
        ("x-webhook-signature", "00"),
    ];
    assert_eq!(
        verify_at(&bad_time, BODY, &jido, DEFAULT_TOLERANCE, now),
        Err(VerifyError::InvalidTimestamp)
    );
    let bad_hex = vec![
        ("x-webhook-timestamp", "1764158400"),
        ("x-webhook-signature", "zz"),
    ];
    assert_eq!(
        verify_at(&bad_hex, BODY, &jido, DEFAULT_TOLERANCE, now),
        Err(VerifyError::SignatureMismatch)
    );
    let error = VerifyError::MissingHeader { name: "webhook-id" }.to_string();
    assert_eq!(error, "webhook header `webhook-id` is missing");
}

#[test]
fn hostile_timestamps_are_errors_never_panics() {
    let jido = WebhookSecret::jido("mysecret").unwrap();
    let standard = WebhookSecret::standard(SW_SECRET).unwrap();
    let now = at(1_764_158_400);
    for stamp in [
        "18446744073709551615", // u64::MAX: past what a SystemTime can hold
        "9223372036854775808",  // i64::MAX + 1
        "9223372036854775807",
        "18446744073709551616", // does not fit a u64
        "-1",
        "0",
        "",
        "1e9",
        "0x10",
    ] {
        for (secret, headers) in [
            (
                &jido,
                vec![
                    ("x-webhook-timestamp", stamp),
                    ("x-webhook-signature", "00"),
                ],
            ),
            (
                &standard,
                vec![
                    ("webhook-id", "msg_1"),
                    ("webhook-timestamp", stamp),
                    ("webhook-signature", "v1,AAAA"),
                ],
            ),
        ] {
            let result = verify_at(&headers, BODY, secret, DEFAULT_TOLERANCE, now);
            assert!(
                matches!(
                    result,
                    Err(VerifyError::InvalidTimestamp | VerifyError::OutsideTolerance { .. })
                ),
                "{stamp:?}: {result:?}"
            );
        }
        // Even the widest tolerance cannot turn an overflow into a panic.
        let headers = vec![
            ("x-webhook-timestamp", stamp),
            ("x-webhook-signature", "00"),
        ];
        let _ = verify_at(&headers, BODY, &jido, Duration::MAX, now);
        let _ = verify_at(&headers, BODY, &jido, DEFAULT_TOLERANCE, UNIX_EPOCH);
    }
}
