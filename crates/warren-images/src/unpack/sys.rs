//! The only unsafe code in the crate: thin wrappers over the three syscalls
//! std does not offer (mknod of a whiteout device, lsetxattr, and setting a
//! symlink's or directory's mtime without following it).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Creates the overlayfs whiteout at `path`: a character device 0:0, mode 0.
/// Fails with `EEXIST` if anything (including a dangling symlink) is there;
/// mknod never follows a symlink in the last component.
pub(crate) fn mknod_whiteout(path: &Path) -> io::Result<()> {
    let c = cstr(path)?;
    let dev = libc::makedev(0, 0);
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // mknod does not retain the pointer.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, dev) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets extended attribute `name` on `path` itself (never a symlink's target).
pub(crate) fn lsetxattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c = cstr(path)?;
    let n = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "xattr name contains NUL"))?;
    // SAFETY: `c` and `n` are valid NUL-terminated strings and `value` is a
    // valid slice of `value.len()` bytes; all outlive the call, which does
    // not retain the pointers.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets atime and mtime of `path` to `secs` without following a symlink in
/// the last component. Parents must already be known to be real directories.
pub(crate) fn lutimes(path: &Path, secs: i64) -> io::Result<()> {
    let c = cstr(path)?;
    let t = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: `c` is a valid NUL-terminated string and `times` an array of
    // two initialised timespecs, both outliving the call.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads extended attribute `name` of `path` itself (tests only).
#[cfg(test)]
pub(crate) fn lgetxattr(path: &Path, name: &str) -> io::Result<Vec<u8>> {
    let c = cstr(path)?;
    let n = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = vec![0u8; 256];
    // SAFETY: `c`/`n` are valid NUL-terminated strings and `buf` is a
    // writable buffer of `buf.len()` bytes; all outlive the call.
    let rc = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(rc as usize);
    Ok(buf)
}
