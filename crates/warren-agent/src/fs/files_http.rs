//! `GET /files` and `POST /files`, envd's plain-HTTP file transfer.
//!
//! - `GET /files?path=&username=` streams the file's bytes (404 if missing, 400 for a directory).
//! - `POST /files?path=&username=` with `application/octet-stream` writes the body to `path`;
//!   with `multipart/form-data`, each part named `file` is written to `path` or, without it, to
//!   the part's filename. Answer: `[{"name","type":"file","path"}]`.
//!
//! Writes are atomic: the data goes to a temporary name in the destination directory, is
//! fsynced, chowned to the user (keeping an existing file's mode), then renamed over the target.
//! Missing parent directories are created and chowned to the user. Errors are envd's JSON
//! `{"code": <status>, "message"}`.

// Handlers return a finished error `Response` through `Result`; it is built once per request.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_agent_proto::{ConnectError, WriteEntry};

use super::ops::{self, io_error};
use super::xattr;
use crate::agent::Agent;
use crate::rpc::{Body, rest_error, rest_error_from};
use crate::server::request_user;
use crate::users::User;

/// Largest multipart body (buffered in memory); octet-stream bodies stream to disk unbounded.
const MAX_MULTIPART: usize = 256 * 1024 * 1024;

/// Parse `a=b&c=d` with percent- and `+`-decoding.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Target {
    user: User,
    path: Option<PathBuf>,
}

fn target(agent: &Agent, req: &Request<Incoming>) -> Result<Target, Response<Body>> {
    let q = req.uri().query();
    let name = query_param(q, "username").or_else(|| request_user(req.headers()));
    let user = agent
        .user(name.as_deref())
        .map_err(|e| rest_error(StatusCode::UNAUTHORIZED, e.message))?;
    let path = match query_param(q, "path") {
        Some(p) => Some(ops::resolve(&p, &user).map_err(|e| rest_error_from(&e))?),
        None => None,
    };
    Ok(Target { user, path })
}

/// `GET /files`.
pub async fn get(agent: Arc<Agent>, req: Request<Incoming>) -> Response<Body> {
    let t = match target(&agent, &req) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(path) = t.path else {
        return rest_error(StatusCode::BAD_REQUEST, "path query parameter is required");
    };
    let meta = match tokio::fs::metadata(&path).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return rest_error(
                StatusCode::NOT_FOUND,
                format!("path '{}' does not exist", path.display()),
            );
        }
        Err(e) => return rest_error_from(&io_error("cannot stat", &path, &e)),
    };
    if meta.is_dir() {
        return rest_error(
            StatusCode::BAD_REQUEST,
            format!("path '{}' is a directory", path.display()),
        );
    }
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => return rest_error_from(&io_error("cannot open", &path, &e)),
    };
    let chunks = futures_util::stream::unfold(Some(file), |f| async move {
        let mut f = f?;
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    // No Content-Length: the size from stat is a guess (0 for /proc files, stale
    // for a file still being written), and a wrong length breaks the stream.
    let b = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream");
    b.body(BodyExt::boxed_unsync(StreamBody::new(chunks.boxed())))
        .expect("valid response")
}

/// `POST /files`.
pub async fn post(agent: Arc<Agent>, req: Request<Incoming>) -> Response<Body> {
    let t = match target(&agent, &req) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let metadata = match xattr::from_headers(req.headers()) {
        Ok(m) => m,
        Err(why) => return rest_error(StatusCode::BAD_REQUEST, why),
    };
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let entries = if ct.starts_with("application/octet-stream") {
        let Some(path) = t.path else {
            return rest_error(
                StatusCode::BAD_REQUEST,
                "path query parameter is required for raw body upload",
            );
        };
        let gzipped = match content_encoding(req.headers()) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let source = if gzipped {
            Source::GzipBody(req.into_body())
        } else {
            Source::Body(req.into_body())
        };
        match write_atomic(&path, &t.user, source, &metadata).await {
            Ok(e) => vec![e],
            Err(r) => return r,
        }
    } else if ct.starts_with("multipart/") {
        let Some(boundary) = multipart_boundary(&ct) else {
            return rest_error(StatusCode::BAD_REQUEST, "multipart body without a boundary");
        };
        let body = match Limited::new(req.into_body(), MAX_MULTIPART).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return rest_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("cannot read multipart body: {e}"),
                );
            }
        };
        let mut out: Vec<WriteEntry> = Vec::new();
        for part in multipart_parts(&body, &boundary) {
            if part.name.as_deref() != Some("file") {
                continue;
            }
            let path = match (&t.path, &part.filename) {
                (Some(p), _) => p.clone(),
                (None, Some(f)) => match ops::resolve(f, &t.user) {
                    Ok(p) => p,
                    Err(e) => return rest_error_from(&e),
                },
                (None, None) => {
                    return rest_error(
                        StatusCode::BAD_REQUEST,
                        "file part has no filename and no path was given",
                    );
                }
            };
            if out.iter().any(|e| Path::new(&e.path) == path) {
                return rest_error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "you cannot upload multiple files to the same path '{}' in one upload request",
                        path.display()
                    ),
                );
            }
            match write_atomic(&path, &t.user, Source::Bytes(part.data.clone()), &metadata).await {
                Ok(e) => out.push(e),
                Err(r) => return r,
            }
        }
        out
    } else {
        return rest_error(
            StatusCode::BAD_REQUEST,
            format!(
                "unsupported content type: {ct}, expected multipart/form-data or application/octet-stream"
            ),
        );
    };
    crate::rpc::unary_ok(&entries)
}

