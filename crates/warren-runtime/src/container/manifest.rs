//! What a complete checkpoint holds: the name and size of every CRIU image file, written when
//! the dump succeeded and checked before a restore. CRIU has no checksums of its own, and a
//! truncated memory image makes its restorer spin (it reads 0 bytes forever) until runc's
//! timeout; a missing or cut file is refused at once with a clear message instead.

use std::fmt::Write as _;
use std::path::Path;

/// `name size` lines for every regular file in `images`, sorted by name.
pub(crate) fn describe(images: &Path) -> std::io::Result<String> {
    let mut files: Vec<(String, u64)> = Vec::new();
    for e in std::fs::read_dir(images)? {
        let e = e?;
        let meta = e.metadata()?;
        if meta.is_file() {
            files.push((e.file_name().to_string_lossy().into_owned(), meta.len()));
        }
    }
    files.sort();
    let mut out = String::new();
    for (name, size) in files {
        let _ = writeln!(out, "{name} {size}");
    }
    Ok(out)
}

/// Write the manifest of `images` to `path` and flush it to disk.
pub(crate) fn write(images: &Path, path: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    let text = describe(images)?;
    let mut f = std::fs::File::create(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Check `images` against the manifest at `path`: every listed file present with its size.
/// An empty manifest (written by versions before manifests existed) checks nothing.
pub(crate) fn verify(images: &Path, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let Some((name, size)) = line.rsplit_once(' ') else {
            return Err(format!("{}: malformed line {line:?}", path.display()));
        };
        let want: u64 = size
            .parse()
            .map_err(|_| format!("{}: malformed line {line:?}", path.display()))?;
        if name.contains('/') {
            return Err(format!("{}: malformed name {name:?}", path.display()));
        }
        match std::fs::metadata(images.join(name)) {
            Ok(m) if m.len() == want => {}
            Ok(m) => {
                return Err(format!(
                    "checkpoint file {name} is {} bytes, {want} were written",
                    m.len()
                ));
            }
            Err(e) => return Err(format!("checkpoint file {name}: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_presence_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        std::fs::create_dir(&images).unwrap();
        std::fs::write(images.join("pages-1.img"), vec![7u8; 4096]).unwrap();
        std::fs::write(images.join("core-1.img"), b"core").unwrap();
        let manifest = dir.path().join("done");
        write(&images, &manifest).unwrap();
        verify(&images, &manifest).unwrap();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(images.join("pages-1.img"))
            .unwrap();
        f.set_len(2048).unwrap();
        let err = verify(&images, &manifest).unwrap_err();
        assert!(err.contains("pages-1.img is 2048 bytes, 4096"), "{err}");
        std::fs::remove_file(images.join("core-1.img")).unwrap();
        assert!(verify(&images, &manifest).is_err());
        // An old, empty marker checks nothing.
        std::fs::write(&manifest, "").unwrap();
        verify(&images, &manifest).unwrap();
    }
}
