//! Which sandbox holds which address, on disk: `<state>/leases/<sandbox id>` holds the address.
//! Written (and fsynced) before the sandbox uses the address, removed after its namespace is
//! gone, so a daemon that restarts knows every address in use.

use std::collections::HashMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The lease directory.
#[derive(Debug)]
pub(crate) struct Leases {
    dir: PathBuf,
}

impl Leases {
    pub(crate) fn open(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// Every lease on disk (files that do not parse are removed).
    pub(crate) fn load(&self) -> std::io::Result<HashMap<String, Ipv4Addr>> {
        let mut out = HashMap::new();
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ip = std::fs::read_to_string(entry.path())
                .ok()
                .and_then(|t| t.trim().parse().ok());
            match ip {
                Some(ip) if !name.ends_with(".tmp") => {
                    out.insert(name, ip);
                }
                _ => {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(out)
    }

    /// Record that `id` holds `ip`, durably.
    pub(crate) fn write(&self, id: &str, ip: Ipv4Addr) -> std::io::Result<()> {
        let tmp = self.dir.join(format!("{id}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(ip.to_string().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, self.dir.join(id))?;
        sync_dir(&self.dir)
    }

    /// Forget `id`'s lease. Idempotent.
    pub(crate) fn remove(&self, id: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.dir.join(id)) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let l = Leases::open(dir.path().join("leases")).unwrap();
        l.write("sb-1", "10.88.0.2".parse().unwrap()).unwrap();
        l.write("sb-2", "10.88.0.3".parse().unwrap()).unwrap();
        std::fs::write(dir.path().join("leases/garbage"), "nope").unwrap();
        l.remove("sb-2").unwrap();
        l.remove("sb-2").unwrap();
        let again = Leases::open(dir.path().join("leases")).unwrap();
        let all = again.load().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all["sb-1"], "10.88.0.2".parse::<Ipv4Addr>().unwrap());
        assert!(!dir.path().join("leases/garbage").exists());
    }
}
