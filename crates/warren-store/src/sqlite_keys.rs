//! API key listing and revocation for [`SqliteStore`].

use sqlx::Row;

use crate::sqlite::key_from_row;
use crate::{ApiKeyRecord, NewEvent, SqliteStore, StoreError};

const KEY_COLUMNS: &str = "id, name, hash, prefix, created_at, revoked_at, scope, expires_at";

impl SqliteStore {
    pub(crate) async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("list api keys"))?;
        rows.iter().map(key_from_row).collect()
    }

    pub(crate) async fn get_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("get api key"))?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub(crate) async fn revoke_key(
        &self,
        id: &str,
        at: i64,
        event: &NewEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT revoked_at FROM api_keys WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::query("read api key"))?;
        let Some(row) = row else {
            return Err(StoreError::NotFound {
                what: "api key",
                id: id.to_owned(),
            });
        };
        let revoked: Option<i64> = row
            .try_get("revoked_at")
            .map_err(StoreError::query("decode api key"))?;
        if revoked.is_some() {
            return Ok(());
        }
        sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query("revoke api key"))?;
        Self::insert_event(&mut tx, event).await?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit revoke api key"))
    }
}
