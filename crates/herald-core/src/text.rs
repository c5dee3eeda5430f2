//! User-supplied text on its way into logs, spans and errors: control and invisible
//! format characters are shown escaped, never emitted, so no value can forge a line or
//! hide what it says.

use std::fmt;

/// Unicode's format characters (general category `Cf`, Unicode 15): invisible, and
/// able to reorder or hide text (U+202E, U+200B, U+FEFF …).
const FORMAT: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is a control (`Cc`) or format (`Cf`) character.
pub(crate) fn is_hidden(c: char) -> bool {
    c.is_control() || FORMAT.iter().any(|(low, high)| (*low..=*high).contains(&c))
}

/// Writes text with every control and format character escaped (`\n`, `\u{202e}`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(is_hidden) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(f, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_shown_escaped() {
        let text = Escaped("a\nb\r\0c\u{202E}d\u{200B}e\u{FEFF}f\tg é").to_string();
        assert_eq!(text, "a\\nb\\r\\u{0}c\\u{202e}d\\u{200b}e\\u{feff}f\\tg é");
        assert!(!text.chars().any(is_hidden));
    }
}
