//! The API's handlers, and the actions the page's forms and the JSON API share.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::rt::time::timeout;
use actix_web::{HttpRequest, HttpResponse, web};
use herald_core::resilience::{
    DeadLetterFilter, DeadLetterPage, ListDeadLetters, OpenCircuit, PauseEndpoint, QueueStats,
    QueueStatsSnapshot, Redrive, ResetCircuit, ResumeEndpoint,
};
use herald_core::{Stats, StatsSnapshot};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ANSWER_WITHIN, Operations, json as view};

/// How long a redrive is waited for before the API answers that it goes on.
const REDRIVE_WITHIN: Duration = Duration::from_secs(30);

/// The most dead letters one page lists.
const MAX_LIMIT: usize = 1_000;

/// A request the operations could not carry out, answered as `{"error": ...}`.
#[derive(Debug)]
pub(super) struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn gone(what: &str) -> Self {
        let message = format!("the {what} did not answer");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    pub(super) fn response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(json!({ "error": self.message }))
    }
}

type Answer = Result<Value, Failure>;

fn respond(answer: Answer) -> HttpResponse {
    match answer {
        Ok(value) => HttpResponse::Ok().json(value),
        Err(failure) => failure.response(),
    }
}

impl Operations {
    /// Sends `message` to the dispatcher and waits a bounded time for its answer.
    async fn ask<M>(&self, message: M) -> Result<M::Result, Failure>
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
        herald_core::Dispatcher: actix::Handler<M>,
    {
        match timeout(ANSWER_WITHIN, self.dispatcher.send(message)).await {
            Ok(Ok(answer)) => Ok(answer),
            _ => Err(Failure::gone("dispatcher")),
        }
    }

    pub(super) async fn snapshot(&self) -> Result<StatsSnapshot, Failure> {
        self.ask(Stats).await
    }

    /// A page of dead letters and the queue's counts; `None` without a queue.
    pub(super) async fn letters(
        &self,
        filter: DeadLetterFilter,
        limit: usize,
    ) -> Result<Option<(DeadLetterPage, QueueStatsSnapshot)>, Failure> {
        let Some((queue, _)) = &self.dead_letters else {
            return Ok(None);
        };
        let limit = limit.min(MAX_LIMIT);
        let page = timeout(ANSWER_WITHIN, queue.send(ListDeadLetters { filter, limit }));
        let counts = timeout(ANSWER_WITHIN, queue.send(QueueStats));
        match (page.await, counts.await) {
            (Ok(Ok(page)), Ok(Ok(counts))) => Ok(Some((page, counts))),
            _ => Err(Failure::gone("dead-letter queue")),
        }
    }

    /// Carries out `action` on an endpoint, given as data (`endpoint`, or `target`
    /// for pause and resume, as `PauseEndpoint::from_config` reads them).
    pub(super) async fn endpoint_action(&self, action: &str, input: &Value) -> Answer {
        let endpoint = || {
            input
                .get("endpoint")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Failure::bad("`endpoint` (a string) is required"))
        };
        let bad = |error: herald_core::TargetError| Failure::bad(error.to_string());
        match action {
            "pause" => {
                let pause = PauseEndpoint::from_config(input).map_err(bad)?;
                match self.ask(pause).await? {
                    Some(already) => Ok(json!({ "paused": true, "already": already })),
                    None => Err(Failure::new(
                        StatusCode::CONFLICT,
                        "too many endpoints and targets are paused",
                    )),
                }
            }
            "resume" => {
                let resume = ResumeEndpoint::from_config(input).map_err(bad)?;
                match self.ask(resume).await? {
                    Some(released) => Ok(json!({ "resumed": true, "released": released })),
                    None => Err(Failure::new(StatusCode::NOT_FOUND, "it is not paused")),
                }
            }
            "reset" => {
                let reset = ResetCircuit {
                    endpoint: endpoint()?,
                };
                match self.ask(reset).await? {
                    Some(was) => Ok(json!({ "circuit": "closed", "was": was.name() })),
                    None => Err(Failure::new(StatusCode::NOT_FOUND, "no such endpoint")),
                }
            }
            "open" => {
                let seconds = input
                    .get("seconds")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| Failure::bad("`seconds` (a whole number) is required"))?;
                let open = OpenCircuit {
                    endpoint: endpoint()?,
                    duration: Duration::from_secs(seconds).min(OpenCircuit::LONGEST),
                };
                match self.ask(open).await? {
                    Some(was) => Ok(json!({ "circuit": "open", "was": was.name() })),
                    None => Err(Failure::new(
                        StatusCode::CONFLICT,
                        "the endpoint map is full of endpoints in use",
                    )),
                }
            }
            _ => Err(Failure::new(StatusCode::NOT_FOUND, "no such action")),
        }
    }

    /// Redrives the dead letters `filter` selects.
    pub(super) async fn redrive(&self, filter: DeadLetterFilter) -> Answer {
        let Some((queue, targets)) = &self.dead_letters else {
            return Err(Failure::new(StatusCode::NOT_FOUND, "no dead-letter queue"));
        };
        let redrive = Redrive::new(self.dispatcher.clone(), targets.to_vec()).only(filter);
        match timeout(REDRIVE_WITHIN, queue.send(redrive)).await {
            Ok(Ok(report)) => Ok(json!({
                "redriven": report.redriven,
                "failed": report.failed,
                "unmatched": report.unmatched,
            })),
            Ok(Err(_)) => Err(Failure::gone("dead-letter queue")),
            Err(_) => Err(Failure::new(
                StatusCode::ACCEPTED,
                "the redrive goes on; read the dead letters again later",
            )),
        }
    }
}

