//! The address ranges a public-only policy refuses, and why.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Host names of cloud metadata services (their addresses are in [`classify`]).
pub(super) const METADATA_NAMES: [&str; 6] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.internal",
];

/// Why an address is not public unicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7: allowed by `allow_private`.
    Private,
    Loopback,
    LinkLocal,
    Metadata,
    Unspecified,
    Multicast,
    Broadcast,
    Documentation,
    Benchmarking,
    Reserved,
}

impl Refusal {
    pub(super) fn rule(self) -> &'static str {
        match self {
            Self::Private => "a private address",
            Self::Loopback => "a loopback address",
            Self::LinkLocal => "a link-local address",
            Self::Metadata => "a cloud metadata address",
            Self::Unspecified => "an unspecified address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "a broadcast address",
            Self::Documentation => "a documentation address",
            Self::Benchmarking => "a benchmarking address",
            Self::Reserved => "a reserved address",
        }
    }
}

/// Why `ip` is not a public unicast address; `None` when it is.
pub(super) fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, d] = ip.octets();
    Some(match (a, b, c) {
        _ if [a, b, c, d] == [169, 254, 169, 254] || [a, b, c, d] == [100, 100, 100, 200] => {
            Refusal::Metadata
        }
        (0, ..) if ip.is_unspecified() => Refusal::Unspecified,
        // 0/8: "this network"; never a destination.
        (0, ..) => Refusal::Reserved,
        (127, ..) => Refusal::Loopback,
        (169, 254, _) => Refusal::LinkLocal,
        (10, ..) | (192, 168, _) => Refusal::Private,
        (172, 16..=31, _) => Refusal::Private,
        (100, 64..=127, _) => Refusal::Private,
        (192, 0, 0) => Refusal::Reserved,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Refusal::Documentation,
        (198, 18..=19, _) => Refusal::Benchmarking,
        // 6to4 relays (deprecated).
        (192, 88, 99) => Refusal::Reserved,
        (224..=239, ..) => Refusal::Multicast,
        _ if ip.is_broadcast() => Refusal::Broadcast,
        (240..=255, ..) => Refusal::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    let segments = ip.segments();
    let embedded = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return Some(Refusal::Metadata);
    }
    if ip.is_unspecified() {
        return Some(Refusal::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Refusal::Loopback);
    }
    Some(match segments {
        // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address decides.
        [0, 0, 0, 0, 0, 0xffff, high, low] => return classify_v4(embedded(high, low)),
        // IPv4-compatible (::a.b.c.d, deprecated): never a destination.
        [0, 0, 0, 0, 0, 0, _, _] => Refusal::Reserved,
        // NAT64 (64:ff9b::a.b.c.d): the IPv4 address decides.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => return classify_v4(embedded(high, low)),
        // Local-use NAT64.
        [0x64, 0xff9b, 1, ..] => Refusal::Private,
        // Discard-only.
        [0x100, 0, 0, 0, ..] => Refusal::Reserved,
        // Documentation: 2001:db8::/32 and 3fff::/20.
        [0x2001, 0xdb8, ..] => Refusal::Documentation,
        [first, ..] if first & 0xfff0 == 0x3ff0 => Refusal::Documentation,
        // 2001::/23: protocol assignments (Teredo, benchmarking, ORCHID).
        [0x2001, second, ..] if second < 0x200 => Refusal::Reserved,
        // 6to4 (2002:a.b.c.d::/48): the IPv4 address decides.
        [0x2002, high, low, ..] => return classify_v4(embedded(high, low)),
        [first, ..] if first & 0xfe00 == 0xfc00 => Refusal::Private,
        [first, ..] if first & 0xffc0 == 0xfe80 => Refusal::LinkLocal,
        // Site-local (deprecated).
        [first, ..] if first & 0xffc0 == 0xfec0 => Refusal::Reserved,
        [first, ..] if first & 0xff00 == 0xff00 => Refusal::Multicast,
        // Outside 2000::/3, nothing is global unicast.
        [first, ..] if first & 0xe000 != 0x2000 => Refusal::Reserved,
        _ => return None,
    })
}
