//! Store errors.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open database {path}")]
    Open {
        /// The database path.
        path: std::path::PathBuf,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A schema migration failed; the database is left at the previous version.
    #[error("database migration {version} failed")]
    Migration {
        /// The migration that failed.
        version: i64,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database was written by a newer warren.
    #[error("database schema version {found} is newer than this warren understands ({known})")]
    SchemaTooNew {
        /// Version in the file.
        found: i64,
        /// Highest version this binary knows.
        known: i64,
    },
    /// A query failed.
    #[error("database query failed: {what}")]
    Query {
        /// Which operation.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored row does not decode (corrupt or hand-edited database).
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt {
        /// Which kind of row.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The row does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// Kind of object.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The object exists but is not in the state the caller expected.
    #[error("sandbox {id} is {actual}, not {expected}")]
    StateConflict {
        /// Sandbox id.
        id: String,
        /// State the caller expected.
        expected: SandboxState,
        /// State found.
        actual: SandboxState,
    },
    /// The object is still used by others and cannot be removed.
    #[error("{what} {id} is in use by {users}")]
    InUse {
        /// Kind of object.
        what: &'static str,
        /// Its id.
        id: String,
        /// Who uses it, for the message (e.g. "sandboxes sb-1, sb-2").
        users: String,
    },
    /// A unique key already exists.
    #[error("{what} {id} already exists")]
    AlreadyExists {
        /// Kind of object.
        what: &'static str,
        /// Its id.
        id: String,
    },
}

use crate::SandboxState;

impl StoreError {
    pub(crate) fn query(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { what, source }
    }
}
