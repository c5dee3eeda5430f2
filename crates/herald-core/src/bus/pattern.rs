//! Signal type patterns and the trie that matches them.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Why a pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern is empty, or has an empty segment (`a..b`, `.a`, `a.`).
    #[error("pattern {pattern:?} has an empty segment")]
    EmptySegment {
        /// The rejected pattern.
        pattern: String,
    },
    /// `*` or `**` is part of a segment (`a*`), not the whole of it.
    #[error(
        "pattern {pattern:?} has a wildcard inside a segment; `*` and `**` must be whole segments"
    )]
    PartialWildcard {
        /// The rejected pattern.
        pattern: String,
    },
    /// `**.**`: two multi-segment wildcards in a row.
    #[error("pattern {pattern:?} has `**` twice in a row")]
    RepeatedMany {
        /// The rejected pattern.
        pattern: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Exact(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: zero or more segments.
    Many,
}

/// A pattern over signal types, by dot-separated segments: a literal segment matches
/// itself, `*` matches exactly one segment, `**` matches zero or more.
///
/// ```
/// use herald_core::Pattern;
///
/// let audit: Pattern = "audit.**".parse()?;
/// assert!(audit.matches("audit"));
/// assert!(audit.matches("audit.user.login"));
///
/// let updated: Pattern = "user.*.updated".parse()?;
/// assert!(updated.matches("user.42.updated"));
/// assert!(!updated.matches("user.a.b.updated"));
/// # Ok::<(), herald_core::PatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    text: String,
    segments: Vec<Segment>,
}

