//! A nats-server that requires TLS with client certificates from a CA made in the
//! test: Herald connects only when it trusts the CA and presents a certificate.

mod support;

use herald_nats::NatsOptions;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use support::within;

#[actix_rt::test]
async fn a_client_certificate_is_presented_when_the_server_requires_one() {
    let dir = std::env::temp_dir().join(format!("herald-nats-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let issue = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = issue("localhost");
    let (client_cert, client_key) = issue("herald");
    let ca_file = write("ca.pem", ca.pem());
    let server_cert = write("server.pem", server_cert);
    let server_key = write("server-key.pem", server_key);
    let client_cert = write("client.pem", client_cert);
    let client_key = write("client-key.pem", client_key);

    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let args = [
        "--tlsverify".to_owned(),
        "--tlscert".to_owned(),
        path(&server_cert),
        "--tlskey".to_owned(),
        path(&server_key),
        "--tlscacert".to_owned(),
        path(&ca_file),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server =
        herald_testkit::nats::NatsServer::start_with(&args).unwrap_or_else(|e| panic!("{e}"));
    let url = server.url().replace("nats://", "tls://");

    let without = NatsOptions::new([url.clone()])
        .root_certificates(&ca_file)
        .max_reconnects(Some(1))
        .connect()
        .await;
    assert!(without.is_err(), "no client certificate, no connection");

    let options = NatsOptions::new([url])
        .root_certificates(&ca_file)
        .client_certificate(&client_cert, &client_key)
        .require_tls(true);
    assert!(!format!("{options:?}").contains("PRIVATE KEY"));
    let client = within("connect", options.connect())
        .await
        .expect("mutual TLS");
    within("flush", client.flush())
        .await
        .expect("the server took a round trip");
    let _ = std::fs::remove_dir_all(&dir);
}
