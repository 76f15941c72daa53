//! Finding the `warren-agent` binary that is bind-mounted into every sandbox.
//!
//! The agent runs inside images we know nothing about (no libc, a different libc, a different
//! loader path), so it must be a static ELF. Search order:
//! 1. `$WARREN_AGENT_BIN` (only that, when set);
//! 2. `warren-agent` next to the current executable (installed layout);
//! 3. the static cargo build, `<target>/x86_64-unknown-linux-gnu/{release,debug}/warren-agent`,
//!    found from the current executable in `target/{debug,release}/` or `target/*/deps/`.
//!
//! Dynamically linked candidates are skipped (and named in the error if nothing else is found).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Build hint shown when only a dynamic agent exists.
const BUILD_HINT: &str = "build the static agent with scripts/build.sh, i.e. \
RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release -p warren-agent \
--target x86_64-unknown-linux-gnu";

/// Why the agent binary cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AgentBinaryError {
    /// No candidate exists.
    #[error("warren-agent not found; tried: {}", join_paths(tried))]
    NotFound {
        /// Every path looked at.
        tried: Vec<PathBuf>,
    },
    /// The binary needs a dynamic loader, which sandbox images may not have.
    #[error("{path} is dynamically linked (it has an ELF interpreter); {BUILD_HINT}")]
    Dynamic {
        /// The dynamic binary.
        path: PathBuf,
    },
    /// The file is not a 64-bit little-endian ELF executable.
    #[error("{path} is not a 64-bit little-endian ELF file")]
    NotElf {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn join_paths(paths: &[PathBuf]) -> String {
    let v: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    v.join(", ")
}

/// Find the static agent binary (see the module docs for the search order).
pub fn find_agent_binary() -> Result<PathBuf, crate::RuntimeError> {
    Ok(find_in(&candidates())?)
}

fn candidates() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("WARREN_AGENT_BIN") {
        return vec![PathBuf::from(p)];
    }
    let mut out = Vec::new();
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    else {
        return out;
    };
    out.push(dir.join("warren-agent"));
    // target/debug/warren (binaries, examples' parent) and target/debug/deps/… (tests).
    let mut bases = vec![dir.join("..")];
    if dir
        .file_name()
        .is_some_and(|n| n == "deps" || n == "examples")
    {
        bases.push(dir.join("../.."));
    }
    for base in bases {
        for profile in ["release", "debug"] {
            out.push(
                base.join("x86_64-unknown-linux-gnu")
                    .join(profile)
                    .join("warren-agent"),
            );
        }
    }
    out
}

fn find_in(candidates: &[PathBuf]) -> Result<PathBuf, AgentBinaryError> {
    let mut dynamic = None;
    for c in candidates {
        if !c.is_file() {
            continue;
        }
        match check_static_elf(c) {
            Ok(()) => return Ok(normalize(c)),
            Err(e @ AgentBinaryError::Dynamic { .. }) => {
                dynamic.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(dynamic.unwrap_or_else(|| AgentBinaryError::NotFound {
        tried: candidates.to_vec(),
    }))
}

fn normalize(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Check that `path` is a 64-bit little-endian ELF without a `PT_INTERP` program header,
/// i.e. it runs without a dynamic loader (static or static-pie).
pub fn check_static_elf(path: &Path) -> Result<(), AgentBinaryError> {
    const PT_INTERP: u32 = 3;
    let read_err = |source| AgentBinaryError::Read {
        path: path.to_path_buf(),
        source,
    };
    let not_elf = || AgentBinaryError::NotElf {
        path: path.to_path_buf(),
    };
    let mut f = File::open(path).map_err(read_err)?;
    let mut hdr = [0u8; 64];
    f.read_exact(&mut hdr).map_err(|_| not_elf())?;
    // e_ident: magic, EI_CLASS = 2 (64-bit), EI_DATA = 1 (little-endian).
    if hdr[0..4] != *b"\x7fELF" || hdr[4] != 2 || hdr[5] != 1 {
        return Err(not_elf());
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let phoff = u64::from_le_bytes(hdr[32..40].try_into().map_err(|_| not_elf())?);
    let phentsize = usize::from(u16_at(&hdr, 54));
    let phnum = usize::from(u16_at(&hdr, 56));
    if phentsize < 4 || phnum == 0 {
        return Err(not_elf());
    }
    let mut table = vec![0u8; phentsize * phnum];
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(phoff)).map_err(read_err)?;
    f.read_exact(&mut table).map_err(|_| not_elf())?;
    let has_interp = table
        .chunks_exact(phentsize)
        .any(|ph| u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]) == PT_INTERP);
    if has_interp {
        return Err(AgentBinaryError::Dynamic {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_binary_is_rejected() {
        // /bin/sh on any glibc distro has an interpreter.
        let err = check_static_elf(Path::new("/bin/sh")).unwrap_err();
        assert!(matches!(err, AgentBinaryError::Dynamic { .. }), "{err}");
        assert!(err.to_string().contains("scripts/build.sh"));
    }

    #[test]
    fn non_elf_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("script");
        std::fs::write(&p, "#!/bin/sh\necho hi\n").unwrap();
        assert!(matches!(
            check_static_elf(&p),
            Err(AgentBinaryError::NotElf { .. })
        ));
    }

    #[test]
    fn static_binary_is_accepted() {
        // busybox-static, when installed, is a static ELF.
        let p = Path::new("/bin/busybox");
        if !p.exists() {
            eprintln!("skipping: /bin/busybox not installed");
            return;
        }
        check_static_elf(p).unwrap();
    }

    #[test]
    fn not_found_names_every_place() {
        let tried = vec![
            PathBuf::from("/nonexistent/a"),
            PathBuf::from("/nonexistent/b"),
        ];
        let err = find_in(&tried).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/nonexistent/a") && msg.contains("/nonexistent/b"),
            "{msg}"
        );
    }

    #[test]
    fn dynamic_candidate_is_skipped_for_a_static_one() {
        if !Path::new("/bin/busybox").exists() {
            eprintln!("skipping: /bin/busybox not installed");
            return;
        }
        let found = find_in(&[PathBuf::from("/bin/sh"), PathBuf::from("/bin/busybox")]).unwrap();
        assert!(found.ends_with("busybox"));
        let err = find_in(&[PathBuf::from("/bin/sh")]).unwrap_err();
        assert!(matches!(err, AgentBinaryError::Dynamic { .. }));
    }
}
