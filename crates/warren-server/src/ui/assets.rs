//! The dashboard's files, embedded in the binary (`crates/warren-server/ui/`).
//!
//! Each is served with its content type, a strong `ETag` (its SHA-256) that answers
//! `If-None-Match` with `304`, `Cache-Control: no-cache` (revalidate: the files change with
//! warren, and a 304 costs one round trip and no body), and gzip when the browser accepts it
//! (compressed once, on first request, and kept).

use std::sync::OnceLock;

use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Scripts and styles from this origin only, no `eval`, no frames, requests (fetch, SSE,
/// WebSocket) to this origin only. Inline *styles* are allowed: xterm.js positions its rows and
/// cursor with them; inline scripts are not.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
    connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file: path under `/ui/`, content type, bytes.
pub(crate) struct Asset {
    pub(crate) path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: OnceLock<HeaderValue>,
    gzip: OnceLock<Vec<u8>>,
}

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../../ui/", $path)),
            etag: OnceLock::new(),
            gzip: OnceLock::new(),
        }
    };
}

/// Every file under `/ui/`; `index.html` is also `/ui/` itself.
pub(crate) static ASSETS: [Asset; 25] = [
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("favicon.svg", SVG),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("live.js", JS),
    asset!("signin.js", JS),
    asset!("sandboxes.js", JS),
    asset!("create.js", JS),
    asset!("sandbox.js", JS),
    asset!("terminal.js", JS),
    asset!("files.js", JS),
    asset!("charts.js", JS),
    asset!("snapshots.js", JS),
    asset!("images.js", JS),
    asset!("keys.js", JS),
    asset!("host.js", JS),
    asset!("vendor/xterm.mjs", JS),
    asset!("vendor/xterm.css", CSS),
    asset!("vendor/addon-fit.mjs", JS),
    asset!("vendor/xterm.LICENSE", TEXT),
    asset!("vendor/addon-fit.LICENSE", TEXT),
    asset!("vendor/VERSIONS", TEXT),
    asset!("vendor/SHA256SUMS", TEXT),
];

/// The file at `path` (under `/ui/`), if embedded.
pub(crate) fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

impl Asset {
    fn etag(&self) -> &HeaderValue {
        self.etag.get_or_init(|| {
            let hash = hex::encode(&Sha256::digest(self.body)[..16]);
            HeaderValue::from_str(&format!("\"{hash}\"")).expect("hex is a valid header value")
        })
    }

    fn gzipped(&self) -> &[u8] {
        self.gzip.get_or_init(|| {
            use std::io::Write as _;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            // Writing to a Vec cannot fail.
            enc.write_all(self.body).expect("gzip into memory");
            enc.finish().expect("gzip into memory")
        })
    }

    /// The response to a GET with these request headers.
    pub(crate) fn respond(&'static self, req: &HeaderMap) -> Response {
        let etag = self.etag().clone();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(ETAG, etag.clone());
        let fresh = req
            .get(IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        if fresh {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        if accepts_gzip(req) {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            return (headers, self.gzipped()).into_response();
        }
        (headers, self.body).into_response()
    }
}

/// Whether `Accept-Encoding` lists gzip (without `q=0`).
fn accepts_gzip(req: &HeaderMap) -> bool {
    req.get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            parts.next().is_some_and(|c| c.eq_ignore_ascii_case("gzip"))
                && parts.all(|p| p.replace(' ', "") != "q=0")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_pages_import_is_embedded() {
        // Each `from './x.js'` / `import('./x.js')` / href / src in our own files must be served.
        for a in ASSETS.iter().filter(|a| !a.path.starts_with("vendor/")) {
            let text = std::str::from_utf8(a.body).unwrap();
            for piece in text.split(['\'', '"']).filter(|s| {
                (s.starts_with("./") || s.starts_with("/ui/"))
                    && (s.ends_with(".js") || s.ends_with(".mjs") || s.ends_with(".css"))
            }) {
                let path = piece.trim_start_matches("./").trim_start_matches("/ui/");
                assert!(
                    find(path).is_some(),
                    "{} loads {piece}, not embedded",
                    a.path
                );
            }
        }
    }

    #[test]
    fn gzip_etag_and_304() {
        let a = find("app.js").unwrap();
        let mut req = HeaderMap::new();
        req.insert(ACCEPT_ENCODING, HeaderValue::from_static("br, gzip;q=0.8"));
        let r = a.respond(&req);
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()[CONTENT_TYPE], JS);
        let etag = r.headers()[ETAG].clone();
        req.insert(IF_NONE_MATCH, etag);
        assert_eq!(a.respond(&req).status(), StatusCode::NOT_MODIFIED);
        let mut plain = HeaderMap::new();
        plain.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0"));
        assert!(a.respond(&plain).headers().get(CONTENT_ENCODING).is_none());
        let mut gz = flate2::read::GzDecoder::new(a.gzipped());
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut gz, &mut out).unwrap();
        assert_eq!(out, a.body);
    }
}
