//! The one error type of this crate. Every variant names the archive key (or the local path)
//! it concerns; none ever carries the S3 secret.

use std::path::PathBuf;

/// Which half of the tar pipeline failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarOp {
    /// `tar --create`, run by [`crate::Archive::put_dir`].
    Create,
    /// `tar --extract`, run by [`crate::Archive::get_dir`].
    Extract,
}

impl std::fmt::Display for TarOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TarOp::Create => "tar --create",
            TarOp::Extract => "tar --extract",
        })
    }
}

/// What went wrong while archiving or restoring a directory.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The key is not of the accepted form (see [`crate::validate_key`]).
    #[error("invalid archive key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key.
        key: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The storage backend could not be set up from the configuration.
    #[error("invalid archive storage configuration ({target})")]
    Config {
        /// What was being configured, as [`crate::Archive::describe`] would print it.
        target: String,
        /// The backend's complaint.
        #[source]
        source: Box<object_store::Error>,
    },
    /// The local archive directory could not be created.
    #[error("cannot create the archive directory {dir}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The directory to archive could not be read.
    #[error("cannot read {dir}, the directory to archive as {key}")]
    Source {
        /// The archive key.
        key: String,
        /// The directory (or the entry inside it that failed).
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// GNU tar could not be started.
    #[error("cannot start {op} for archive {key} (is GNU tar installed?)")]
    TarSpawn {
        /// The archive key.
        key: String,
        /// Create or extract.
        op: TarOp,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// GNU tar exited with an error.
    #[error("{op} for archive {key} failed ({status}): {stderr}")]
    Tar {
        /// The archive key.
        key: String,
        /// Create or extract.
        op: TarOp,
        /// tar's exit status.
        status: std::process::ExitStatus,
        /// The end of what tar printed on stderr.
        stderr: String,
    },
    /// Moving bytes between tar, the compressor and the object store failed locally (a pipe
    /// broke, compression failed).
    #[error("streaming archive {key} through {op} failed")]
    Pipe {
        /// The archive key.
        key: String,
        /// Create or extract.
        op: TarOp,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No archive is stored under the key.
    #[error("no archive {key} in {target}")]
    NotFound {
        /// The archive key.
        key: String,
        /// The storage, as [`crate::Archive::describe`] prints it.
        target: String,
    },
    /// The storage backend failed (network, permissions, disk).
    #[error("{op} of archive {key} in {target} failed")]
    Storage {
        /// The archive key.
        key: String,
        /// What was being done: "upload", "download", "delete", "lookup".
        op: &'static str,
        /// The storage, as [`crate::Archive::describe`] prints it.
        target: String,
        /// The backend's error (boxed: it is large).
        #[source]
        source: Box<object_store::Error>,
    },
    /// The stored object is not a complete warren archive: truncated, damaged or something
    /// else stored under the key.
    #[error("archive {key} is corrupt: {reason}")]
    Corrupt {
        /// The archive key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The stored bytes do not decompress.
    #[error("archive {key} is corrupt: its data does not decompress")]
    Decompress {
        /// The archive key.
        key: String,
        /// The decompressor's error.
        #[source]
        source: std::io::Error,
    },
    /// The stored bytes do not match the checksum recorded when they were written.
    #[error("archive {key} is corrupt: sha256 {actual} does not match the recorded {expected}")]
    ChecksumMismatch {
        /// The archive key.
        key: String,
        /// The sha256 recorded in the archive (hex).
        expected: String,
        /// The sha256 of the bytes downloaded (hex).
        actual: String,
    },
    /// The restore destination already exists.
    #[error("cannot restore archive {key}: {dest} already exists")]
    DestExists {
        /// The archive key.
        key: String,
        /// The destination.
        dest: PathBuf,
    },
    /// A local filesystem operation of a restore failed (temp directory, socket files, the
    /// final rename).
    #[error("cannot restore archive {key} into {path}")]
    Dest {
        /// The archive key.
        key: String,
        /// The path the operation was on.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
