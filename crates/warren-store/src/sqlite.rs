//! The SQLite implementation of [`Store`].

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use crate::{
    ApiKeyRecord, BoxFuture, EventQuery, EventRecord, NewEvent, SandboxFilter, SandboxRecord,
    SandboxState, SandboxUpdate, SnapshotDependents, SnapshotRecord, SnapshotState, SshKeyRecord,
    Store, StoreError, Transition,
};

/// Current time in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// warren's embedded database: one SQLite file in WAL mode.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

const SANDBOX_COLUMNS: &str = "seq, id, state, image_ref, image_digest, spec, labels, metadata, error, created_at, updated_at, parent_snapshot, last_active_at";

impl SqliteStore {
    /// Open (creating if needed) the database at `path` and migrate it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: every commit is fsynced before it is acknowledged.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        crate::migrate::run(&pool).await?;
        Ok(Self { pool })
    }

    /// A write transaction that takes SQLite's write lock up front. A default
    /// (deferred) transaction that reads first and writes later cannot wait
    /// for the lock when another writer commits in between: SQLite fails it at
    /// once with "database is locked". `BEGIN IMMEDIATE` waits (busy_timeout).
    pub(crate) async fn write_tx(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::query("begin write transaction"))
    }

    pub(crate) async fn insert_event(
        conn: &mut sqlx::SqliteConnection,
        ev: &NewEvent,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO events (at, sandbox_id, action, from_state, to_state, actor, result, message)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(ev.at)
        .bind(&ev.sandbox_id)
        .bind(&ev.action)
        .bind(ev.from_state.map(SandboxState::as_str))
        .bind(ev.to_state.map(SandboxState::as_str))
        .bind(&ev.actor)
        .bind(if ev.ok { "ok" } else { "error" })
        .bind(&ev.message)
        .execute(conn)
        .await
        .map_err(StoreError::query("insert event"))?;
        Ok(())
    }
}

fn parse_state(s: &str) -> Result<SandboxState, StoreError> {
    SandboxState::from_str(s).map_err(|detail| StoreError::Corrupt {
        what: "sandbox state",
        detail,
    })
}

fn sandbox_from_row(row: &SqliteRow) -> Result<SandboxRecord, StoreError> {
    let corrupt = |what: &'static str| {
        move |e: serde_json::Error| StoreError::Corrupt {
            what,
            detail: e.to_string(),
        }
    };
    let get = |e: sqlx::Error| StoreError::Query {
        what: "decode sandbox",
        source: e,
    };
    let spec: String = row.try_get("spec").map_err(get)?;
    let labels: String = row.try_get("labels").map_err(get)?;
    let metadata: String = row.try_get("metadata").map_err(get)?;
    let state: String = row.try_get("state").map_err(get)?;
    Ok(SandboxRecord {
        seq: row.try_get("seq").map_err(get)?,
        id: row.try_get("id").map_err(get)?,
        state: parse_state(&state)?,
        image_ref: row.try_get("image_ref").map_err(get)?,
        image_digest: row.try_get("image_digest").map_err(get)?,
        spec: serde_json::from_str(&spec).map_err(corrupt("sandbox spec"))?,
        labels: serde_json::from_str::<BTreeMap<String, String>>(&labels)
            .map_err(corrupt("sandbox labels"))?,
        metadata: serde_json::from_str::<BTreeMap<String, String>>(&metadata)
            .map_err(corrupt("sandbox metadata"))?,
        error: row.try_get("error").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
        parent_snapshot: row.try_get("parent_snapshot").map_err(get)?,
        last_active_at: row.try_get("last_active_at").map_err(get)?,
    })
}

