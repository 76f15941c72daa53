//! `/v1/events`: recorded events, and `/v1/events/stream`, a live
//! Server-Sent Events feed of them.
//!
//! The stream sends each event as one SSE message: `id` is the event's
//! `seq`, `data` its JSON. With `after` (or a `Last-Event-ID` header, which
//! browsers send when they reconnect) it first replays the recorded events
//! after that seq, then continues live without gap or duplicate. A slow
//! reader that falls behind the live buffer is caught up from the database.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use warren_api_types as api;
use warren_core::{Core, EventFilter, EventRecord, MAX_EVENTS_PAGE};

use crate::convert::time_from_ms;
use crate::json::Query;
use crate::openapi::{BadRequest, Internal, RateLimited, Unauthorized};
use crate::{ApiError, AppState, convert};

/// `/events...` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(list))
        .route("/events/stream", get(stream))
}

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, stream))]
pub(crate) struct Api;

pub(crate) fn event(e: EventRecord) -> api::Event {
    api::Event {
        seq: e.seq,
        at: time_from_ms(e.at),
        sandbox_id: e.sandbox_id,
        action: e.action,
        from_state: e.from_state.map(convert::state),
        to_state: e.to_state.map(convert::state),
        actor: e.actor,
        result: if e.ok {
            api::EventResult::Ok
        } else {
            api::EventResult::Error
        },
        message: e.message,
    }
}

/// Query of `GET /v1/events`: filters and paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only events about this sandbox (its id).
    sandbox: Option<String>,
    /// Only events whose action starts with this, e.g. `sandbox.` or `key.create`.
    action: Option<String>,
    /// Only events after this `seq`, oldest first (pass the previous page's `next_cursor`);
    /// absent: the newest events.
    #[param(minimum = 0)]
    after: Option<i64>,
    /// Page size (1..=1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// List events
///
/// Recorded events, filtered. Without `after`: the newest events (and no `next_cursor`). With
/// `after`: the events after that `seq`, oldest first; follow `next_cursor` for the next page.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    operation_id = "list_events",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of events.", body = api::EventList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn list(
    State(st): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<api::EventList>, ApiError> {
    let filter = EventFilter {
        sandbox_id: q.sandbox,
        action: q.action,
        after: q.after,
        limit: q.limit,
    };
    let (items, next) = st.core.events(&filter).await?;
    Ok(axum::Json(api::EventList {
        items: items.into_iter().map(event).collect(),
        next_cursor: next.map(|s| s.to_string()),
    }))
}

/// Query of `GET /v1/events/stream`: filters and where to start.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Only events about this sandbox (its id).
    sandbox: Option<String>,
    /// Only events whose action starts with this, e.g. `sandbox.` or `key.create`.
    action: Option<String>,
    /// First replay the recorded events after this `seq`, then continue live (overrides a
    /// `Last-Event-ID` header); absent: only events from now on.
    #[param(minimum = 0)]
    after: Option<i64>,
}

/// The state of one subscriber's stream.
struct Feed {
    core: Core,
    filter: EventFilter,
    rx: broadcast::Receiver<EventRecord>,
    /// The highest seq considered so far (sent or filtered out).
    last: i64,
    /// Recorded events to send before reading the live channel again.
    backlog: VecDeque<EventRecord>,
    /// Whether the store may hold more events after `last` than the live
    /// channel will deliver (a replay, or after lagging).
    catching_up: bool,
}

impl Feed {
    async fn next(&mut self) -> Option<EventRecord> {
        loop {
            if let Some(ev) = self.backlog.pop_front() {
                self.last = ev.seq;
                return Some(ev);
            }
            if self.catching_up {
                let filter = EventFilter {
                    after: Some(self.last),
                    limit: Some(MAX_EVENTS_PAGE),
                    ..self.filter.clone()
                };
                match self.core.events(&filter).await {
                    Ok((page, next)) => {
                        self.catching_up = next.is_some();
                        self.backlog.extend(page);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.chain(), "event stream cannot catch up");
                        return None;
                    }
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(ev) if ev.seq <= self.last => {}
                Ok(ev) => {
                    self.last = ev.seq;
                    if self.filter.matches(&ev) {
                        return Some(ev);
                    }
                }
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Stream events live
///
/// Server-Sent Events, one per recorded event: `id` is the event's `seq`, `data` its JSON
/// (`Event`). With `after`, or a `Last-Event-ID` header (which browsers send when they
/// reconnect), it first replays the recorded events after that seq, then continues live without
/// gap or duplicate. Comment lines keep an idle connection open.
#[utoipa::path(
    get,
    path = "/v1/events/stream",
    tag = "events",
    operation_id = "stream_events",
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "The `seq` of the last event \
            received: resume after it (what `EventSource` sends when it reconnects). `after` \
            wins when both are given."),
    ),
    responses(
        (status = 200, description = "The events, as Server-Sent Events; each event's `data` \
            is one `Event` as JSON and its `id` the event's `seq`.",
            content((String = "text/event-stream", example = "id: 42\ndata: {\"seq\":42,\
                \"at\":\"2026-11-29T00:40:00Z\",\"sandbox_id\":\"sb-3f9k2x7m\",\
                \"action\":\"sandbox.create\",\"from_state\":null,\"to_state\":\"running\",\
                \"actor\":\"admin\",\"result\":\"ok\",\"message\":null}\n\n"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
async fn stream(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = q.after.or(resume);
    if after.is_some_and(|a| a < 0) {
        return Err(ApiError::invalid("after: must be a non-negative seq"));
    }
    // Subscribe before replaying, so nothing falls between the two.
    let feed = Feed {
        rx: st.core.subscribe_events(),
        core: st.core.clone(),
        filter: EventFilter {
            sandbox_id: q.sandbox,
            action: q.action.filter(|a| !a.is_empty()),
            after: None,
            limit: None,
        },
        last: after.unwrap_or(0),
        backlog: VecDeque::new(),
        catching_up: after.is_some(),
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let ev = feed.next().await?;
        let seq = ev.seq;
        let data = serde_json::to_string(&event(ev)).unwrap_or_default();
        Some((Ok(SseEvent::default().id(seq.to_string()).data(data)), feed))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
