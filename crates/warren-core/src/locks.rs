//! Per-sandbox operation locks: lifecycle operations on one sandbox run one
//! at a time, operations on different sandboxes run in parallel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// A map of sandbox id → async mutex, pruned as guards drop.
#[derive(Default)]
pub(crate) struct SandboxLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl SandboxLocks {
    /// Wait for exclusive use of sandbox `id`.
    pub(crate) async fn lock(&self, id: &str) -> OwnedMutexGuard<()> {
        let m = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            // Drop entries no one holds or waits for, so the map stays small.
            map.retain(|_, m| Arc::strong_count(m) > 1);
            map.entry(id.to_owned()).or_default().clone()
        };
        m.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn same_id_serializes_different_ids_do_not() {
        let locks = Arc::new(SandboxLocks::default());
        let g = locks.lock("a").await;
        // A different id is free.
        let _b = tokio::time::timeout(Duration::from_secs(1), locks.lock("b"))
            .await
            .unwrap();
        // The same id waits until the guard drops.
        let l2 = locks.clone();
        let waiter = tokio::spawn(async move { l2.lock("a").await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(g);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
