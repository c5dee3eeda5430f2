//! Any headers and body as a binary-mode message (the HTTP and NATS bindings' reader):
//! reading never panics, and whatever reads writes headers and a body that read back
//! to the same signal. Most inputs carry the required attributes, so that the fuzzer
//! reaches past them.
#![no_main]

use arbitrary::Arbitrary;
use herald_signal::Signal;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    bare: bool,
    id: String,
    source: String,
    ty: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let mut headers: Vec<(String, String)> = Vec::new();
    if !input.bare {
        headers.push(("ce-specversion".into(), "1.0".into()));
        headers.push(("ce-id".into(), input.id));
        headers.push(("ce-source".into(), input.source));
        headers.push(("ce-type".into(), input.ty));
    }
    headers.extend(input.headers);
    let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let Ok(signal) = Signal::from_binary(pairs, &input.body) else {
        return;
    };
    let headers = signal.binary_headers();
    let body = signal.binary_body().map(|(_, body)| body).unwrap_or_default();
    let again = Signal::from_binary(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), &body)
        .expect("a signal read from binary mode reads back");
    assert_eq!(again, signal);
});
