//! Whatever a request holds, `SignalBody` answers a signal or a `SignalBodyError` —
//! never a panic — and its message never repeats the input.

use actix_web::ResponseError as _;
use actix_web::test::TestRequest;
use herald_web::SignalBody;
use proptest::prelude::*;

/// Text that marks the input: no error message may contain it.
const MARK: &str = "zqxj";

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        None,
        Some(herald_signal::STRUCTURED),
        Some(herald_signal::BATCH),
        Some("application/json"),
        Some("text/plain; charset=utf-8"),
        Some("application/cloudevents+json; charset=utf-8"),
    ])
}

proptest! {
    #[test]
    fn any_body_and_headers_answer_without_panic_or_echo(
        body in prop::collection::vec(any::<u8>(), 0..512),
        json in "[{}\\[\\]\":,a-z0-9 ]{0,200}",
        use_json in any::<bool>(),
        content_type in content_type(),
        binary in any::<bool>(),
        attribute in "[a-z%0-9 ]{0,20}",
    ) {
        let mut request = TestRequest::post();
        if let Some(content_type) = content_type {
            request = request.insert_header(("content-type", content_type));
        }
        if binary {
            request = request
                .insert_header(("ce-specversion", "1.0"))
                .insert_header(("ce-id", format!("{MARK}{attribute}")))
                .insert_header(("ce-source", format!("/{attribute}")))
                .insert_header(("ce-type", format!("{MARK}.{attribute}")));
        }
        let request = request.to_http_request();
        let mut input = if use_json { json.into_bytes() } else { body };
        input.extend_from_slice(MARK.as_bytes());
        if let Err(error) = SignalBody::from_bytes(&request, &input) {
            let message = error.to_string();
            prop_assert!(!message.contains(MARK), "{message}");
            let status = error.status_code().as_u16();
            prop_assert!(matches!(status, 400 | 413 | 415), "{status}");
        }
    }
}
