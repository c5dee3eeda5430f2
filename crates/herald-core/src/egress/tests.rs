use super::*;

/// A URL's host as the URL parser leaves it.
fn host_of(url: &str) -> url::Host<String> {
    url::Url::parse(url).unwrap().host().unwrap().to_owned()
}

fn check_url(policy: &Egress, url: &str) -> Result<(), Denied> {
    let host = host_of(url);
    let host = match &host {
        url::Host::Domain(name) => url::Host::Domain(name.as_str()),
        url::Host::Ipv4(ip) => url::Host::Ipv4(*ip),
        url::Host::Ipv6(ip) => url::Host::Ipv6(*ip),
    };
    policy.check_host(&host)
}

#[test]
fn every_non_public_form_is_refused_by_default() {
    let refused = [
        ("http://127.0.0.1/", "a loopback address"),
        ("http://127.1/", "a loopback address"),
        ("http://2130706433/", "a loopback address"),
        ("http://0x7f000001/", "a loopback address"),
        ("http://017700000001/", "a loopback address"),
        ("http://localhost/", "names the local host"),
        ("http://LOCALHOST./", "names the local host"),
        ("http://api.localhost/", "names the local host"),
        ("http://[::1]/", "a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address"),
        ("http://[::127.0.0.1]/", "a reserved address"),
        ("http://[64:ff9b::7f00:1]/", "a loopback address"),
        ("http://[2002:7f00:1::]/", "a loopback address"),
        ("http://169.254.169.254/", "a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "a cloud metadata address"),
        ("http://100.100.100.200/", "a cloud metadata address"),
        (
            "http://metadata.google.internal/",
            "is a cloud metadata service",
        ),
        ("http://169.254.1.1/", "a link-local address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://10.0.0.1/", "a private address"),
        ("http://172.16.0.1/", "a private address"),
        ("http://172.31.255.255/", "a private address"),
        ("http://192.168.1.1/", "a private address"),
        ("http://100.64.0.1/", "a private address"),
        ("http://[fd12:3456::1]/", "a private address"),
        ("http://[::ffff:10.0.0.1]/", "a private address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://0.1.2.3/", "a reserved address"),
        ("http://[::]/", "an unspecified address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://[ff02::1]/", "a multicast address"),
        ("http://255.255.255.255/", "a broadcast address"),
        ("http://240.0.0.1/", "a reserved address"),
        ("http://192.0.2.1/", "a documentation address"),
        ("http://198.51.100.1/", "a documentation address"),
        ("http://203.0.113.1/", "a documentation address"),
        ("http://[2001:db8::1]/", "a documentation address"),
        ("http://198.18.0.1/", "a benchmarking address"),
        ("http://[2001::1]/", "a reserved address"),
    ];
    let policy = Egress::default();
    for (url, rule) in refused {
        let denied = check_url(&policy, url).expect_err(url);
        assert_eq!(denied.rule(), rule, "{url}");
    }
}

#[test]
fn public_addresses_and_names_pass() {
    let policy = Egress::default();
    for url in [
        "https://example.com/hook",
        "http://93.184.215.14/",
        "http://8.8.8.8/",
        "http://172.32.0.1/",
        "http://100.128.0.1/",
        "http://[2606:4700::1111]/",
        "http://[::ffff:8.8.8.8]/",
        "http://[64:ff9b::808:808]/",
    ] {
        assert!(check_url(&policy, url).is_ok(), "{url}");
    }
}

#[test]
fn widening_is_explicit_and_narrow() {
    let policy = Egress::default().allow("127.0.0.2").unwrap();
    assert!(policy.check_ip("127.0.0.2".parse().unwrap()).is_ok());
    assert!(policy.check_ip("127.0.0.1".parse().unwrap()).is_err());

    let private = Egress::default().allow_private();
    assert!(private.check_ip("10.9.8.7".parse().unwrap()).is_ok());
    assert!(private.check_ip("fd12::1".parse().unwrap()).is_ok());
    for still in [
        "127.0.0.1",
        "169.254.169.254",
        "fd00:ec2::254",
        "169.254.0.1",
    ] {
        assert!(private.check_ip(still.parse().unwrap()).is_err(), "{still}");
    }

    let host = Egress::default().allow_host("Internal.Service.").unwrap();
    assert!(host.check_name("internal.service").is_ok());
    assert!(host.trusts_name("INTERNAL.service"));
    assert!(!host.trusts_name("other.service"));

    assert_eq!(
        Egress::default().allow("10.0.0.0/33"),
        Err(EgressError::Cidr)
    );
    assert_eq!(Egress::default().allow("nope"), Err(EgressError::Cidr));
    assert_eq!(Egress::default().allow_host("a b"), Err(EgressError::Host));
    assert!(
        Egress::unrestricted()
            .check_ip("127.0.0.1".parse().unwrap())
            .is_ok()
    );
}

#[test]
fn a_resolved_refusal_does_not_show_the_address() {
    let denied = Egress::default()
        .check_ip("10.1.2.3".parse().unwrap())
        .unwrap_err()
        .resolved("internal.example");
    assert_eq!(
        denied.to_string(),
        "internal.example resolves to a private address"
    );
}

#[test]
fn policies_compare_by_content() {
    let a = Egress::default().allow("10.0.0.0/8").unwrap();
    let b = Egress::default().allow("10.0.0.0/8").unwrap();
    assert_eq!(a, b);
    assert_ne!(a, Egress::default());
}
