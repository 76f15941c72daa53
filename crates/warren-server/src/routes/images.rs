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
use crate::openapi::{BadRequest, Forbidden, Internal, PayloadTooLarge, RateLimited, Unauthorized};
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

/// The OpenAPI operations of [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, pull, import, get_one, remove))]
pub(crate) struct Api;

/// Description of the `{reference}` path parameter.
const REFERENCE: &str = "The image: the rest of the path, slashes included and not escaped \
    (`127.0.0.1:5000/team/app:1`), normalized as usual (`busybox` is \
    `docker.io/library/busybox:latest`); a full manifest digest or a unique prefix of at least \
    12 hex digits (`sha256:9698402dd5e5`) also works.";

/// Description of the NDJSON stream of a pull or an import.
const STREAM: &str = "With `Accept: application/x-ndjson`: one `PullEvent` JSON object per \
    line as the work progresses, ending with exactly one `image` or `error` line. An error \
    after the stream started arrives as that `error` line, not as an HTTP status. Without it: \
    the image, as JSON, once it is stored.";

/// List images
///
/// Every image in the local store, sorted by reference. Not paginated.
#[utoipa::path(
    get,
    path = "/v1/images",
    tag = "images",
    operation_id = "list_images",
    responses(
        (status = 200, description = "The images.", body = api::ImageList),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
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

/// Get an image
///
/// One image of the local store, with the defaults it gives sandboxes.
#[utoipa::path(
    get,
    path = "/v1/images/{reference}",
    tag = "images",
    operation_id = "get_image",
    params(("reference" = String, Path, description = REFERENCE, example = "busybox:latest")),
    responses(
        (status = 200, description = "The image.", body = api::Image),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`image_not_found`: no such image in the local store.",
            body = api::ErrorBody),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    Path(reference): Path<String>,
) -> Result<axum::Json<api::Image>, ApiError> {
    let image = st.core.get_image(&reference).await?;
    Ok(axum::Json(convert::image(image)))
}

/// Remove an image
///
/// Removes the reference and garbage-collects the blobs and layers no other image uses.
#[utoipa::path(
    delete,
    path = "/v1/images/{reference}",
    tag = "images",
    operation_id = "remove_image",
    params(("reference" = String, Path, description = REFERENCE, example = "busybox:latest")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`image_not_found`: no such image in the local store.",
            body = api::ErrorBody),
        (status = 409, description = "`conflict`: a sandbox uses the image; delete it first.",
            body = api::ErrorBody),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
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

/// Pull an image
///
/// Downloads an image from its registry into the local store (layers already stored are not
/// downloaded again). Plain HTTP is used for registries on loopback, or anywhere with
/// `insecure`. By default the call answers when the pull is complete; with
/// `Accept: application/x-ndjson` it streams progress as it goes. The pull runs on its own, so a
/// client that disconnects does not leave a half-stored image.
#[utoipa::path(
    post,
    path = "/v1/images/pull",
    tag = "images",
    operation_id = "pull_image",
    request_body = api::PullRequest,
    responses(
        (status = 200, description = STREAM, content(
            (api::Image = "application/json"),
            (api::PullEvent = "application/x-ndjson", example = json!({
                "event": "layer_progress",
                "digest": "sha256:e7c3f1b5a0d3",
                "downloaded": 524288,
                "size": 1088627
            })),
        )),
        (status = 400, description = "`invalid_request`: a malformed body, an invalid \
            reference, or only one of `username` and `password`.", body = api::ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`image_not_found`: the registry has no such image.",
            body = api::ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 502, description = "`registry_error`: the registry failed, refused (e.g. \
            wrong credentials) or could not be reached.", body = api::ErrorBody),
    ),
)]
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

/// Query of `POST /v1/images/import`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportQuery {
    /// Store the imported image under this reference (the archive must hold one image).
    tag: Option<String>,
}

/// Spool the request body (a `docker save` tar or an OCI archive) to a temp
/// file, then import it.
/// Import an image archive
///
/// The body is the raw archive: a `docker save` tarball or an OCI archive (a tarred OCI
/// layout), of any size; it is spooled to disk first. Every image in it is stored; the answer
/// is the first. `tag` stores the image under that reference (refused when the archive holds
/// more than one image). With `Accept: application/x-ndjson` progress streams as for a pull
/// (per image: `resolved` with an empty `reference`, `unpacking` and `layer_done` per layer,
/// `done`; finally `image` or `error`).
#[utoipa::path(
    post,
    path = "/v1/images/import",
    tag = "images",
    operation_id = "import_image",
    params(ImportQuery),
    request_body(description = "The archive: `docker save` output or a tarred OCI layout.",
        content((Vec<u8> = "application/x-tar"))),
    responses(
        (status = 200, description = STREAM, content(
            (api::Image = "application/json"),
            (api::PullEvent = "application/x-ndjson", example = json!({
                "event": "layer_done",
                "digest": "sha256:e7c3f1b5a0d3"
            })),
        )),
        (status = 400, description = "`invalid_request`: an empty body, an archive in no \
            known format or with a blob that does not match its digest, or a `tag` for an \
            archive of several images.", body = api::ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
    ),
)]
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
