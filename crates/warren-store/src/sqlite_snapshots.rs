//! Snapshots and sandbox activity for [`SqliteStore`].

use std::collections::BTreeMap;
use std::str::FromStr;

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::sqlite::is_unique_violation;
use crate::{NewEvent, SnapshotDependents, SnapshotRecord, SnapshotState, SqliteStore, StoreError};

const SNAPSHOT_COLUMNS: &str = "seq, id, name, state, source_sandbox, parent_snapshot, image_ref, image_digest, memory, spec, labels, fs_bytes, memory_bytes, paused_us, created_at";

fn snapshot_from_row(row: &SqliteRow) -> Result<SnapshotRecord, StoreError> {
    let get = |e: sqlx::Error| StoreError::Query {
        what: "decode snapshot",
        source: e,
    };
    let corrupt = |what: &'static str| move |detail: String| StoreError::Corrupt { what, detail };
    let state: String = row.try_get("state").map_err(get)?;
    let spec: String = row.try_get("spec").map_err(get)?;
    let labels: String = row.try_get("labels").map_err(get)?;
    let unsigned = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(SnapshotRecord {
        seq: row.try_get("seq").map_err(get)?,
        id: row.try_get("id").map_err(get)?,
        name: row.try_get("name").map_err(get)?,
        state: SnapshotState::from_str(&state).map_err(corrupt("snapshot state"))?,
        source_sandbox: row.try_get("source_sandbox").map_err(get)?,
        parent_snapshot: row.try_get("parent_snapshot").map_err(get)?,
        image_ref: row.try_get("image_ref").map_err(get)?,
        image_digest: row.try_get("image_digest").map_err(get)?,
        memory: row.try_get::<i64, _>("memory").map_err(get)? != 0,
        spec: serde_json::from_str(&spec).map_err(|e| corrupt("snapshot spec")(e.to_string()))?,
        labels: serde_json::from_str::<BTreeMap<String, String>>(&labels)
            .map_err(|e| corrupt("snapshot labels")(e.to_string()))?,
        fs_bytes: unsigned(row.try_get("fs_bytes").map_err(get)?),
        memory_bytes: unsigned(row.try_get("memory_bytes").map_err(get)?),
        paused_us: unsigned(row.try_get("paused_us").map_err(get)?),
        created_at: row.try_get("created_at").map_err(get)?,
    })
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl SqliteStore {
    pub(crate) async fn touch(&self, id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sandboxes SET last_active_at = ?1
             WHERE id = ?2 AND (last_active_at IS NULL OR last_active_at < ?1)",
        )
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("record sandbox activity"))?;
        Ok(())
    }

    /// Fail with `NotFound` unless snapshot `id` exists and is ready: checked in the transaction
    /// that makes something depend on it, so a concurrent delete cannot slip in between.
    pub(crate) async fn require_ready_snapshot(
        conn: &mut sqlx::SqliteConnection,
        id: &str,
    ) -> Result<(), StoreError> {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM snapshots WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::query("read snapshot state"))?;
        match state.as_deref() {
            Some("ready") => Ok(()),
            _ => Err(StoreError::NotFound {
                what: "snapshot",
                id: id.to_owned(),
            }),
        }
    }

    pub(crate) async fn insert_snapshot_row(
        &self,
        s: &SnapshotRecord,
        event: &NewEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        if let Some(parent) = &s.parent_snapshot {
            Self::require_ready_snapshot(&mut tx, parent).await?;
        }
        sqlx::query(
            "INSERT INTO snapshots (id, name, state, source_sandbox, parent_snapshot, image_ref,
                 image_digest, memory, spec, labels, fs_bytes, memory_bytes, paused_us, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&s.name)
        .bind(s.state.as_str())
        .bind(&s.source_sandbox)
        .bind(&s.parent_snapshot)
        .bind(&s.image_ref)
        .bind(&s.image_digest)
        .bind(i64::from(s.memory))
        .bind(s.spec.to_string())
        .bind(serde_json::to_string(&s.labels).unwrap_or_else(|_| "{}".into()))
        .bind(signed(s.fs_bytes))
        .bind(signed(s.memory_bytes))
        .bind(signed(s.paused_us))
        .bind(s.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::AlreadyExists {
                    what: "snapshot",
                    id: s.name.clone().unwrap_or_else(|| s.id.clone()),
                }
            } else {
                StoreError::Query {
                    what: "insert snapshot",
                    source: e,
                }
            }
        })?;
        Self::insert_event(&mut tx, event).await?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit insert snapshot"))
    }

    pub(crate) async fn get_snapshot_row(
        &self,
        id_or_name: &str,
    ) -> Result<Option<SnapshotRecord>, StoreError> {
        // An id wins over a name that happens to equal another snapshot's id.
        let row = sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE id = ?1 OR name = ?1
             ORDER BY (id = ?1) DESC LIMIT 1"
        ))
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("get snapshot"))?;
        row.as_ref().map(snapshot_from_row).transpose()
    }

    pub(crate) async fn list_snapshot_rows(
        &self,
        source_sandbox: Option<&str>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SnapshotRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM snapshots
             WHERE seq > ?1 AND (?2 IS NULL OR source_sandbox = ?2)
             ORDER BY seq LIMIT ?3"
        ))
        .bind(after.unwrap_or(0))
        .bind(source_sandbox)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("list snapshots"))?;
        rows.iter().map(snapshot_from_row).collect()
    }

    pub(crate) async fn finish_snapshot_row(
        &self,
        s: &SnapshotRecord,
        event: &NewEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE snapshots SET state = 'ready', fs_bytes = ?, memory_bytes = ?, paused_us = ?
             WHERE id = ? AND state = 'creating'",
        )
        .bind(signed(s.fs_bytes))
        .bind(signed(s.memory_bytes))
        .bind(signed(s.paused_us))
        .bind(&s.id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query("finish snapshot"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "snapshot being created",
                id: s.id.clone(),
            });
        }
        Self::insert_event(&mut tx, event).await?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit finish snapshot"))
    }

    pub(crate) async fn dependents(
        conn: &mut sqlx::SqliteConnection,
        id: &str,
    ) -> Result<SnapshotDependents, StoreError> {
        let sandboxes: Vec<String> =
            sqlx::query_scalar("SELECT id FROM sandboxes WHERE parent_snapshot = ? ORDER BY seq")
                .bind(id)
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::query("find sandboxes of a snapshot"))?;
        let snapshots: Vec<String> =
            sqlx::query_scalar("SELECT id FROM snapshots WHERE parent_snapshot = ? ORDER BY seq")
                .bind(id)
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::query("find snapshots of a snapshot"))?;
        Ok(SnapshotDependents {
            sandboxes,
            snapshots,
        })
    }

    pub(crate) async fn set_snapshot_row_state(
        &self,
        id: &str,
        state: SnapshotState,
        event: &NewEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        if matches!(state, SnapshotState::Deleting | SnapshotState::Archived) {
            // Checked in the same transaction as the change: no sandbox can be created from it
            // in between (creates insert their row, naming it, under the same write lock).
            let deps = Self::dependents(&mut tx, id).await?;
            if !deps.is_empty() {
                let mut users = Vec::new();
                if !deps.sandboxes.is_empty() {
                    users.push(format!("sandboxes {}", deps.sandboxes.join(", ")));
                }
                if !deps.snapshots.is_empty() {
                    users.push(format!("snapshots {}", deps.snapshots.join(", ")));
                }
                return Err(StoreError::InUse {
                    what: "snapshot",
                    id: id.to_owned(),
                    users: users.join(" and "),
                });
            }
        }
        let done = sqlx::query("UPDATE snapshots SET state = ? WHERE id = ?")
            .bind(state.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query("update snapshot state"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "snapshot",
                id: id.to_owned(),
            });
        }
        Self::insert_event(&mut tx, event).await?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit snapshot state"))
    }

    pub(crate) async fn delete_snapshot_row(
        &self,
        id: &str,
        event: &NewEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM snapshots WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query("delete snapshot"))?;
        Self::insert_event(&mut tx, event).await?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit delete snapshot"))
    }
}
