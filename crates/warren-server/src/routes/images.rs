//! `/v1/images`: list, get, pull (optionally streaming progress), import, remove.
//!
//! A pull with `Accept: application/x-ndjson` streams one JSON object per
//! line: progress events as they happen, then one `image` or `error` line.
//! The pull runs in its own task, so a client that disconnects does not
//! leave a half-stored image: the store finishes or discards it.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use warren_api_types as api;
use warren_core::{Credentials, PullEvent, PullOptions, PullProgress};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::json::{Json, Query};
use crate::{ApiError, AppState, convert};

const NDJSON: &str = "application/x-ndjson";

/// `/images...` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/images", get(list))
        .route("/images/pull", post(pull))
        .route(
            "/images/import",
            post(import).layer(DefaultBodyLimit::disable()),
        )
        .route("/images/{*reference}", get(get_one).delete(remove))
}

pub(crate) async fn list(
    State(st): State<AppState>,
) -> Result<axum::Json<api::ImageList>, ApiError> {
    let items = st
        .core
        .list_images()
        .await?
        .into_iter()
        .map(convert::image)
        .collect();
    Ok(axum::Json(api::ImageList { items }))
}

pub(crate) async fn get_one(
    State(st): State<AppState>,
    Path(reference): Path<String>,
) -> Result<axum::Json<api::Image>, ApiError> {
    let image = st.core.get_image(&reference).await?;
    Ok(axum::Json(convert::image(image)))
}

pub(crate) async fn remove(
    State(st): State<AppState>,
    Path(reference): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.core.remove_image(&reference).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forwards store progress into a channel; never blocks the download loop.
struct ChannelProgress(mpsc::UnboundedSender<api::PullEvent>);

impl PullProgress for ChannelProgress {
    fn event(&self, ev: PullEvent) {
        let _ = self.0.send(convert::pull_event(ev));
    }
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(NDJSON))
}

fn ndjson_line(ev: &api::PullEvent) -> Vec<u8> {
    let mut line = serde_json::to_vec(ev).expect("events serialize");
    line.push(b'\n');
    line
}

/// Run `job` in a task and stream its progress and result as NDJSON.
fn stream_job<F>(job: F) -> Response
where
    F: FnOnce(
        ChannelProgress,
    ) -> futures_util::future::BoxFuture<'static, Result<api::Image, ApiError>>,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let done_tx = tx.clone();
    let fut = job(ChannelProgress(tx));
    tokio::spawn(async move {
        let last = match fut.await {
            Ok(image) => api::PullEvent::Image { image },
            Err(e) => api::PullEvent::Error {
                error: api::ErrorDetail {
                    code: e.code,
                    message: e.message,
                },
            },
        };
        let _ = done_tx.send(last);
    });
    let lines = futures_util::stream::unfold(rx, |mut rx| async move {
        let ev = rx.recv().await?;
        let terminal = matches!(
            ev,
            api::PullEvent::Image { .. } | api::PullEvent::Error { .. }
        );
        let item = Ok::<_, std::convert::Infallible>(ndjson_line(&ev));
        // Close the stream after the terminal line even though senders may linger.
        Some((item, if terminal { close(rx) } else { rx }))
    });
    ([(header::CONTENT_TYPE, NDJSON)], Body::from_stream(lines)).into_response()
}

fn close<T>(mut rx: mpsc::UnboundedReceiver<T>) -> mpsc::UnboundedReceiver<T> {
    rx.close();
    while rx.try_recv().is_ok() {}
    rx
}

pub(crate) async fn pull(
    State(st): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<api::PullRequest>,
) -> Result<Response, ApiError> {
    let credentials = match (req.username, req.password) {
        (Some(username), Some(password)) => Some(Credentials { username, password }),
        (None, None) => None,
        _ => {
            return Err(ApiError::invalid(
                "username and password must be given together",
            ));
        }
    };
    let options = PullOptions {
        insecure: req.insecure,
        credentials,
        ..PullOptions::default()
    };
    let reference = req.reference;
    if !wants_stream(&headers) {
        let image = st
            .core
            .pull_image(&reference, &options, &warren_core::NoProgress)
            .await?;
        return Ok(axum::Json(convert::image(image)).into_response());
    }
    Ok(stream_job(move |progress| {
        Box::pin(pull_job(st.core, reference, options, progress))
    }))
}

async fn pull_job(
    core: warren_core::Core,
    reference: String,
    options: PullOptions,
    progress: ChannelProgress,
) -> Result<api::Image, ApiError> {
    let image = core.pull_image(&reference, &options, &progress).await?;
    Ok(convert::image(image))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    tag: Option<String>,
}

/// Spool the request body (a `docker save` tar or an OCI archive) to a temp
/// file, then import it.
pub(crate) async fn import(
    State(st): State<AppState>,
    Query(q): Query<ImportQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    let stream = wants_stream(req.headers());
    let spool = spool_body(&st.tmp_dir, req.into_body()).await?;
    let job = move |progress: ChannelProgress| -> futures_util::future::BoxFuture<'static, Result<api::Image, ApiError>> {
        Box::pin(async move {
            let result = st.core.import_image(spool.path(), q.tag.as_deref(), &progress).await;
            drop(spool);
            let mut images = result?;
            let first = images.drain(..).next().ok_or_else(|| ApiError::invalid("the archive holds no image"))?;
            Ok(convert::image(first))
        })
    };
    if stream {
        return Ok(stream_job(job));
    }
    let (tx, _rx) = mpsc::unbounded_channel();
    let image = job(ChannelProgress(tx)).await?;
    Ok(axum::Json(image).into_response())
}

/// A temp file that is removed when dropped.
struct Spool(PathBuf);

impl Spool {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn spool_body(dir: &std::path::Path, body: Body) -> Result<Spool, ApiError> {
    let internal = |e: std::io::Error| {
        ApiError::new(
            api::ErrorCode::Internal,
            format!("cannot spool upload: {e}"),
        )
    };
    tokio::fs::create_dir_all(dir).await.map_err(internal)?;
    let mut name = [0u8; 8];
    getrandom_name(&mut name);
    let spool = Spool(dir.join(format!("import-{}.tar", hex::encode(name))));
    let mut file = tokio::fs::File::create(spool.path())
        .await
        .map_err(internal)?;
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("upload interrupted: {e}")))?;
        total += chunk.len();
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    if total == 0 {
        return Err(ApiError::invalid(
            "empty body: send a docker-save or OCI archive tar",
        ));
    }
    Ok(spool)
}

fn getrandom_name(buf: &mut [u8]) {
    // Uniqueness only (not a secret): time and a counter suffice.
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed)
        ^ (time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64);
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (n >> (i * 8)) as u8;
    }
}
