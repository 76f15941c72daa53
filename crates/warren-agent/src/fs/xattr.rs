//! User metadata on files, as envd ≥ 0.6.2 keeps it: extended attributes named `user.e2b.<key>`,
//! written from an upload's `X-Metadata-<key>: <value>` headers and reported in
//! `EntryInfo.metadata`. Keys are lowercase HTTP tokens (header names arrive lowercased), values
//! printable US-ASCII, as the e2b SDK validates them.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Prefix of the upload headers that carry metadata.
pub const HEADER_PREFIX: &str = "x-metadata-";

/// Namespace of the attributes (envd's: `user.e2b.<key>`).
const NAMESPACE: &str = "user.e2b.";

/// Largest value, and the most attributes read back for one file.
const MAX_VALUE: usize = 4096;
const MAX_LIST: usize = 64 * 1024;

/// The metadata in `headers`: `Err` names the first bad key or value.
pub fn from_headers(headers: &http::HeaderMap) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(HEADER_PREFIX) else {
            continue;
        };
        if key.is_empty() {
            return Err("a metadata header needs a key after X-Metadata-".into());
        }
        let value = value
            .to_str()
            .ok()
            .filter(|v| v.len() <= MAX_VALUE && v.bytes().all(|b| (0x20..0x7f).contains(&b)))
            .ok_or_else(|| {
                format!(
                    "metadata {key:?}: values must be printable US-ASCII, at most {MAX_VALUE} bytes"
                )
            })?;
        out.insert(key.to_owned(), value.to_owned());
    }
    Ok(out)
}

/// Set each `key` of `metadata` on `path` (not following a final symlink).
pub fn set_all(path: &Path, metadata: &BTreeMap<String, String>) -> io::Result<()> {
    let c_path = c_path(path)?;
    for (key, value) in metadata {
        let name = CString::new(format!("{NAMESPACE}{key}")).map_err(io::Error::other)?;
        // SAFETY: both strings are NUL-terminated and outlive the call; the value pointer and
        // length describe `value`'s bytes.
        let rc = unsafe {
            libc::lsetxattr(
                c_path.as_ptr(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The `user.` attributes of `path` (not following a final symlink); empty when it has none
/// or its file system keeps none.
pub fn get_all(path: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(c_path) = c_path(path) else {
        return out;
    };
    let mut names = vec![0u8; 4096];
    // SAFETY: the buffer pointer and length describe `names`; the path is NUL-terminated.
    let n = unsafe { libc::llistxattr(c_path.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    let n = if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ERANGE) {
        names.resize(MAX_LIST, 0);
        // SAFETY: as above, with the larger buffer.
        unsafe { libc::llistxattr(c_path.as_ptr(), names.as_mut_ptr().cast(), names.len()) }
    } else {
        n
    };
    let Ok(n) = usize::try_from(n) else {
        return out;
    };
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let Some(key) = name.strip_prefix(NAMESPACE.as_bytes()) else {
            continue;
        };
        let (Ok(key), Ok(c_name)) = (std::str::from_utf8(key), CString::new(name)) else {
            continue;
        };
        let mut value = vec![0u8; MAX_VALUE];
        // SAFETY: the buffer pointer and length describe `value`; both names are NUL-terminated.
        let len = unsafe {
            libc::lgetxattr(
                c_path.as_ptr(),
                c_name.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if let Ok(len) = usize::try_from(len) {
            value.truncate(len);
            out.insert(key.to_owned(), String::from_utf8_lossy(&value).into_owned());
        }
    }
    out
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_become_metadata_and_bad_values_are_named() {
        let mut h = http::HeaderMap::new();
        h.insert("x-metadata-owner", "alice".parse().unwrap());
        h.insert("x-metadata-stage", "build 2".parse().unwrap());
        h.insert("content-type", "text/plain".parse().unwrap());
        let m = from_headers(&h).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["owner"], "alice");
        h.insert(
            "x-metadata-bad",
            http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert!(from_headers(&h).unwrap_err().contains("\"bad\""));
    }

    #[test]
    fn attributes_round_trip_on_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let m = BTreeMap::from([("owner".to_owned(), "alice".to_owned())]);
        match set_all(&f, &m) {
            Ok(()) => assert_eq!(get_all(&f), m),
            // Some test hosts' temp dirs (tmpfs before 6.6) keep no user attributes.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(get_all(&dir.path().join("missing")).is_empty());
    }
}
