//! Any bytes as a signal or a batch: parsing never panics, and whatever parses writes
//! JSON that parses back to the same signal.
#![no_main]

use herald_signal::Signal;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(signal) = Signal::from_json_slice(data) {
        let again = Signal::from_json(&signal.to_json()).expect("a parsed signal re-parses");
        assert_eq!(again, signal);
    }
    if let Ok(batch) = Signal::batch_from_json_slice(data) {
        let again = Signal::batch_from_json(&Signal::batch_to_json(&batch))
            .expect("a parsed batch re-parses");
        assert_eq!(again, batch);
    }
    let _ = Signal::from_json_slice_limited(data, 64);
});