impl Pattern {
    /// Parses a pattern.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] for empty segments, wildcards inside a segment, or `**.**`.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let pattern = || text.to_owned();
        let mut segments = Vec::new();
        for part in text.split('.') {
            let segment = match part {
                "" => return Err(PatternError::EmptySegment { pattern: pattern() }),
                "*" => Segment::One,
                "**" => Segment::Many,
                _ if part.contains('*') => {
                    return Err(PatternError::PartialWildcard { pattern: pattern() });
                }
                _ => Segment::Exact(part.to_owned()),
            };
            if segment == Segment::Many && segments.last() == Some(&Segment::Many) {
                return Err(PatternError::RepeatedMany { pattern: pattern() });
            }
            segments.push(segment);
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the signal type `ty` matches. Linear in the type's length for any
    /// pattern: the pattern is run as a small automaton over the type's segments, one
    /// set of live positions per segment, never by backtracking.
    pub fn matches(&self, ty: &str) -> bool {
        let segments = &self.segments;
        // live[i]: the first i segments of the pattern have matched the type so far.
        let mut live = vec![false; segments.len() + 1];
        let mut next = live.clone();
        live[0] = true;
        close_over_many(segments, &mut live);
        for part in ty.split('.') {
            next.fill(false);
            for (i, segment) in segments.iter().enumerate() {
                if !live[i] {
                    continue;
                }
                match segment {
                    // `**` takes this segment and stays.
                    Segment::Many => next[i] = true,
                    Segment::One => next[i + 1] = true,
                    Segment::Exact(exact) => next[i + 1] |= exact == part,
                }
            }
            close_over_many(segments, &mut next);
            std::mem::swap(&mut live, &mut next);
            if !live.contains(&true) {
                return false;
            }
        }
        live[segments.len()]
    }
}

/// A `**` may also take no segment: a live position before one makes the position
/// after it live too.
fn close_over_many(segments: &[Segment], live: &mut [bool]) {
    for (i, segment) in segments.iter().enumerate() {
        if live[i] && *segment == Segment::Many {
            live[i + 1] = true;
        }
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, PatternError> {
        Self::parse(text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A set of patterns, each with a value, matched together: a trie by segment, so that
/// matching a type walks its segments instead of testing every pattern. The [`Bus`]
/// routes with one.
///
/// [`Bus`]: crate::Bus
///
/// ```
/// use herald_core::{Pattern, PatternSet};
///
/// let mut set = PatternSet::new();
/// set.insert(&Pattern::parse("audit.**")?, 1);
/// set.insert(&Pattern::parse("user.*.updated")?, 2);
/// set.insert(&Pattern::parse("**")?, 3);
/// assert_eq!(set.matches("audit.login"), [1, 3]);
/// assert!(set.remove(&Pattern::parse("**")?, 3));
/// assert_eq!(set.matches("user.7.updated"), [2]);
/// # Ok::<(), herald_core::PatternError>(())
/// ```
#[derive(Debug)]
pub struct PatternSet<T> {
    root: Node<T>,
}

impl<T> Default for PatternSet<T> {
    fn default() -> Self {
        Self {
            root: Node::default(),
        }
    }
}

#[derive(Debug)]
struct Node<T> {
    exact: HashMap<String, Node<T>>,
    one: Option<Box<Node<T>>>,
    /// The node after a `**`.
    many: Option<Box<Node<T>>>,
    /// Whether this node is the one after a `**`, which takes any number of segments.
    absorbs: bool,
    values: Vec<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            exact: HashMap::new(),
            one: None,
            many: None,
            absorbs: false,
            values: Vec::new(),
        }
    }
}

impl<T: Copy + Ord> PatternSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` under `pattern`.
    pub fn insert(&mut self, pattern: &Pattern, value: T) {
        let mut node = &mut self.root;
        for segment in &pattern.segments {
            node = match segment {
                Segment::Exact(exact) => node.exact.entry(exact.clone()).or_default(),
                Segment::One => node.one.get_or_insert_with(Default::default),
                Segment::Many => node.many.get_or_insert_with(|| {
                    Box::new(Node {
                        absorbs: true,
                        ..Node::default()
                    })
                }),
            };
        }
        node.values.push(value);
    }

    /// Removes `value` from under `pattern`; returns whether it was there. Nodes left
    /// empty are pruned.
    pub fn remove(&mut self, pattern: &Pattern, value: T) -> bool {
        remove_from(&mut self.root, &pattern.segments, value)
    }

    /// Every value whose pattern matches the type `ty`, sorted, each once.
    ///
    /// Linear in the type's length: the trie is run as an automaton over the type's
    /// segments, keeping the set of live nodes (each at most once) rather than
    /// backtracking, so no pattern can make a type expensive to match. Each step costs
    /// at most the number of live nodes, which the trie's size bounds.
    pub fn matches(&self, ty: &str) -> Vec<T> {
        let mut live: Vec<&Node<T>> = Vec::new();
        let mut seen: HashSet<*const Node<T>> = HashSet::new();
        enter(&self.root, &mut live, &mut seen);
        let mut next = Vec::new();
        for part in ty.split('.') {
            seen.clear();
            for node in &live {
                if node.absorbs {
                    enter(node, &mut next, &mut seen);
                }
                if let Some(child) = node.exact.get(part) {
                    enter(child, &mut next, &mut seen);
                }
                if let Some(one) = &node.one {
                    enter(one, &mut next, &mut seen);
                }
            }
            std::mem::swap(&mut live, &mut next);
            next.clear();
            if live.is_empty() {
                return Vec::new();
            }
        }
        let mut found: Vec<T> = live
            .iter()
            .flat_map(|node| node.values.iter().copied())
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// Makes `node` live (once), and with it the nodes its `**` edges reach taking no
/// segment.
fn enter<'a, T>(
    mut node: &'a Node<T>,
    live: &mut Vec<&'a Node<T>>,
    seen: &mut HashSet<*const Node<T>>,
) {
    loop {
        if !seen.insert(node as *const Node<T>) {
            return;
        }
        live.push(node);
        match &node.many {
            Some(many) => node = many,
            None => return,
        }
    }
}

fn remove_from<T: PartialEq>(node: &mut Node<T>, segments: &[Segment], value: T) -> bool {
    let Some((segment, rest)) = segments.split_first() else {
        let before = node.values.len();
        node.values.retain(|v| *v != value);
        return node.values.len() < before;
    };
    let (removed, empty) = match segment {
        Segment::Exact(exact) => match node.exact.get_mut(exact) {
            None => return false,
            Some(child) => (remove_from(child, rest, value), child.is_empty()),
        },
        Segment::One | Segment::Many => {
            let slot = if *segment == Segment::One {
                &mut node.one
            } else {
                &mut node.many
            };
            match slot {
                None => return false,
                Some(child) => (remove_from(child, rest, value), child.is_empty()),
            }
        }
    };
    if empty {
        match segment {
            Segment::Exact(exact) => {
                node.exact.remove(exact);
            }
            Segment::One => node.one = None,
            Segment::Many => node.many = None,
        }
    }
    removed
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.values.is_empty() && self.exact.is_empty() && self.one.is_none() && self.many.is_none()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    #[test]
    fn the_three_kinds_of_segment() {
        assert!(p("user.created").matches("user.created"));
        assert!(!p("user.created").matches("user.created.v2"));
        assert!(p("user.*").matches("user.created"));
        assert!(!p("user.*").matches("user"));
        assert!(!p("user.*").matches("user.a.b"));
        for ty in ["audit", "audit.user", "audit.user.login"] {
            assert!(p("audit.**").matches(ty), "{ty}");
        }
        assert!(!p("audit.**").matches("auditor"));
        assert!(p("user.*.updated").matches("user.a.updated"));
        assert!(!p("user.*.updated").matches("user.a.b.updated"));
        assert!(p("**.failed").matches("failed"));
        assert!(p("**.failed").matches("job.42.failed"));
        assert!(p("**").matches("anything.at.all"));
    }

    #[test]
    fn invalid_patterns_are_rejected() {
        for bad in ["", ".", "a.", ".a", "a..b"] {
            assert!(
                matches!(Pattern::parse(bad), Err(PatternError::EmptySegment { .. })),
                "{bad:?}"
            );
        }
        for bad in ["a*", "a.b*", "***", "*a.b"] {
            assert!(
                matches!(
                    Pattern::parse(bad),
                    Err(PatternError::PartialWildcard { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Pattern::parse("a.**.**"),
            Err(PatternError::RepeatedMany { .. })
        ));
        assert!(Pattern::parse("**.*.**").is_ok());
    }

    #[test]
    fn trie_insert_match_remove() {
        let mut trie = PatternSet::new();
        let patterns = ["audit.**", "user.*.updated", "user.created", "**"];
        for (id, pattern) in patterns.iter().enumerate() {
            trie.insert(&p(pattern), id);
        }
        assert_eq!(trie.matches("user.created"), [2, 3]);
        assert_eq!(trie.matches("audit"), [0, 3]);
        assert_eq!(trie.matches("user.7.updated"), [1, 3]);
        assert!(trie.remove(&p("**"), 3));
        assert!(!trie.remove(&p("**"), 3));
        assert_eq!(trie.matches("user.created"), [2]);
        for (id, pattern) in patterns.iter().enumerate().take(3) {
            assert!(trie.remove(&p(pattern), id));
        }
        assert!(trie.root.is_empty(), "empty nodes are pruned");
    }

    /// The plainest possible matcher, by regular-expression-like recursion on text.
    fn reference(pattern: &str, ty: &str) -> bool {
        fn go(pattern: &[&str], ty: &[&str]) -> bool {
            match (pattern.first(), ty.first()) {
                (None, None) => true,
                (Some(&"**"), _) => {
                    go(&pattern[1..], ty) || (!ty.is_empty() && go(pattern, &ty[1..]))
                }
                (Some(&"*"), Some(_)) => go(&pattern[1..], &ty[1..]),
                (Some(p), Some(t)) => p == t && go(&pattern[1..], &ty[1..]),
                _ => false,
            }
        }
        let pattern: Vec<&str> = pattern.split('.').collect();
        let ty: Vec<&str> = ty.split('.').collect();
        go(&pattern, &ty)
    }

    fn pattern_text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof!["a", "b", "c", Just("*".to_owned()), Just("**".to_owned())],
            1..5,
        )
        .prop_map(|segments| segments.join("."))
        .prop_filter("valid", |text| Pattern::parse(text).is_ok())
    }

    fn type_text() -> impl Strategy<Value = String> {
        prop::collection::vec(prop_oneof!["a", "b", "c"], 1..6)
            .prop_map(|segments| segments.join("."))
    }

    proptest! {
        #[test]
        fn trie_and_pattern_agree_with_the_reference(
            patterns in prop::collection::vec(pattern_text(), 1..12),
            types in prop::collection::vec(type_text(), 1..12),
        ) {
            let mut trie = PatternSet::new();
            for (id, text) in patterns.iter().enumerate() {
                trie.insert(&p(text), id);
            }
            for ty in &types {
                let expected: Vec<usize> = patterns
                    .iter()
                    .enumerate()
                    .filter(|(_, text)| reference(text, ty))
                    .map(|(id, _)| id)
                    .collect();
                prop_assert_eq!(trie.matches(ty), expected.clone(), "type {}", ty);
                for (id, text) in patterns.iter().enumerate() {
                    prop_assert_eq!(p(text).matches(ty), expected.contains(&id));
                }
            }
        }
    }
}
