//! Filtered event queries for [`SqliteStore`].

use crate::sqlite::event_from_row;
use crate::{EventQuery, EventRecord, SqliteStore, StoreError};

/// Greater than every string that starts with the prefix it is appended to
/// (U+10FFFF is the largest scalar; its UTF-8 sorts after any other).
const PREFIX_END: char = '\u{10FFFF}';

impl SqliteStore {
    pub(crate) async fn events_matching(
        &self,
        q: &EventQuery,
    ) -> Result<Vec<EventRecord>, StoreError> {
        // A prefix match as a range, so the (action, seq) index serves it.
        let (lo, hi) = match &q.action_prefix {
            Some(p) => (Some(p.clone()), Some(format!("{p}{PREFIX_END}"))),
            None => (None, None),
        };
        let filter = "(?1 IS NULL OR sandbox_id = ?1)
             AND (?2 IS NULL OR (action >= ?2 AND action < ?3))";
        let sql = match q.after {
            Some(_) => format!(
                "SELECT seq, at, sandbox_id, action, from_state, to_state, actor, result, message
                 FROM events WHERE {filter} AND seq > ?4 ORDER BY seq LIMIT ?5"
            ),
            None => format!(
                "SELECT * FROM (SELECT seq, at, sandbox_id, action, from_state, to_state, actor, result, message
                   FROM events WHERE {filter} AND ?4 IS NULL ORDER BY seq DESC LIMIT ?5)
                 ORDER BY seq"
            ),
        };
        let rows = sqlx::query(&sql)
            .bind(q.sandbox_id.as_deref())
            .bind(lo)
            .bind(hi)
            .bind(q.after)
            .bind(i64::from(q.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("query events"))?;
        rows.iter().map(event_from_row).collect()
    }
}