/// A dead-letter filter as the API takes it, in a query or a JSON body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilterInput {
    #[serde(default)]
    ids: Vec<String>,
    id: Option<String>,
    kind: Option<String>,
    adapter: Option<String>,
    target: Option<String>,
    #[serde(rename = "type")]
    signal_type: Option<String>,
    #[serde(default)]
    all: bool,
    limit: Option<usize>,
}

impl FilterInput {
    fn filter(self) -> DeadLetterFilter {
        let mut filter = DeadLetterFilter::all();
        for id in self.ids.into_iter().chain(self.id) {
            filter = filter.id(id);
        }
        let nonempty = |text: Option<String>| text.filter(|text| !text.is_empty());
        filter.kind = nonempty(self.kind);
        filter.adapter = nonempty(self.adapter);
        filter.target = nonempty(self.target);
        filter.signal_type = nonempty(self.signal_type);
        filter
    }

    /// The filter of a redrive: it must select something, or say `all`.
    fn redrive_filter(self) -> Result<DeadLetterFilter, Failure> {
        let all = self.all;
        let filter = self.filter();
        if filter.is_all() && !all {
            return Err(Failure::bad(
                "say which dead letters to redrive (ids, kind, adapter, target, type) or `all`",
            ));
        }
        Ok(filter)
    }
}

pub(super) async fn stats(ops: web::Data<Operations>) -> HttpResponse {
    respond(ops.snapshot().await.map(|stats| view::stats(&stats)))
}

pub(super) async fn endpoints(ops: web::Data<Operations>) -> HttpResponse {
    respond(ops.snapshot().await.map(|stats| view::endpoints(&stats)))
}

pub(super) async fn endpoint_json(
    ops: web::Data<Operations>,
    action: web::Path<String>,
    input: web::Json<Value>,
) -> HttpResponse {
    respond(ops.endpoint_action(&action, &input).await)
}

pub(super) async fn dead_letters(
    ops: web::Data<Operations>,
    query: web::Query<FilterInput>,
) -> HttpResponse {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100);
    let answer = match ops.letters(query.filter(), limit).await {
        Ok(Some((page, counts))) => Ok(view::dead_letters(&page, &counts)),
        Ok(None) => Err(Failure::new(StatusCode::NOT_FOUND, "no dead-letter queue")),
        Err(failure) => Err(failure),
    };
    respond(answer)
}

pub(super) async fn redrive_json(
    ops: web::Data<Operations>,
    input: web::Json<FilterInput>,
) -> HttpResponse {
    let answer = match input.into_inner().redrive_filter() {
        Ok(filter) => ops.redrive(filter).await,
        Err(failure) => Err(failure),
    };
    respond(answer)
}

pub(super) async fn bridges(ops: web::Data<Operations>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "bridges": ops.sources.bridges() }))
}

pub(super) async fn consumers(ops: web::Data<Operations>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "consumers": ops.sources.consumers() }))
}

/// The page's forms: the same actions, with the page's token, answered by going back
/// to the page (303) with what happened in its `done` query.
pub(super) async fn form(
    req: HttpRequest,
    ops: web::Data<Operations>,
    action: web::Path<String>,
    fields: web::Form<BTreeMap<String, String>>,
) -> HttpResponse {
    let mut fields = fields.into_inner();
    let token = fields.remove("csrf").unwrap_or_default();
    if !ops.token.matches(&token) {
        return Failure::new(
            StatusCode::FORBIDDEN,
            "the form's token is missing or stale: reload the page",
        )
        .response();
    }
    let answer = match action.as_str() {
        "redrive" => {
            let input = FilterInput {
                id: fields.remove("id"),
                all: fields.get("all").is_some_and(|all| all == "true"),
                ..FilterInput::default()
            };
            match input.redrive_filter() {
                Ok(filter) => ops.redrive(filter).await,
                Err(failure) => Err(failure),
            }
        }
        action => {
            let input: serde_json::Map<String, Value> = fields
                .into_iter()
                .filter(|(name, _)| matches!(name.as_str(), "endpoint" | "target"))
                .map(|(name, value)| (name, Value::String(value)))
                .collect();
            ops.endpoint_action(action, &Value::Object(input)).await
        }
    };
    let done = match &answer {
        Ok(_) => format!("{} done", action.as_str()),
        Err(failure) => format!("{} failed: {}", action.as_str(), failure.message),
    };
    let page = page_path(&req);
    let location = format!("{page}?done={}", super::page::query_escape(&done));
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish()
}

/// The page's own path: the form's, without `/actions/...`.
fn page_path(req: &HttpRequest) -> String {
    let path = req.path();
    match path.rfind("/actions/") {
        Some(at) => format!("{}/", &path[..at]),
        None => "/".to_owned(),
    }
}