/// Whether an upload's body is gzip-compressed (`Content-Encoding: gzip`, which the e2b SDKs
/// send for `gzip=True` to envd ≥ 0.5.7); any other coding is refused rather than written as-is.
fn content_encoding(headers: &http::HeaderMap) -> Result<bool, Response<Body>> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => Ok(false),
        Some(e) if e.is_empty() || e == "identity" => Ok(false),
        Some(e) if e == "gzip" => Ok(true),
        Some(e) => Err(rest_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {e:?}: send the body as is or gzip-compressed"),
        )),
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Where an upload's bytes come from.
enum Source {
    /// A streaming request body.
    Body(Incoming),
    /// A streaming gzip-compressed request body, decompressed on the way to the file.
    GzipBody(Incoming),
    /// An already buffered multipart part.
    Bytes(Bytes),
}

impl Source {
    async fn copy_to(self, f: &mut tokio::fs::File) -> std::io::Result<()> {
        match self {
            Source::Bytes(b) => f.write_all(&b).await,
            Source::Body(mut body) => {
                while let Some(frame) = body.frame().await {
                    let frame = frame
                        .map_err(|e| std::io::Error::other(format!("reading request body: {e}")))?;
                    if let Some(d) = frame.data_ref() {
                        f.write_all(d).await?;
                    }
                }
                Ok(())
            }
            Source::GzipBody(mut body) => {
                let mut gz = flate2::write::GzDecoder::new(Vec::new());
                while let Some(frame) = body.frame().await {
                    let frame = frame
                        .map_err(|e| std::io::Error::other(format!("reading request body: {e}")))?;
                    if let Some(d) = frame.data_ref() {
                        std::io::Write::write_all(&mut gz, d).map_err(gzip_error)?;
                        f.write_all(gz.get_ref()).await?;
                        gz.get_mut().clear();
                    }
                }
                gz.try_finish().map_err(gzip_error)?;
                f.write_all(gz.get_ref()).await
            }
        }
    }
}

fn gzip_error(e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the gzip-compressed body is invalid: {e}"),
    )
}

