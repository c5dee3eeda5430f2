//! The operations page: server-rendered HTML, no script, reloading itself; its actions
//! are forms that post back with the page's token.

use std::fmt::Write as _;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use herald_core::StatsSnapshot;
use herald_core::resilience::{DeadLetterFilter, DeadLetterPage, QueueStatsSnapshot};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::Operations;

/// The dead letters the page lists.
const LISTED: usize = 100;

/// The page's look: inline, so it needs nothing from anywhere else.
const STYLE: &str = include_str!("page.css");

/// No script at all, styles only inline, forms only to this origin, never framed.
const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                      frame-ancestors 'none'; base-uri 'none'";

pub(super) async fn page(req: HttpRequest, ops: web::Data<Operations>) -> HttpResponse {
    let stats = match ops.snapshot().await {
        Ok(stats) => stats,
        Err(failure) => return failure.response(),
    };
    let letters = match ops.letters(DeadLetterFilter::all(), LISTED).await {
        Ok(letters) => letters,
        Err(failure) => return failure.response(),
    };
    let done =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|query| query.get("done").cloned());
    let base = req.path().trim_end_matches('/');
    let html = render(&ops, base, &stats, letters.as_ref(), done.as_deref());
    HttpResponse::Ok()
        .insert_header(ContentType::html())
        .insert_header((CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header(("referrer-policy", "same-origin"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(html)
}

/// `text` escaped for HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped for a URL's query.
pub(super) fn query_escape(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// A form posting `action` with the page's token and `fields`, as one button.
fn form(base: &str, token: &str, action: &str, fields: &[(&str, &str)], label: &str) -> String {
    let mut html = format!(
        r#"<form method="post" action="{base}/actions/{action}"><input type="hidden" name="csrf" value="{token}">"#
    );
    for (name, value) in fields {
        let _ = write!(
            html,
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        );
    }
    let _ = write!(
        html,
        r#"<button type="submit" data-action="{action}">{label}</button></form>"#
    );
    html
}

fn render(
    ops: &Operations,
    base: &str,
    stats: &StatsSnapshot,
    letters: Option<&(DeadLetterPage, QueueStatsSnapshot)>,
    done: Option<&str>,
) -> String {
    let base = escape(base);
    let token = ops.token.as_str();
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{refresh}"><title>Herald operations</title><style>{STYLE}</style></head><body><h1>Herald operations</h1>"#,
        refresh = ops.refresh.as_secs(),
    );
    if let Some(done) = done {
        let done: String = done.chars().take(200).collect();
        let _ = write!(html, r#"<p class="done" id="done">{}</p>"#, escape(&done));
    }

    // The dispatcher.
    let _ = write!(
        html,
        r#"<section id="dispatcher"><h2>Dispatcher</h2><table><tr><th>dispatched</th><th>delivered</th><th>failed</th><th>in flight</th><th>refused</th><th>dead-lettered</th><th>dead letters failed</th><th>duplicates</th><th>lanes blocked</th></tr><tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table></section>"#,
        stats.dispatched,
        stats.delivered,
        stats.failed,
        stats.in_flight,
        stats.refused,
        stats.dead_lettered,
        stats.dead_letters_failed,
        stats.duplicates,
        stats.lanes_blocked,
    );

    // Endpoints.
    html.push_str(r#"<section id="endpoints"><h2>Endpoints</h2>"#);
    if stats.endpoints.is_empty() {
        html.push_str("<p>No endpoint kept yet.</p>");
    } else {
        html.push_str("<table><tr><th>endpoint</th><th>circuit</th><th>failures in a row</th><th>succeeded</th><th>failed</th><th>short-circuited</th><th>rate-limited</th><th>in flight</th><th>limit</th><th>recent latency</th><th>paused</th><th></th></tr>");
        for (key, endpoint) in &stats.endpoints {
            let circuit = endpoint.circuit.map_or("-", |state| state.name());
            let held = stats.paused.get(key);
            let latency = endpoint.latency.map_or("-".to_owned(), |latency| {
                format!("{:.1} ms", latency.recent.as_secs_f64() * 1_000.0)
            });
            let limit = endpoint
                .concurrency_limit
                .map_or("-".to_owned(), |limit| limit.to_string());
            let paused = held.map_or("no".to_owned(), |held| format!("yes ({held} held)"));
            let fields = [("endpoint", key.as_str())];
            let mut actions = match held {
                Some(_) => form(&base, token, "resume", &fields, "Resume"),
                None => form(&base, token, "pause", &fields, "Pause"),
            };
            if endpoint
                .circuit
                .is_some_and(|state| state.name() != "closed")
            {
                actions.push_str(&form(&base, token, "reset", &fields, "Reset circuit"));
            }
            let _ = write!(
                html,
                r#"<tr class="endpoint" data-circuit="{circuit}"><td class="key">{}</td><td class="circuit {circuit}">{circuit}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{limit}</td><td>{latency}</td><td>{paused}</td><td class="actions">{actions}</td></tr>"#,
                escape(key),
                endpoint.consecutive_failures,
                endpoint.succeeded,
                endpoint.failed,
                endpoint.short_circuited,
                endpoint.rate_limited,
                endpoint.in_flight,
            );
        }
        html.push_str("</table>");
    }
    let others: Vec<_> = (stats.paused.iter())
        .filter(|(key, _)| !stats.endpoints.contains_key(*key))
        .collect();
    if !others.is_empty() {
        html.push_str(
            "<h3>Paused</h3><table><tr><th>endpoint or target</th><th>held</th><th></th></tr>",
        );
        for (key, held) in others {
            let field = if key.starts_with("target:") {
                "target"
            } else {
                "endpoint"
            };
            let value = key.strip_prefix("target:").unwrap_or(key);
            let resume = form(&base, token, "resume", &[(field, value)], "Resume");
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{held}</td><td>{resume}</td></tr>",
                escape(key)
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</section>");

    // Dead letters.
    html.push_str(r#"<section id="dead-letters"><h2>Dead letters</h2>"#);
    match letters {
        None => html.push_str("<p>No dead-letter queue is shown here.</p>"),
        Some((page, queue)) => {
            let _ = write!(
                html,
                r#"<p><span id="dead-letter-count">{}</span> held of {} (dropped when full: {}).</p>"#,
                queue.len, queue.capacity, queue.dropped
            );
            if !page.letters.is_empty() {
                html.push_str(&form(
                    &base,
                    token,
                    "redrive",
                    &[("all", "true")],
                    "Redrive all",
                ));
                html.push_str("<table><tr><th>signal</th><th>type</th><th>target</th><th>failure</th><th>status</th><th>attempts</th><th>message</th><th></th></tr>");
                for letter in &page.letters {
                    let signal = letter.original();
                    let status = letter.status().map_or("-".to_owned(), |s| s.to_string());
                    let redrive = form(&base, token, "redrive", &[("id", signal.id())], "Redrive");
                    let _ = write!(
                        html,
                        r#"<tr class="dead-letter"><td class="id">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{status}</td><td>{}</td><td>{}</td><td>{redrive}</td></tr>"#,
                        escape(signal.id()),
                        escape(signal.ty()),
                        escape(letter.target()),
                        escape(letter.kind()),
                        letter.attempts(),
                        escape(letter.message()),
                    );
                }
                html.push_str("</table>");
                if page.matched > page.letters.len() {
                    let _ = write!(
                        html,
                        "<p>The oldest {} of {} are listed.</p>",
                        page.letters.len(),
                        page.matched
                    );
                }
            }
        }
    }
    html.push_str("</section>");

    // Bridges and consumers.
    for (id, title, rows) in [
        ("bridges", "Bridges", ops.sources.bridges()),
        ("consumers", "Durable consumers", ops.sources.consumers()),
    ] {
        if rows.is_empty() {
            continue;
        }
        let _ = write!(html, r#"<section id="{id}"><h2>{title}</h2><table>"#);
        for row in rows {
            html.push_str("<tr>");
            if let Value::Object(fields) = row {
                for (name, value) in fields {
                    let value = match value {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    let _ = write!(html, "<td>{}: {}</td>", escape(&name), escape(&value));
                }
            }
            html.push_str("</tr>");
        }
        html.push_str("</table></section>");
    }
    html.push_str("</body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let html = form(
            "/ops",
            "t",
            "pause",
            &[("endpoint", "\"><script>")],
            "Pause",
        );
        assert!(!html.contains("<script>"), "{html}");
    }
}
