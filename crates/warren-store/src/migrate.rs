//! Embedded schema migrations, applied in order, each in one transaction.

use sqlx::SqlitePool;

use crate::StoreError;

/// `(version, sql)`, ascending. Never edit a shipped migration; add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_keys_and_events.sql")),
    (3, include_str!("../migrations/0003_sandbox_metadata.sql")),
    (4, include_str!("../migrations/0004_snapshots.sql")),
    (5, include_str!("../migrations/0005_ssh_keys.sql")),
];

/// Bring the database up to the newest schema this binary knows.
pub(crate) async fn run(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS warren_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await
    .map_err(StoreError::query("create migrations table"))?;
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM warren_migrations")
        .fetch_one(pool)
        .await
        .map_err(StoreError::query("read schema version"))?;
    let current = current.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    for &(version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let fail = |source| StoreError::Migration { version, source };
        let mut tx = pool.begin().await.map_err(fail)?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
        sqlx::query("INSERT INTO warren_migrations (version, applied_at) VALUES (?, ?)")
            .bind(version)
            .bind(crate::sqlite::now_ms())
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
    }
    Ok(())
}