async fn write_atomic(
    path: &Path,
    user: &User,
    source: Source,
    metadata: &std::collections::BTreeMap<String, String>,
) -> Result<WriteEntry, Response<Body>> {
    let err = |e: ConnectError| rest_error_from(&e);
    let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.is_empty() {
        return Err(rest_error(
            StatusCode::BAD_REQUEST,
            format!("path '{}' is a directory", path.display()),
        ));
    }
    let (p2, u2) = (parent.clone(), user.clone());
    tokio::task::spawn_blocking(move || ops::ensure_dirs(&p2, &u2))
        .await
        .expect("ensure_dirs panicked")
        .map_err(err)?;
    let mode = match tokio::fs::metadata(path).await {
        Ok(m) if m.is_dir() => {
            return Err(rest_error(
                StatusCode::BAD_REQUEST,
                format!("path is a directory: {}", path.display()),
            ));
        }
        Ok(m) => std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777,
        Err(_) => 0o644,
    };
    let tmp = parent.join(format!(
        ".{name}.warren-upload-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = async {
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .await
            .map_err(|e| io_error("cannot create", &tmp, &e))?;
        source
            .copy_to(&mut f)
            .await
            .map_err(|e| io_error("cannot write", path, &e))?;
        f.flush()
            .await
            .map_err(|e| io_error("cannot write", path, &e))?;
        f.sync_all()
            .await
            .map_err(|e| io_error("cannot sync", path, &e))?;
        drop(f);
        // Explicit chmod: the umask trimmed the create mode.
        tokio::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .await
            .map_err(|e| io_error("cannot chmod", &tmp, &e))?;
        ops::chown(&tmp, user)?;
        xattr::set_all(&tmp, metadata)
            .map_err(|e| io_error("cannot set the metadata of", path, &e))?;
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(|e| io_error("cannot replace", path, &e))
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(err(e));
    }
    Ok(WriteEntry {
        name,
        r#type: "file".into(),
        path: path.to_string_lossy().into_owned(),
        metadata: metadata.clone(),
    })
}

fn multipart_boundary(ct: &str) -> Option<String> {
    ct.split(';').find_map(|p| {
        let v = p.trim().strip_prefix("boundary=")?;
        Some(v.trim_matches('"').to_string())
    })
}

/// One multipart part.
#[derive(Debug)]
struct Part {
    name: Option<String>,
    filename: Option<String>,
    data: Bytes,
}

/// Split a buffered multipart body into parts (RFC 7578).
fn multipart_parts(body: &Bytes, boundary: &str) -> Vec<Part> {
    let delim = format!("--{boundary}");
    let d = delim.as_bytes();
    let find = |hay: &[u8], from: usize| {
        hay[from..]
            .windows(d.len())
            .position(|w| w == d)
            .map(|i| i + from)
    };
    let mut parts = Vec::new();
    let Some(mut pos) = find(body, 0) else {
        return parts;
    };
    loop {
        let start = pos + d.len();
        if body[start..].starts_with(b"--") {
            break;
        }
        let Some(next) = find(body, start) else { break };
        let raw = &body[start..next];
        let raw = raw.strip_prefix(b"\r\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
        if let Some(hend) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&raw[..hend]);
            let data_start =
                start + (raw.as_ptr() as usize - body[start..].as_ptr() as usize) + hend + 4;
            let data = body.slice(data_start..data_start + raw.len() - hend - 4);
            let mut part = Part {
                name: None,
                filename: None,
                data,
            };
            for line in headers.lines() {
                if line
                    .to_ascii_lowercase()
                    .starts_with("content-disposition:")
                {
                    for kv in line.split(';').skip(1) {
                        if let Some((k, v)) = kv.trim().split_once('=') {
                            let v = v.trim().trim_matches('"').to_string();
                            match k.trim() {
                                "name" => part.name = Some(v),
                                "filename" => part.filename = Some(v),
                                _ => {}
                            }
                        }
                    }
                }
            }
            parts.push(part);
        }
        pos = next;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query() {
        let q = Some("path=%2Fa%20b%2Bc&username=user&x");
        assert_eq!(query_param(q, "path").as_deref(), Some("/a b+c"));
        assert_eq!(query_param(q, "username").as_deref(), Some("user"));
        assert_eq!(query_param(q, "x").as_deref(), Some(""));
        assert_eq!(query_param(q, "y"), None);
        assert_eq!(percent_decode("a+b%"), "a b%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn multipart() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/tmp/a.bin\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\x00\x01\r\n\xff\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--XyZ--\r\n",
        );
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        let parts = multipart_parts(&body, "XyZ");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name.as_deref(), Some("file"));
        assert_eq!(parts[0].filename.as_deref(), Some("/tmp/a.bin"));
        assert_eq!(&parts[0].data[..], b"\x00\x01\r\n\xff");
        assert_eq!(&parts[1].data[..], b"v");
    }
}
