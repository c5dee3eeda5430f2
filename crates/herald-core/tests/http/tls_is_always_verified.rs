//! An HTTPS receiver with a self-signed certificate fails with a TLS error: there is no
//! way to turn verification off.

use std::sync::Arc;

use crate::support::{deliver, dispatcher, signal};
use actix_web::{App, HttpResponse, HttpServer, web};
use herald_core::http::RetryPolicy;
use herald_core::{ErrorKind, Target};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

#[actix_rt::test]
async fn a_self_signed_certificate_is_a_tls_error() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let server = HttpServer::new(|| App::new().default_service(web::to(HttpResponse::Ok)))
        .workers(1)
        .bind_rustls_0_23(("127.0.0.1", 0), config)
        .unwrap();
    let port = server.addrs()[0].port();
    actix_rt::spawn(server.run());

    let target = Target::http(&format!("https://localhost:{port}/hook"))
        .unwrap()
        .retry(
            RetryPolicy::new(
                3,
                std::time::Duration::from_millis(1),
                std::time::Duration::from_millis(2),
            )
            .unwrap(),
        );
    let error = deliver(&dispatcher(), signal(), target).await.unwrap_err();
    let failure = &error.first().error;
    assert!(matches!(failure.kind(), ErrorKind::Tls(_)), "{failure:?}");
    assert!(!failure.retryable(), "a bad certificate is not retried");
    assert_eq!(failure.attempts(), 1);
}
