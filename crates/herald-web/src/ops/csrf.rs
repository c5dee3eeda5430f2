//! Keeping the operations' actions to their own page: a same-origin check on every
//! `POST`, and a token the page's forms carry.

use actix_web::HttpRequest;
use actix_web::http::header::{HOST, ORIGIN};

/// The token the page's forms carry: random per [`Operations`](super::Operations), so a
/// page on another origin (which cannot read ours) cannot forge a form.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Token(String);

impl Token {
    pub(super) fn new() -> Self {
        Self(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the token, compared in constant time.
    pub(super) fn matches(&self, given: &str) -> bool {
        let (ours, given) = (self.0.as_bytes(), given.as_bytes());
        ours.len() == given.len()
            && ours
                .iter()
                .zip(given)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Whether a state-changing request comes from our own origin, as far as its headers
/// tell: a browser's `Sec-Fetch-Site` must be `same-origin` (or `none`: typed by the
/// user), and an `Origin` must name the `Host` the request went to. A client that sends
/// neither (curl, a script) passes: it carries no victim's cookies.
pub(super) fn same_origin(req: &HttpRequest) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match header(ORIGIN.as_str()) {
        None => true,
        Some(origin) => {
            let host = header(HOST.as_str()).or_else(|| req.uri().authority().map(|a| a.as_str()));
            let origin_host = origin
                .split_once("://")
                .map(|(_, rest)| rest.trim_end_matches('/'));
            matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn tokens_match_only_themselves() {
        let token = Token::new();
        assert!(token.matches(token.as_str()));
        assert!(!token.matches(""));
        assert!(!token.matches(&Token::new().0));
        assert_eq!(format!("{token:?}"), "Token(..)");
    }

    #[test]
    fn another_origin_is_refused() {
        let req = |headers: &[(&str, &str)]| {
            let mut req = TestRequest::post().insert_header(("host", "ops.local:8080"));
            for header in headers {
                req = req.insert_header(*header);
            }
            req.to_http_request()
        };
        assert!(same_origin(&req(&[])));
        assert!(same_origin(&req(&[("origin", "http://ops.local:8080")])));
        assert!(same_origin(&req(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&req(&[("origin", "http://evil.example")])));
        assert!(!same_origin(&req(&[("origin", "null")])));
        assert!(!same_origin(&req(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&req(&[("sec-fetch-site", "same-site")])));
    }
}
