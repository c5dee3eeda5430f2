//! HTTPS receivers behind a private CA, with and without required client certificates:
//! a CA made in the test, an actix-web receiver on 127.0.0.1, and Herald trusting the
//! CA and presenting a client certificate — per target, per dispatcher, and as data.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{signal, within};
use actix_web::{App, HttpResponse, HttpServer, web};
use herald_core::egress::Egress;
use herald_core::http::Tls;
use herald_core::{Dispatch, Dispatcher, ErrorKind, Secrets, Target};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

/// A CA, a server certificate for `localhost` and a client certificate, all PEM.
struct Pki {
    ca_pem: String,
    server: (CertificateDer<'static>, PrivateKeyDer<'static>),
    client_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["herald-client".to_owned()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server: (
            server.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        ),
        client_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// An HTTPS receiver on 127.0.0.1, requiring a client certificate from the CA when
/// `mutual`; counts the requests that reached its handler.
fn receiver(pki: &Pki, mutual: bool) -> (u16, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if mutual {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pki.ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let (cert, key) = (pki.server.0.clone(), pki.server.1.clone_key());
    let config = builder.with_single_cert(vec![cert], key).unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let counted = served.clone();
    let server = HttpServer::new(move || {
        let counted = counted.clone();
        App::new().default_service(web::to(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { HttpResponse::Ok().finish() }
        }))
    })
    .workers(1)
    .bind_rustls_0_23(("127.0.0.1", 0), config)
    .unwrap();
    let port = server.addrs()[0].port();
    actix_rt::spawn(server.run());
    (port, served)
}

async fn send(dispatcher: &actix::Addr<Dispatcher>, target: Target) -> herald_core::DispatchResult {
    within("dispatch", dispatcher.send(Dispatch::new(signal(), target)))
        .await
        .unwrap()
}

fn target(port: u16) -> herald_core::http::HttpTarget {
    Target::http(&format!("https://localhost:{port}/hook"))
        .unwrap()
        .retry(herald_core::http::RetryPolicy::none())
}

#[actix_rt::test]
async fn a_private_ca_is_trusted_only_when_given() {
    let pki = pki();
    let (port, served) = receiver(&pki, false);
    let dispatcher = Dispatcher::builder().start();
    let error = send(&dispatcher, target(port).into()).await.unwrap_err();
    assert!(
        matches!(error.first().error.kind(), ErrorKind::Tls(_)),
        "{error}"
    );

    let tls = Tls::new().root_certificates_pem(&pki.ca_pem).unwrap();
    send(&dispatcher, target(port).tls(tls.clone()).into())
        .await
        .expect("the CA is trusted for this target");
    assert_eq!(served.load(Ordering::SeqCst), 1);

    // The dispatcher's settings serve targets without their own.
    let trusting = Dispatcher::builder().tls(tls).start();
    send(&trusting, target(port).into())
        .await
        .expect("the dispatcher trusts the CA");
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

#[actix_rt::test]
async fn a_receiver_requiring_a_client_certificate_gets_one() {
    let pki = pki();
    let (port, served) = receiver(&pki, true);
    let dispatcher = Dispatcher::builder().start();
    let roots = Tls::new().root_certificates_pem(&pki.ca_pem).unwrap();
    let refused = send(&dispatcher, target(port).tls(roots.clone()).into()).await;
    assert!(refused.is_err(), "no client certificate, no request");
    assert_eq!(served.load(Ordering::SeqCst), 0);

    let identity = roots
        .client_identity_pem(&pki.client_pem, &pki.client_key_pem)
        .unwrap();
    assert!(!format!("{identity:?}").contains("PRIVATE KEY"));
    send(&dispatcher, target(port).tls(identity).into())
        .await
        .expect("mutual TLS");
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[actix_rt::test]
async fn tls_settings_read_from_data_and_written_back_without_the_key() {
    let pki = pki();
    let (port, served) = receiver(&pki, true);
    let config = json!({
        "adapter": "http",
        "url": format!("https://localhost:{port}/hook"),
        "retry": {"max_attempts": 1},
        "tls": {
            "root_certificates": pki.ca_pem,
            "client_certificate": pki.client_pem,
            "client_key": pki.client_key_pem,
        },
    });
    // `localhost` is the local host: a tenant's target could not reach it by default.
    assert!(Target::from_config(config.clone()).is_err());
    let loopback = Egress::default().allow_host("localhost").unwrap();
    let target = Target::from_config_with(config, &loopback).unwrap();
    let redacted = target.to_config(Secrets::Redact).unwrap().to_string();
    assert!(!redacted.contains("PRIVATE KEY"), "{redacted}");
    assert!(!format!("{target:?}").contains("PRIVATE KEY"));
    let dispatcher = Dispatcher::builder().start();
    send(&dispatcher, target)
        .await
        .expect("mutual TLS from data");
    assert_eq!(served.load(Ordering::SeqCst), 1);

    for (tls, field) in [
        (
            json!({"root_certificates": "nope"}),
            "tls.root_certificates",
        ),
        (
            json!({"client_certificate": pki.client_pem}),
            "tls.client_key",
        ),
        (
            json!({"client_certificate": pki.client_pem, "client_key": "nope"}),
            "tls.client_key",
        ),
    ] {
        let error = Target::from_config(json!({
            "adapter": "http", "url": "https://example.com/", "tls": tls,
        }))
        .unwrap_err();
        assert!(error.to_string().contains(field), "{error}");
    }
}
