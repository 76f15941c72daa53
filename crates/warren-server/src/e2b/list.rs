//! `GET /v2/sandboxes` (and the older `GET /sandboxes`): the sandboxes made through the E2B
//! routes, filtered by metadata, state and template, oldest first (or newest with
//! `order=desc`), in pages of `limit`; the next page's token is in the `x-next-token` header.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use warren_core::{Sandbox, SandboxFilter};

use super::error::E2bError;
use super::labels::{self, E2bState};
use super::view;
use crate::AppState;

/// Default page size.
const DEFAULT_LIMIT: usize = 100;
/// Largest page.
const MAX_LIMIT: usize = 1000;

/// What a list call asks for.
#[derive(Debug, Default, PartialEq)]
struct ListQuery {
    metadata: BTreeMap<String, String>,
    states: Vec<String>,
    template: Option<String>,
    started_after_ms: Option<i64>,
    desc: bool,
    limit: usize,
    after: Option<i64>,
}

/// Decode `%XX` escapes and `+` (as a space).
fn percent_decode(s: &str) -> Result<String, E2bError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| E2bError::bad_request(format!("bad %-escape in {s:?}")))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| E2bError::bad_request(format!("{s:?} is not UTF-8")))
}

fn parse(pairs: Vec<(String, String)>) -> Result<ListQuery, E2bError> {
    let mut q = ListQuery {
        limit: DEFAULT_LIMIT,
        ..ListQuery::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            // `k=v&k2=v2`, each side escaped once more by the SDK.
            "metadata" => {
                for kv in v.split('&').filter(|kv| !kv.is_empty()) {
                    let (mk, mv) = kv.split_once('=').unwrap_or((kv, ""));
                    q.metadata.insert(percent_decode(mk)?, percent_decode(mv)?);
                }
            }
            "state" => {
                for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if s != "running" && s != "paused" {
                        return Err(E2bError::bad_request(format!(
                            "state {s:?} is not running or paused"
                        )));
                    }
                    q.states.push(s.to_owned());
                }
            }
            "template" => q.template = Some(v),
            "startedAfter" => {
                let t =
                    time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| E2bError::bad_request(format!("startedAfter: {e}")))?;
                q.started_after_ms = Some((t.unix_timestamp_nanos() / 1_000_000) as i64);
            }
            "order" => match v.as_str() {
                "asc" => q.desc = false,
                "desc" => q.desc = true,
                other => {
                    return Err(E2bError::bad_request(format!(
                        "order {other:?} is not asc or desc"
                    )));
                }
            },
            "limit" => {
                q.limit = v
                    .parse()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        E2bError::bad_request(format!("limit must be 1..={MAX_LIMIT}"))
                    })?;
            }
            "nextToken" => {
                q.after = Some(v.parse().map_err(|_| {
                    E2bError::bad_request("nextToken is not one a previous list returned")
                })?);
            }
            // Unknown parameters are ignored, as E2B's API does.
            _ => {}
        }
    }
    Ok(q)
}

fn matches(q: &ListQuery, sb: &Sandbox) -> bool {
    let Some(state) = view::e2b_state(sb.state) else {
        return false;
    };
    let e2b = E2bState::of(sb);
    (q.states.is_empty() || q.states.iter().any(|s| s == state))
        && q.metadata
            .iter()
            .all(|(k, v)| sb.metadata.get(k) == Some(v))
        && q.template.as_ref().is_none_or(|t| *t == e2b.template)
        && q.started_after_ms.is_none_or(|t| e2b.started_at_ms >= t)
}

/// Every sandbox the E2B routes made, in creation order.
pub(crate) async fn all_managed(st: &AppState) -> Result<Vec<Sandbox>, E2bError> {
    let filter = SandboxFilter {
        labels: vec![(labels::MANAGED.to_owned(), "true".to_owned())],
        ..SandboxFilter::default()
    };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = st
            .core
            .list_sandboxes(&filter, cursor.as_deref(), Some(warren_core::MAX_PAGE))
            .await?;
        out.extend(page);
        match next {
            Some(n) => cursor = Some(n),
            None => return Ok(out),
        }
    }
}

/// `GET /v2/sandboxes`.
pub(crate) async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, E2bError> {
    let q = parse(pairs)?;
    let mut items: Vec<Sandbox> = all_managed(&st)
        .await?
        .into_iter()
        .filter(|sb| matches(&q, sb))
        .collect();
    if q.desc {
        items.reverse();
    }
    let start = match q.after {
        None => 0,
        Some(after) => items
            .iter()
            .position(|sb| {
                if q.desc {
                    sb.seq < after
                } else {
                    sb.seq > after
                }
            })
            .unwrap_or(items.len()),
    };
    let page: Vec<&Sandbox> = items.iter().skip(start).take(q.limit).collect();
    let more = start + page.len() < items.len();
    let domain = Some(view::domain(&st, &headers));
    let body: Vec<_> = page
        .iter()
        .map(|sb| view::detail(sb, false, domain.clone()))
        .collect();
    let mut resp = axum::Json(body).into_response();
    if more && let Some(last) = page.last() {
        resp.headers_mut().insert(
            "x-next-token",
            HeaderValue::from_str(&last.seq.to_string()).expect("digits are a header value"),
        );
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_what_the_sdks_send() {
        // Python: metadata=urlencode({quote(k): quote(v)}), state joined by commas.
        let q = parse(pairs(&[
            ("metadata", "user%20id=a%26b&team=x"),
            ("state", "running,paused"),
            ("limit", "2"),
            ("nextToken", "17"),
            ("order", "desc"),
        ]))
        .unwrap();
        assert_eq!(q.metadata["user id"], "a&b");
        assert_eq!(q.metadata["team"], "x");
        assert_eq!(q.states, vec!["running", "paused"]);
        assert_eq!((q.limit, q.after, q.desc), (2, Some(17), true));
        // JS repeats the parameter.
        let q = parse(pairs(&[("state", "paused"), ("state", "running")])).unwrap();
        assert_eq!(q.states.len(), 2);
        for bad in [
            ("state", "stopped"),
            ("limit", "0"),
            ("nextToken", "x"),
            ("order", "up"),
            ("metadata", "a=%zz"),
        ] {
            assert!(parse(pairs(&[bad])).is_err(), "{bad:?}");
        }
    }
}
