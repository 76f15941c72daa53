//! Metrics, fork (= warren's branch) and snapshots.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use warren_core::{CreateSnapshot, MetricsSample, Principal};

use super::body::Json;
use super::error::E2bError;
use super::labels::{self, E2bState, now_ms};
use super::models::{ForkBody, ForkResult, Metric, SnapshotBody, SnapshotInfo};
use super::sandboxes::{DEFAULT_TIMEOUT_S, find, timeout_ms};
use super::view;
use crate::AppState;

const MIB: u64 = 1024 * 1024;

/// `GET /sandboxes/{id}/metrics`: the recent samples, oldest first, then the current one.
pub(crate) async fn metrics(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<Metric>>, E2bError> {
    let sb = find(&st, &id).await?;
    let m = st.core.sandbox_metrics(&id).await?;
    let cpus = sb.spec.cpu.ceil().max(1.0) as u32;
    let metric = |s: &MetricsSample| Metric {
        timestamp: view::rfc3339(s.at_ms),
        timestamp_unix: s.at_ms / 1000,
        cpu_count: cpus,
        // warren measures percent of one core; E2B of all the sandbox's cores.
        cpu_used_pct: s.cpu_percent / f64::from(cpus),
        mem_used: s.memory_bytes,
        mem_total: s.memory_limit_bytes.unwrap_or(sb.spec.memory_mb * MIB),
        mem_cache: 0,
        disk_used: s.disk_bytes.unwrap_or(0),
        disk_total: sb.spec.disk_mb * MIB,
    };
    let mut out: Vec<Metric> = m.history.iter().map(metric).collect();
    out.push(metric(&m.current));
    Ok(axum::Json(out))
}

/// `POST /sandboxes/{id}/fork` → 201: `count` new sandboxes, each continuing from this
/// instant of the source (its memory included), each ending `timeout` seconds from now.
pub(crate) async fn fork(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<ForkBody>,
) -> Result<(StatusCode, axum::Json<Vec<ForkResult>>), E2bError> {
    let life_ms = timeout_ms("timeout", body.timeout.unwrap_or(DEFAULT_TIMEOUT_S))?;
    let source = find(&st, &id).await?;
    let (_, branches) = st
        .core
        .branch_sandbox(&id, body.count.unwrap_or(1), &who.key_name)
        .await?;
    let domain = view::domain(&st, &headers);
    let parent = E2bState::of(&source);
    let mut out = Vec::with_capacity(branches.len());
    for b in branches {
        let now = now_ms();
        let state = E2bState {
            end_at_ms: now + life_ms,
            remaining_ms: None,
            started_at_ms: now,
            ..parent.clone()
        };
        let sb = labels::save(&st.core, &b, &state, &who.key_name).await?;
        out.push(ForkResult {
            sandbox: Some(view::created(&sb, domain.clone())),
            error: None,
        });
    }
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// `POST /sandboxes/{id}/snapshots` → 201: a snapshot new sandboxes can be created from
/// (`templateID` = its id or name). Memory is captured unless `memory` is false.
pub(crate) async fn create_snapshot(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<SnapshotBody>,
) -> Result<(StatusCode, axum::Json<SnapshotInfo>), E2bError> {
    find(&st, &id).await?;
    let req = CreateSnapshot {
        memory: body.memory.unwrap_or(true),
        name: body.name,
        labels: BTreeMap::from([(labels::MANAGED.to_owned(), "true".to_owned())]),
    };
    let snap = st.core.snapshot_sandbox(&id, req, &who.key_name).await?;
    Ok((StatusCode::CREATED, axum::Json(info(snap))))
}

fn info(s: warren_core::Snapshot) -> SnapshotInfo {
    SnapshotInfo {
        snapshot_id: s.id,
        names: s.name.into_iter().collect(),
    }
}

/// Query of `GET /snapshots`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct SnapshotQuery {
    #[serde(rename = "sandboxID")]
    sandbox_id: Option<String>,
    name: Option<String>,
    limit: Option<u32>,
    #[serde(rename = "nextToken")]
    next_token: Option<String>,
}

/// `GET /snapshots`: snapshots (of one sandbox, or with one name), `x-next-token` paging.
pub(crate) async fn list_snapshots(
    State(st): State<AppState>,
    Query(q): Query<SnapshotQuery>,
) -> Result<Response, E2bError> {
    if let Some(name) = &q.name {
        let found = match st.core.get_snapshot(name).await {
            Ok(s) => vec![info(s)],
            Err(e) if e.kind() == warren_core::ErrorKind::SnapshotNotFound => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        return Ok(axum::Json(found).into_response());
    }
    let (page, next) = st
        .core
        .list_snapshots(
            q.sandbox_id.as_deref(),
            q.next_token.as_deref(),
            q.limit.map(|l| l.min(warren_core::MAX_PAGE)),
        )
        .await?;
    let body: Vec<SnapshotInfo> = page.into_iter().map(info).collect();
    let mut resp = axum::Json(body).into_response();
    if let Some(n) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        resp.headers_mut().insert("x-next-token", n);
    }
    Ok(resp)
}

/// `DELETE /templates/{id}`: how the SDK deletes a snapshot (templates proper are warren
/// images, managed with warren's own API).
pub(crate) async fn delete_snapshot(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, E2bError> {
    match st.core.delete_snapshot(&id, &who.key_name).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) if e.kind() == warren_core::ErrorKind::SnapshotNotFound => Err(E2bError::new(
            StatusCode::NOT_FOUND,
            format!("snapshot {id} not found (only snapshots can be deleted here)"),
        )),
        Err(e) => Err(e.into()),
    }
}
