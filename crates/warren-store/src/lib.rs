//! warren's durable state: sandboxes, API keys and events.
//!
//! [`Store`] is the trait the domain layer (`warren-core`) talks to; it knows
//! nothing of SQL. [`SqliteStore`] is the embedded default (one file,
//! `warren.db`, WAL journal, `synchronous=FULL` so an acknowledged write
//! survives a crash). A PostgreSQL backend will implement the same trait.
//!
//! Migrations are SQL files compiled into the binary and applied in order at
//! open, each in its own transaction, recorded in `warren_migrations`.
#![forbid(unsafe_code)]

mod error;
mod migrate;
mod model;
mod sqlite;
mod sqlite_events;
mod sqlite_keys;
mod sqlite_snapshots;
mod sqlite_ssh_keys;

use std::future::Future;
use std::pin::Pin;

pub use error::StoreError;
pub use model::{
    ApiKeyRecord, EventQuery, EventRecord, NewEvent, SandboxFilter, SandboxRecord, SandboxState,
    SandboxUpdate, SnapshotDependents, SnapshotRecord, SnapshotState, SshKeyRecord, Transition,
};
pub use sqlite::SqliteStore;

/// A boxed future, so [`Store`] can be used as `dyn Store`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything warren persists, behind one trait so backends can be swapped.
pub trait Store: Send + Sync + 'static {
    /// Insert a new sandbox (its `seq` is assigned) and record `event` in the same transaction.
    fn insert_sandbox<'a>(
        &'a self,
        sandbox: &'a SandboxRecord,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// One sandbox by id.
    fn get_sandbox<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SandboxRecord>, StoreError>>;

    /// Sandboxes in creation order, starting after the one with `seq == after`.
    fn list_sandboxes(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<SandboxRecord>, StoreError>>;

    /// Like [`Store::list_sandboxes`], keeping only the sandboxes that match `filter`.
    fn find_sandboxes<'a>(
        &'a self,
        filter: &'a SandboxFilter,
        after: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<SandboxRecord>, StoreError>>;

    /// Move a sandbox to a new state and record the event atomically. Fails
    /// with [`StoreError::StateConflict`] when the current state is not `from`.
    fn transition<'a>(
        &'a self,
        transition: &'a Transition,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Replace a sandbox's labels and/or metadata and record the event atomically; returns the
    /// updated row. Fails with [`StoreError::NotFound`] when there is no such sandbox.
    fn update_sandbox<'a>(
        &'a self,
        update: &'a SandboxUpdate,
    ) -> BoxFuture<'a, Result<SandboxRecord, StoreError>>;

    /// Remove a sandbox's row and record `event` in the same transaction.
    fn delete_sandbox<'a>(
        &'a self,
        id: &'a str,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// How many sandboxes and snapshots use the image with this manifest digest.
    fn count_sandboxes_with_image<'a>(
        &'a self,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Record an event that is not tied to a state change.
    fn append_event<'a>(&'a self, event: &'a NewEvent) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Events, newest last, optionally for one sandbox.
    fn list_events<'a>(
        &'a self,
        sandbox_id: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, StoreError>>;

    /// Store a new API key (hash only).
    fn insert_api_key<'a>(&'a self, key: &'a ApiKeyRecord)
    -> BoxFuture<'a, Result<(), StoreError>>;

    /// The unrevoked, unexpired key with this hash, if any.
    fn find_api_key<'a>(
        &'a self,
        hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>>;

    /// Number of API keys ever created (revoked included).
    fn count_api_keys(&self) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Every API key (revoked and expired included), oldest first.
    fn list_api_keys(&self) -> BoxFuture<'_, Result<Vec<ApiKeyRecord>, StoreError>>;

    /// One API key by id.
    fn get_api_key<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>>;

    /// Mark a key revoked at `at` (Unix ms) and record `event` in the same
    /// transaction. Revoking a revoked key changes nothing and records
    /// nothing; an unknown id is [`StoreError::NotFound`].
    fn revoke_api_key<'a>(
        &'a self,
        id: &'a str,
        at: i64,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Store a public key of the SSH gateway and record `event` in the same transaction; a
    /// key with the same fingerprint is [`StoreError::AlreadyExists`].
    fn insert_ssh_key<'a>(
        &'a self,
        key: &'a SshKeyRecord,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Every SSH public key, oldest first.
    fn list_ssh_keys(&self) -> BoxFuture<'_, Result<Vec<SshKeyRecord>, StoreError>>;

    /// The SSH public key with this fingerprint (`SHA256:...`), if any.
    fn find_ssh_key<'a>(
        &'a self,
        fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Option<SshKeyRecord>, StoreError>>;

    /// One SSH public key by id.
    fn get_ssh_key<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SshKeyRecord>, StoreError>>;

    /// Delete an SSH public key and record `event` in the same transaction; an unknown id is
    /// [`StoreError::NotFound`].
    fn delete_ssh_key<'a>(
        &'a self,
        id: &'a str,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Events matching `query`, oldest first.
    fn query_events<'a>(
        &'a self,
        query: &'a EventQuery,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, StoreError>>;

    /// Record that something touched the sandbox at `at` (Unix ms); never moves it backwards.
    fn touch_sandbox<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Insert a new snapshot (its `seq` is assigned) and record `event` atomically. A taken
    /// name is [`StoreError::AlreadyExists`].
    fn insert_snapshot<'a>(
        &'a self,
        snapshot: &'a SnapshotRecord,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// One snapshot by id, or else by name.
    fn get_snapshot<'a>(
        &'a self,
        id_or_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<SnapshotRecord>, StoreError>>;

    /// Snapshots in creation order after `after`, optionally only those of one source sandbox.
    fn list_snapshots<'a>(
        &'a self,
        source_sandbox: Option<&'a str>,
        after: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<SnapshotRecord>, StoreError>>;

    /// Mark a `creating` snapshot `ready` with its sizes and pause, recording `event`.
    fn finish_snapshot<'a>(
        &'a self,
        snapshot: &'a SnapshotRecord,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Move a snapshot to `state` (e.g. `deleting`), recording `event`. Fails with
    /// [`StoreError::InUse`] when moving to `deleting` or `archived` while anything depends on
    /// it.
    fn set_snapshot_state<'a>(
        &'a self,
        id: &'a str,
        state: SnapshotState,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// What depends on a snapshot.
    fn snapshot_dependents<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<SnapshotDependents, StoreError>>;

    /// Remove a snapshot's row and record `event` in the same transaction.
    fn delete_snapshot<'a>(
        &'a self,
        id: &'a str,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}