pub(crate) fn event_from_row(row: &SqliteRow) -> Result<EventRecord, StoreError> {
    let get = |e: sqlx::Error| StoreError::Query {
        what: "decode event",
        source: e,
    };
    let state = |col: &str| -> Result<Option<SandboxState>, StoreError> {
        let s: Option<String> = row.try_get(col).map_err(get)?;
        s.as_deref().map(parse_state).transpose()
    };
    let result: String = row.try_get("result").map_err(get)?;
    Ok(EventRecord {
        seq: row.try_get("seq").map_err(get)?,
        at: row.try_get("at").map_err(get)?,
        sandbox_id: row.try_get("sandbox_id").map_err(get)?,
        action: row.try_get("action").map_err(get)?,
        from_state: state("from_state")?,
        to_state: state("to_state")?,
        actor: row.try_get("actor").map_err(get)?,
        ok: result == "ok",
        message: row.try_get("message").map_err(get)?,
    })
}

pub(crate) fn key_from_row(row: &SqliteRow) -> Result<ApiKeyRecord, StoreError> {
    let get = |e: sqlx::Error| StoreError::Query {
        what: "decode api key",
        source: e,
    };
    Ok(ApiKeyRecord {
        id: row.try_get("id").map_err(get)?,
        name: row.try_get("name").map_err(get)?,
        hash: row.try_get("hash").map_err(get)?,
        prefix: row.try_get("prefix").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        revoked_at: row.try_get("revoked_at").map_err(get)?,
        scope: row.try_get("scope").map_err(get)?,
        expires_at: row.try_get("expires_at").map_err(get)?,
    })
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Store for SqliteStore {
    fn touch_sandbox<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.touch(id, at))
    }

    fn insert_snapshot<'a>(
        &'a self,
        snapshot: &'a SnapshotRecord,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.insert_snapshot_row(snapshot, event))
    }

    fn get_snapshot<'a>(
        &'a self,
        id_or_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<SnapshotRecord>, StoreError>> {
        Box::pin(self.get_snapshot_row(id_or_name))
    }

    fn list_snapshots<'a>(
        &'a self,
        source_sandbox: Option<&'a str>,
        after: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<SnapshotRecord>, StoreError>> {
        Box::pin(self.list_snapshot_rows(source_sandbox, after, limit))
    }

    fn finish_snapshot<'a>(
        &'a self,
        snapshot: &'a SnapshotRecord,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.finish_snapshot_row(snapshot, event))
    }

    fn set_snapshot_state<'a>(
        &'a self,
        id: &'a str,
        state: SnapshotState,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.set_snapshot_row_state(id, state, event))
    }

    fn snapshot_dependents<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<SnapshotDependents, StoreError>> {
        Box::pin(async move {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(StoreError::query("acquire"))?;
            Self::dependents(&mut conn, id).await
        })
    }

    fn delete_snapshot<'a>(
        &'a self,
        id: &'a str,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete_snapshot_row(id, event))
    }

    fn insert_sandbox<'a>(
        &'a self,
        sb: &'a SandboxRecord,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut tx = self.write_tx().await?;
            if let Some(parent) = &sb.parent_snapshot {
                Self::require_ready_snapshot(&mut tx, parent).await?;
            }
            let labels = serde_json::to_string(&sb.labels).unwrap_or_else(|_| "{}".into());
            let metadata = serde_json::to_string(&sb.metadata).unwrap_or_else(|_| "{}".into());
            sqlx::query(
                "INSERT INTO sandboxes (id, state, image_ref, image_digest, spec, labels, metadata, error, created_at, updated_at, parent_snapshot, last_active_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&sb.id)
            .bind(sb.state.as_str())
            .bind(&sb.image_ref)
            .bind(&sb.image_digest)
            .bind(sb.spec.to_string())
            .bind(labels)
            .bind(metadata)
            .bind(&sb.error)
            .bind(sb.created_at)
            .bind(sb.updated_at)
            .bind(&sb.parent_snapshot)
            .bind(sb.last_active_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists { what: "sandbox", id: sb.id.clone() }
                } else {
                    StoreError::Query { what: "insert sandbox", source: e }
                }
            })?;
            Self::insert_event(&mut tx, event).await?;
            tx.commit()
                .await
                .map_err(StoreError::query("commit insert sandbox"))
        })
    }

    fn get_sandbox<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SandboxRecord>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query(&format!(
                "SELECT {SANDBOX_COLUMNS} FROM sandboxes WHERE id = ?"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("get sandbox"))?;
            row.as_ref().map(sandbox_from_row).transpose()
        })
    }

    fn list_sandboxes(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<SandboxRecord>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {SANDBOX_COLUMNS} FROM sandboxes WHERE seq > ? ORDER BY seq LIMIT ?"
            ))
            .bind(after.unwrap_or(0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("list sandboxes"))?;
            rows.iter().map(sandbox_from_row).collect()
        })
    }

    fn find_sandboxes<'a>(
        &'a self,
        filter: &'a SandboxFilter,
        after: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<SandboxRecord>, StoreError>> {
        Box::pin(async move {
            let mut sql = format!("SELECT {SANDBOX_COLUMNS} FROM sandboxes WHERE seq > ?");
            if filter.state.is_some() {
                sql.push_str(" AND state = ?");
            }
            if filter.image.is_some() {
                sql.push_str(" AND image_ref = ?");
            }
            for _ in &filter.labels {
                // Keys are `[A-Za-z0-9._/-]` (validated), so quoting them in the path is safe.
                sql.push_str(" AND json_extract(labels, ?) = ?");
            }
            sql.push_str(" ORDER BY seq LIMIT ?");
            let mut q = sqlx::query(&sql).bind(after.unwrap_or(0));
            if let Some(state) = filter.state {
                q = q.bind(state.as_str());
            }
            if let Some(image) = &filter.image {
                q = q.bind(image);
            }
            for (key, value) in &filter.labels {
                q = q.bind(format!("$.\"{key}\"")).bind(value);
            }
            let rows = q
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::query("find sandboxes"))?;
            rows.iter().map(sandbox_from_row).collect()
        })
    }

    fn transition<'a>(&'a self, t: &'a Transition) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut tx = self.write_tx().await?;
            let current: Option<String> =
                sqlx::query_scalar("SELECT state FROM sandboxes WHERE id = ?")
                    .bind(&t.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query("read sandbox state"))?;
            let Some(current) = current else {
                return Err(StoreError::NotFound {
                    what: "sandbox",
                    id: t.id.clone(),
                });
            };
            let current = parse_state(&current)?;
            if let Some(expected) = t.from
                && expected != current
            {
                return Err(StoreError::StateConflict {
                    id: t.id.clone(),
                    expected,
                    actual: current,
                });
            }
            sqlx::query("UPDATE sandboxes SET state = ?, error = ?, updated_at = ? WHERE id = ?")
                .bind(t.to.as_str())
                .bind(&t.error)
                .bind(t.at)
                .bind(&t.id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query("update sandbox state"))?;
            let mut event = t.event.clone();
            event.from_state.get_or_insert(current);
            event.to_state.get_or_insert(t.to);
            Self::insert_event(&mut tx, &event).await?;
            tx.commit()
                .await
                .map_err(StoreError::query("commit transition"))
        })
    }

    fn update_sandbox<'a>(
        &'a self,
        u: &'a SandboxUpdate,
    ) -> BoxFuture<'a, Result<SandboxRecord, StoreError>> {
        Box::pin(async move {
            let mut tx = self.write_tx().await?;
            let json = |m: &Option<BTreeMap<String, String>>| {
                m.as_ref()
                    .map(|m| serde_json::to_string(m).unwrap_or_else(|_| "{}".into()))
            };
            let done = sqlx::query(
                "UPDATE sandboxes SET labels = COALESCE(?, labels), metadata = COALESCE(?, metadata),
                     spec = COALESCE(?, spec)
                 WHERE id = ?",
            )
            .bind(json(&u.labels))
            .bind(json(&u.metadata))
            .bind(u.spec.as_ref().map(|v| v.to_string()))
            .bind(&u.id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query("update sandbox"))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound {
                    what: "sandbox",
                    id: u.id.clone(),
                });
            }
            let row = sqlx::query(&format!(
                "SELECT {SANDBOX_COLUMNS} FROM sandboxes WHERE id = ?"
            ))
            .bind(&u.id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query("read updated sandbox"))?;
            let record = sandbox_from_row(&row)?;
            Self::insert_event(&mut tx, &u.event).await?;
            tx.commit()
                .await
                .map_err(StoreError::query("commit update sandbox"))?;
            Ok(record)
        })
    }

    fn delete_sandbox<'a>(
        &'a self,
        id: &'a str,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut tx = self.write_tx().await?;
            sqlx::query("DELETE FROM sandboxes WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query("delete sandbox"))?;
            Self::insert_event(&mut tx, event).await?;
            tx.commit()
                .await
                .map_err(StoreError::query("commit delete sandbox"))
        })
    }

    fn count_sandboxes_with_image<'a>(
        &'a self,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM sandboxes WHERE image_digest = ?1)
                      + (SELECT COUNT(*) FROM snapshots WHERE image_digest = ?1)",
            )
            .bind(digest)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("count sandboxes by image"))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn append_event<'a>(&'a self, event: &'a NewEvent) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(StoreError::query("acquire"))?;
            Self::insert_event(&mut conn, event).await
        })
    }

    fn list_events<'a>(
        &'a self,
        sandbox_id: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT * FROM (SELECT seq, at, sandbox_id, action, from_state, to_state, actor, result, message
                   FROM events WHERE (?1 IS NULL OR sandbox_id = ?1) ORDER BY seq DESC LIMIT ?2)
                 ORDER BY seq",
            )
            .bind(sandbox_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("list events"))?;
            rows.iter().map(event_from_row).collect()
        })
    }

    fn insert_api_key<'a>(
        &'a self,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO api_keys (id, name, hash, prefix, created_at, revoked_at, scope, expires_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&key.id)
            .bind(&key.name)
            .bind(&key.hash)
            .bind(&key.prefix)
            .bind(key.created_at)
            .bind(key.revoked_at)
            .bind(&key.scope)
            .bind(key.expires_at)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists { what: "api key", id: key.id.clone() }
                } else {
                    StoreError::Query { what: "insert api key", source: e }
                }
            })?;
            Ok(())
        })
    }

    fn find_api_key<'a>(
        &'a self,
        hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, name, hash, prefix, created_at, revoked_at, scope, expires_at FROM api_keys
                 WHERE hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
            )
            .bind(hash)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("find api key"))?;
            row.as_ref().map(key_from_row).transpose()
        })
    }

    fn count_api_keys(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::query("count api keys"))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn list_api_keys(&self) -> BoxFuture<'_, Result<Vec<ApiKeyRecord>, StoreError>> {
        Box::pin(self.list_keys())
    }

    fn get_api_key<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>> {
        Box::pin(self.get_key(id))
    }

    fn revoke_api_key<'a>(
        &'a self,
        id: &'a str,
        at: i64,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.revoke_key(id, at, event))
    }

    fn query_events<'a>(
        &'a self,
        query: &'a EventQuery,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, StoreError>> {
        Box::pin(self.events_matching(query))
    }

    fn insert_ssh_key<'a>(
        &'a self,
        key: &'a SshKeyRecord,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.insert_ssh_key_row(key, event))
    }

    fn list_ssh_keys(&self) -> BoxFuture<'_, Result<Vec<SshKeyRecord>, StoreError>> {
        Box::pin(self.list_ssh_key_rows())
    }

    fn find_ssh_key<'a>(
        &'a self,
        fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Option<SshKeyRecord>, StoreError>> {
        Box::pin(self.find_ssh_key_row("fingerprint", fingerprint))
    }

    fn get_ssh_key<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SshKeyRecord>, StoreError>> {
        Box::pin(self.find_ssh_key_row("id", id))
    }

    fn delete_ssh_key<'a>(
        &'a self,
        id: &'a str,
        event: &'a NewEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete_ssh_key_row(id, event))
    }
}
