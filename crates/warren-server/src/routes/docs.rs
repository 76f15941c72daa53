//! The API's documentation, served without an API key: the OpenAPI document at
//! `GET /v1/openapi.json`, and Swagger UI at `GET /docs` reading it.
//!
//! Swagger UI's files are embedded in the binary (`assets/swagger-ui/`, vendored from npm by
//! `scripts/vendor-swagger-ui.sh`); nothing is fetched from elsewhere, by the build or by the
//! browser. Every docs response carries a Content-Security-Policy that allows scripts, styles
//! and connections to this origin only and no inline script at all, so the page can do nothing
//! but show the document and send the requests a user tries out (with the API key they paste
//! under "Authorize").

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::ApiError;

/// `/v1/openapi.json`, `/docs` and `/docs/{file}`. They use no state, whatever the router's.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/v1/openapi.json", get(openapi_json))
        .route("/docs", get(index))
        .route("/docs/", get(index))
        .route("/docs/{file}", get(asset))
}

/// The OpenAPI operations of [`routes`] (the UI's pages are not part of the API).
#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi_json))]
pub(crate) struct Api;

/// Scripts, styles, images and requests from this origin only; no inline script or style, no
/// `eval`, no frames, no forms. `data:` images: the stylesheet's icons are inline SVGs.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Our own files change with warren; revalidate them. Vendored ones change only with a new
/// Swagger UI version, i.e. a new warren; an hour's caching is harmless.
const REVALIDATE: &str = "no-cache";
const CACHE_HOUR: &str = "public, max-age=3600";

/// An embedded file: name under `/docs/`, content type, caching, bytes.
type Asset = (&'static str, &'static str, &'static str, &'static [u8]);

macro_rules! asset {
    ($name:literal, $content_type:expr, $cache:expr) => {
        (
            $name,
            $content_type,
            $cache,
            include_bytes!(concat!("../../assets/swagger-ui/", $name)),
        )
    };
}

/// Everything under `/docs/`.
const ASSETS: [Asset; 8] = [
    asset!("swagger-initializer.js", JS, REVALIDATE),
    asset!("index.css", CSS, REVALIDATE),
    asset!("swagger-ui-bundle.js", JS, CACHE_HOUR),
    asset!("swagger-ui.css", CSS, CACHE_HOUR),
    asset!("swagger-ui-bundle.js.LICENSE.txt", TEXT, CACHE_HOUR),
    asset!("LICENSE", TEXT, CACHE_HOUR),
    asset!("NOTICE", TEXT, CACHE_HOUR),
    asset!("VERSION", TEXT, CACHE_HOUR),
];

const INDEX_HTML: &[u8] = include_bytes!("../../assets/swagger-ui/index.html");

/// The document, generated once.
fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(crate::openapi::to_json)
}

/// A docs response: the body with its content type, caching and the security headers.
fn respond(content_type: &'static str, cache: &'static str, body: &'static [u8]) -> Response {
    let headers: [(HeaderName, HeaderValue); 5] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    (headers, body).into_response()
}

/// Get this OpenAPI document
///
/// The OpenAPI 3.1 description of the whole API, generated from the code; needs no API key.
/// The same document is checked into warren's repository as `docs/openapi.json`, and Swagger UI
/// at `/docs` shows it.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "system",
    operation_id = "openapi",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object,
        content_type = "application/json")),
)]
pub(crate) async fn openapi_json() -> Response {
    respond("application/json", REVALIDATE, document_json().as_bytes())
}

/// `GET /docs`: the Swagger UI page.
async fn index() -> Response {
    respond(HTML, REVALIDATE, INDEX_HTML)
}

/// `GET /docs/{file}`: one of [`ASSETS`], else the usual JSON 404.
async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (_, content_type, cache, body) = ASSETS
        .iter()
        .find(|(name, ..)| *name == file)
        .ok_or_else(|| {
            ApiError::new(
                warren_api_types::ErrorCode::NotFound,
                format!("no route for /docs/{file}"),
            )
        })?;
    Ok(respond(content_type, cache, body))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{HeaderMap, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = routes::<()>()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes().to_vec();
        (parts.status, parts.headers, bytes)
    }

    #[tokio::test]
    async fn serves_the_document() {
        let (status, headers, body) = get("/v1/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(String::from_utf8(body).unwrap(), crate::openapi::to_json());
    }

    #[tokio::test]
    async fn page_and_every_file_it_loads_are_served_under_the_policy() {
        for path in ["/docs", "/docs/"] {
            let (status, headers, body) = get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], HTML);
            assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(body, INDEX_HTML);
        }
        let page = std::str::from_utf8(INDEX_HTML).unwrap();
        // What the policy forbids must not be needed: no inline script or style.
        assert!(!page.contains("<style") && !page.contains("style="));
        let loaded: Vec<&str> = page
            .split(['"', '\''])
            .filter(|s| s.starts_with("/docs/"))
            .collect();
        assert_eq!(loaded.len(), 4, "{loaded:?}");
        for path in loaded {
            let (status, headers, body) = get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            let expected = if path.ends_with(".js") { JS } else { CSS };
            assert_eq!(headers[header::CONTENT_TYPE], expected, "{path}");
            assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP, "{path}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert!(body.len() > 100, "{path} is nearly empty");
        }
        for script in page.split("<script").skip(1) {
            assert!(
                script.trim_start().starts_with("src="),
                "inline script: {script}"
            );
        }
    }

    #[tokio::test]
    async fn unknown_files_are_json_404s() {
        // Only the embedded files exist: no path reaches the file system.
        let (status, headers, body) = get("/docs/..%2FCargo.toml").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, headers2, body2) = get("/docs/swagger-ui.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for (headers, body) in [(headers, body), (headers2, body2)] {
            assert_eq!(headers[header::CONTENT_TYPE], "application/json");
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"]["code"], "not_found");
        }
    }
}
