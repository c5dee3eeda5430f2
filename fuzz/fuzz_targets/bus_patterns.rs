//! Bus patterns against a naive reference matcher: the trie and `Pattern::matches` agree
//! with it, and no pattern makes a type slow to match (libFuzzer's `-timeout` bounds
//! each input; the reference only runs on small inputs).
#![no_main]

use arbitrary::Arbitrary;
use herald_core::{Pattern, PatternSet};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    patterns: Vec<Vec<u8>>,
    types: Vec<Vec<u8>>,
    long_type: u16,
}

/// A segment from a small alphabet, so that patterns and types meet.
fn segment(byte: u8) -> &'static str {
    ["a", "b", "c", "*", "**"][byte as usize % 5]
}

/// The plainest matcher: recursion over segments (exponential, so small inputs only).
fn reference(pattern: &[&str], ty: &[&str]) -> bool {
    match (pattern.first(), ty.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            reference(&pattern[1..], ty) || (!ty.is_empty() && reference(pattern, &ty[1..]))
        }
        (Some(&"*"), Some(_)) => reference(&pattern[1..], &ty[1..]),
        (Some(p), Some(t)) => p == t && reference(&pattern[1..], &ty[1..]),
        _ => false,
    }
}

fuzz_target!(|input: Input| {
    let mut set = PatternSet::new();
    let mut parsed = Vec::new();
    for (id, bytes) in input.patterns.iter().take(16).enumerate() {
        let text: Vec<&str> = bytes.iter().take(12).map(|b| segment(*b)).collect();
        let text = text.join(".");
        if let Ok(pattern) = Pattern::parse(&text) {
            set.insert(&pattern, id);
            parsed.push((id, text, pattern));
        }
    }
    for bytes in input.types.iter().take(8) {
        let ty: Vec<&str> = bytes.iter().take(10).map(|b| ["a", "b", "c"][*b as usize % 3]).collect();
        let ty_text = ty.join(".");
        // What the matchers see: the text's segments ("" is one empty segment).
        let ty: Vec<&str> = ty_text.split('.').collect();
        let expected: Vec<usize> = parsed
            .iter()
            .filter(|(_, text, _)| reference(&text.split('.').collect::<Vec<_>>(), &ty))
            .map(|(id, _, _)| *id)
            .collect();
        assert_eq!(set.matches(&ty_text), expected, "type {ty_text}");
        for (id, _, pattern) in &parsed {
            assert_eq!(pattern.matches(&ty_text), expected.contains(id));
        }
    }
    // A long type against every pattern: linear, so well inside the per-input timeout.
    let long = vec!["a"; usize::from(input.long_type % 20_000) + 1].join(".");
    let _ = set.matches(&long);
    for (_, _, pattern) in &parsed {
        let _ = pattern.matches(&long);
    }
});
