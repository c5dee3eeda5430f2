//! NATS subjects: checked before publishing, derived from signal types, and made from
//! actor names.

use std::fmt::Write;

use herald_core::TargetError;

/// The longest subject Herald publishes to, in bytes.
pub const MAX_SUBJECT_LEN: usize = 1024;

/// Checks a subject to publish to: tokens separated by `.`, none empty, no whitespace
/// or control characters, no wildcards (`*`, `>`).
///
/// ```
/// use herald_nats::check_subject;
///
/// assert!(check_subject("orders.created").is_ok());
/// assert_eq!(
///     check_subject("orders.*").unwrap_err().to_string(),
///     "field `subject` must not hold a wildcard (`*` or `>`) when publishing"
/// );
/// ```
///
/// # Errors
///
/// A [`TargetError`] for field `subject` saying which rule it breaks.
pub fn check_subject(subject: &str) -> Result<(), TargetError> {
    check(subject, false)
}

/// Checks a subject to subscribe to: as [`check_subject`], but `*` may stand for one
/// whole token and `>` for the last one and all after it.
///
/// # Errors
///
/// A [`TargetError`] for field `subject` saying which rule it breaks.
pub fn check_filter(subject: &str) -> Result<(), TargetError> {
    check(subject, true)
}

fn check(subject: &str, wildcards: bool) -> Result<(), TargetError> {
    let invalid = |rule: &str| TargetError::invalid_field("subject", rule);
    if subject.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if subject.len() > MAX_SUBJECT_LEN {
        return Err(invalid("must be at most 1024 bytes"));
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not hold whitespace or control characters"));
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    if tokens.iter().any(|token| token.is_empty()) {
        return Err(invalid(
            "must not have empty tokens (`..`, or a `.` at either end)",
        ));
    }
    for (index, token) in tokens.iter().enumerate() {
        let wild = token.contains('*') || token.contains('>');
        if !wild {
            continue;
        }
        if !wildcards {
            return Err(invalid(
                "must not hold a wildcard (`*` or `>`) when publishing",
            ));
        }
        let whole = *token == "*" || (*token == ">" && index == tokens.len() - 1);
        if !whole {
            return Err(invalid(
                "may use `*` only as a whole token and `>` only as the last token",
            ));
        }
    }
    Ok(())
}

/// The subject a signal of type `ty` is published to by default: its type, each
/// character a subject cannot hold (whitespace, control characters, `*`, `>`) replaced
/// by `_`, and empty tokens by `_`. `None` when that still is no subject (too long).
pub(crate) fn from_type(ty: &str) -> Option<String> {
    let cleaned: String = ty
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '*' || c == '>' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let subject = cleaned
        .split('.')
        .map(|token| if token.is_empty() { "_" } else { token })
        .collect::<Vec<_>>()
        .join(".");
    check_subject(&subject).ok().map(|()| subject)
}

/// The subject of a named actor under `prefix`: the name, with every byte outside
/// `[A-Za-z0-9_-]` written as `%XX`, so that a name with dots or wildcards stays one
/// token. Names are checked by the registry rules first (no whitespace or control
/// characters, at most 255 bytes).
pub(crate) fn for_name(prefix: &str, name: &str) -> String {
    let mut subject = String::with_capacity(prefix.len() + 1 + name.len());
    subject.push_str(prefix);
    subject.push('.');
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            subject.push(char::from(byte));
        } else {
            let _ = write!(subject, "%{byte:02X}");
        }
    }
    subject
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_subjects_are_checked() {
        for bad in ["", "a..b", ".a", "a.", "a b", "a.*", "a.>", "a\tb", "a\nb"] {
            assert!(check_subject(bad).is_err(), "{bad:?}");
        }
        assert!(check_subject("a.b-c.d_e").is_ok());
        assert!(check_filter("a.*.c").is_ok());
        assert!(check_filter("a.>").is_ok());
        assert!(check_filter("a.>.c").is_err());
        assert!(check_filter("a.b*").is_err());
    }

    #[test]
    fn types_and_names_become_subjects() {
        assert_eq!(from_type("order.created").as_deref(), Some("order.created"));
        assert_eq!(from_type("a b..c*").as_deref(), Some("a_b._.c_"));
        assert_eq!(
            for_name("herald.named", "audit.log*"),
            "herald.named.audit%2Elog%2A"
        );
        assert!(check_subject(&for_name("herald.named", "ünï code")).is_ok());
    }
}
