//! Public keys of the SSH gateway for [`SqliteStore`].

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::sqlite::is_unique_violation;
use crate::{NewEvent, SqliteStore, SshKeyRecord, StoreError};

const COLUMNS: &str = "id, name, fingerprint, public_key, comment, created_at";

fn from_row(row: &SqliteRow) -> Result<SshKeyRecord, StoreError> {
    Ok(SshKeyRecord {
        id: row
            .try_get("id")
            .map_err(StoreError::query("decode ssh key"))?,
        name: row
            .try_get("name")
            .map_err(StoreError::query("decode ssh key"))?,
        fingerprint: row
            .try_get("fingerprint")
            .map_err(StoreError::query("decode ssh key"))?,
        public_key: row
            .try_get("public_key")
            .map_err(StoreError::query("decode ssh key"))?,
        comment: row
            .try_get("comment")
            .map_err(StoreError::query("decode ssh key"))?,
        created_at: row
            .try_get("created_at")
            .map_err(StoreError::query("decode ssh key"))?,
    })
}

impl SqliteStore {
    pub(crate) async fn insert_ssh_key_row(
        &self,
        key: &SshKeyRecord,
        event: &NewEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(&format!(
            "INSERT INTO ssh_keys ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.fingerprint)
        .bind(&key.public_key)
        .bind(&key.comment)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::AlreadyExists {
                    what: "ssh key",
                    id: key.fingerprint.clone(),
                }
            } else {
                StoreError::Query {
                    what: "insert ssh key",
                    source: e,
                }
            }
        })?;
        Self::insert_event(&mut tx, event).await?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit insert ssh key"))
    }

    pub(crate) async fn list_ssh_key_rows(&self) -> Result<Vec<SshKeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM ssh_keys ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("list ssh keys"))?;
        rows.iter().map(from_row).collect()
    }

    pub(crate) async fn find_ssh_key_row(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<SshKeyRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM ssh_keys WHERE {column} = ?"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("find ssh key"))?;
        row.as_ref().map(from_row).transpose()
    }

    pub(crate) async fn delete_ssh_key_row(
        &self,
        id: &str,
        event: &NewEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM ssh_keys WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query("delete ssh key"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "ssh key",
                id: id.to_owned(),
            });
        }
        Self::insert_event(&mut tx, event).await?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit delete ssh key"))
    }
}

#[cfg(test)]
mod tests {
    use crate::{NewEvent, SqliteStore, SshKeyRecord, Store, StoreError};

    fn event(action: &str) -> NewEvent {
        NewEvent {
            at: 1,
            sandbox_id: None,
            action: action.into(),
            from_state: None,
            to_state: None,
            actor: Some("test".into()),
            ok: true,
            message: None,
        }
    }

    fn key(id: &str, fp: &str) -> SshKeyRecord {
        SshKeyRecord {
            id: id.into(),
            name: "laptop".into(),
            fingerprint: fp.into(),
            public_key: "ssh-ed25519 AAAA".into(),
            comment: "me@host".into(),
            created_at: 5,
        }
    }

    #[tokio::test]
    async fn insert_find_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("w.db")).await.unwrap();
        store
            .insert_ssh_key(&key("sk-1", "SHA256:a"), &event("ssh_key.add"))
            .await
            .unwrap();
        let dup = store
            .insert_ssh_key(&key("sk-2", "SHA256:a"), &event("ssh_key.add"))
            .await;
        assert!(matches!(dup, Err(StoreError::AlreadyExists { .. })));
        let found = store.find_ssh_key("SHA256:a").await.unwrap().unwrap();
        assert_eq!(found, key("sk-1", "SHA256:a"));
        assert!(store.find_ssh_key("SHA256:b").await.unwrap().is_none());
        assert_eq!(store.list_ssh_keys().await.unwrap().len(), 1);
        store
            .delete_ssh_key("sk-1", &event("ssh_key.delete"))
            .await
            .unwrap();
        assert!(store.list_ssh_keys().await.unwrap().is_empty());
        let again = store.delete_ssh_key("sk-1", &event("ssh_key.delete")).await;
        assert!(matches!(again, Err(StoreError::NotFound { .. })));
    }
}
