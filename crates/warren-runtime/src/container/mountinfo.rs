//! Reading `/proc/self/mountinfo`: which paths are mount points, and where cgroup hierarchies are.

use std::path::{Path, PathBuf};

/// One line of mountinfo, reduced to what we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountEntry {
    pub mount_point: PathBuf,
    pub fs_type: String,
}

/// Parse the current process's mount table.
pub(crate) fn read() -> std::io::Result<Vec<MountEntry>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

/// Parse mountinfo text: `id parent maj:min root mount_point opts [optional...] - fstype source super`.
pub(crate) fn parse(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let mount_point = fields.nth(4)?;
            let fs_type = fields.skip_while(|f| *f != "-").nth(1)?;
            Some(MountEntry {
                mount_point: PathBuf::from(unescape(mount_point)),
                fs_type: fs_type.to_owned(),
            })
        })
        .collect()
}

/// Undo the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when `path` is a mount point in the current mount namespace.
pub(crate) fn is_mounted(path: &Path) -> std::io::Result<bool> {
    Ok(read()?.iter().any(|m| m.mount_point == path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mount_points_and_types() {
        let text = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                    35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n\
                    90 1 0:50 / /var/lib/my\\040dir rw - overlay overlay rw,lowerdir=/a\n";
        let m = parse(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(m[1].fs_type, "cgroup");
        assert_eq!(m[2].mount_point, Path::new("/var/lib/my dir"));
        assert_eq!(m[2].fs_type, "overlay");
    }
}
