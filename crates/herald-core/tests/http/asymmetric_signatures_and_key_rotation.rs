//! Standard Webhooks `v1a` (Ed25519) signatures that receivers verify with a public
//! key, key rotation on both sides (several signatures in one header; several keys at
//! verify), and signing through an application's own `Signer` (a KMS stand-in).

use std::hash::Hasher;

use crate::support::{Receiver, deliver, dispatcher, http_headers, signal};
use futures_util::future::BoxFuture;
use herald_core::http::{
    DEFAULT_TOLERANCE, SignError, Signer, VerifyError, VerifyKey, WebhookSecret, base64_standard,
    verify_keys,
};
use herald_core::{ErrorKind, Secrets, Target, TargetError};
use serde_json::json;

const NEW: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const SIGNING_KEY: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";

fn public_key() -> VerifyKey {
    let signing = WebhookSecret::ed25519(SIGNING_KEY).unwrap();
    VerifyKey::public(&VerifyKey::public_of(&signing).unwrap()).unwrap()
}

#[actix_rt::test]
async fn a_v1a_signature_verifies_with_the_public_key_alone() {
    let receiver = Receiver::start([]);
    let target = Target::webhook(&receiver.url)
        .unwrap()
        .signing_key(SIGNING_KEY)
        .unwrap();
    deliver(&dispatcher(), signal(), target).await.unwrap();
    let request = &receiver.requests()[0];
    let header = request.header("webhook-signature").unwrap();
    assert!(header.starts_with("v1a,"), "{header}");
    verify_keys(
        &request.headers,
        &request.body,
        &[public_key()],
        DEFAULT_TOLERANCE,
    )
    .unwrap();
    assert_eq!(
        verify_keys(
            &request.headers,
            b"tampered",
            &[public_key()],
            DEFAULT_TOLERANCE
        ),
        Err(VerifyError::SignatureMismatch)
    );
    // A v1 (HMAC) key does not accept a v1a signature.
    let hmac = VerifyKey::from(WebhookSecret::standard(NEW).unwrap());
    assert!(verify_keys(&request.headers, &request.body, &[hmac], DEFAULT_TOLERANCE).is_err());
}

#[actix_rt::test]
async fn during_a_rotation_every_key_signs_and_either_verifies() {
    let receiver = Receiver::start([]);
    // As data: the new key first, the old one still signing, and an Ed25519 key.
    let target = Target::from_config_with(
        json!({"adapter": "webhook", "url": receiver.url, "secret": [NEW, OLD, SIGNING_KEY]}),
        &herald_core::egress::Egress::unrestricted(),
    )
    .unwrap();
    let redacted = target.to_config(Secrets::Redact).unwrap();
    assert_eq!(
        redacted["secret"],
        json!(["[REDACTED]", "[REDACTED]", "[REDACTED]"])
    );
    let included = target.to_config(Secrets::Include).unwrap();
    assert_eq!(included["secret"], json!([NEW, OLD, SIGNING_KEY]));

    deliver(&dispatcher(), signal(), target).await.unwrap();
    let request = &receiver.requests()[0];
    let header = request.header("webhook-signature").unwrap();
    assert_eq!(header.split(' ').count(), 3, "{header}");

    // The official crate, holding only one of the secrets, accepts the request.
    for secret in [NEW, OLD] {
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(&request.body, &http_headers(request))
            .unwrap_or_else(|e| panic!("{secret}: {e}"));
    }
    // Herald's verify, with any one key among strangers.
    let stranger =
        VerifyKey::from(WebhookSecret::standard("whsec_AAAAAAAAAAAAAAAAAAAAAAAA").unwrap());
    for key in [
        VerifyKey::from(WebhookSecret::standard(OLD).unwrap()),
        public_key(),
    ] {
        verify_keys(
            &request.headers,
            &request.body,
            &[stranger.clone(), key],
            DEFAULT_TOLERANCE,
        )
        .unwrap();
    }
    assert_eq!(
        verify_keys(
            &request.headers,
            &request.body,
            &[stranger],
            DEFAULT_TOLERANCE
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

/// Signs with an Ed25519 key Herald never sees; fails when told to.
#[derive(Debug)]
struct Kms {
    key: ed25519_dalek::SigningKey,
    down: bool,
}

impl Signer for Kms {
    fn sign<'a>(&'a self, content: &'a [u8]) -> BoxFuture<'a, Result<String, SignError>> {
        Box::pin(async move {
            if self.down {
                return Err(SignError::new("kms unavailable"));
            }
            use ed25519_dalek::Signer as _;
            Ok(format!(
                "v1a,{}",
                base64_standard(&self.key.sign(content).to_bytes())
            ))
        })
    }

    fn identity(&self, state: &mut dyn Hasher) {
        state.write(self.key.verifying_key().as_bytes());
    }
}

fn kms(down: bool) -> Kms {
    Kms {
        key: ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
        down,
    }
}

#[actix_rt::test]
async fn an_applications_signer_signs_and_its_failure_sends_nothing() {
    let receiver = Receiver::start([]);
    let public = VerifyKey::Public(kms(false).key.verifying_key());
    let target = Target::webhook(&receiver.url).unwrap().signer(kms(false));
    let as_target: Target = target.clone().into();
    assert!(matches!(
        as_target.to_config(Secrets::Include),
        Err(TargetError::NotConfigurable { .. })
    ));
    deliver(&dispatcher(), signal(), target).await.unwrap();
    let request = &receiver.requests()[0];
    verify_keys(
        &request.headers,
        &request.body,
        &[public],
        DEFAULT_TOLERANCE,
    )
    .unwrap();

    // Beside a key, for a rotation from a Herald-held secret to the KMS.
    let both = Target::webhook(&receiver.url)
        .unwrap()
        .secret(OLD)
        .unwrap()
        .also_signer(kms(false))
        .unwrap();
    deliver(&dispatcher(), signal(), both).await.unwrap();
    let header = receiver.requests()[1]
        .header("webhook-signature")
        .unwrap()
        .to_owned();
    assert!(
        header.starts_with("v1,") && header.contains(" v1a,"),
        "{header}"
    );

    let failing = Target::webhook(&receiver.url).unwrap().signer(kms(true));
    let error = deliver(&dispatcher(), signal(), failing).await.unwrap_err();
    let failure = &error.first().error;
    assert!(
        matches!(failure.kind(), ErrorKind::Custom { .. }),
        "{failure}"
    );
    assert!(failure.to_string().contains("kms unavailable"));
    assert!(failure.retryable());
    assert_eq!(receiver.requests().len(), 2, "nothing sent unsigned");
}

#[test]
fn jido_targets_do_not_take_more_keys() {
    let jido = Target::webhook("https://example.com/")
        .unwrap()
        .jido_secret("s")
        .unwrap();
    assert!(
        jido.also_sign_with(WebhookSecret::standard(NEW).unwrap())
            .is_err()
    );
    let error = Target::from_config(json!({
        "adapter": "webhook", "url": "https://example.com/", "scheme": "jido", "secret": ["a", "b"],
    }))
    .unwrap_err();
    assert_eq!(error.to_string(), "field `secret` must be a string");
    assert!(WebhookSecret::ed25519("whsk_AAAA").is_err());
}
