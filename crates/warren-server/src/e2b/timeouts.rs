//! E2B's timeouts: a running sandbox made through the E2B routes ends at its `e2b.end_at` —
//! deleted, or hibernated when it was created with `autoPause`. A loop checks every second;
//! the end time is a label on the sandbox, so a restarted daemon keeps every clock (a sandbox
//! whose end passed while the daemon was down ends on the first check). Paused sandboxes are
//! never ended: their clock stands still.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use warren_core::{Core, SandboxState};

use super::labels::{E2bState, now_ms};
use super::list::all_managed;
use crate::AppState;

/// The actor of automatic ends.
const ACTOR: &str = "e2b-timeout";
/// How often end times are checked.
const EVERY: Duration = Duration::from_secs(1);

/// Start the loop that ends E2B sandboxes at their end time (call once, on a tokio runtime).
pub fn spawn_e2b_timeouts(state: AppState) {
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match all_managed(&state).await {
                Ok(sandboxes) => {
                    let now = now_ms();
                    for sb in sandboxes {
                        let e2b = E2bState::of(&sb);
                        if sb.state != SandboxState::Running || e2b.end_at_ms > now {
                            continue;
                        }
                        let fresh = busy
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(sb.id.clone());
                        if fresh {
                            let (core, busy) = (state.core.clone(), busy.clone());
                            tokio::spawn(async move {
                                let id = sb.id.clone();
                                end(&core, sb, e2b.auto_pause).await;
                                busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                            });
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e.message, "cannot list E2B sandboxes"),
            }
        }
    });
}

/// End one sandbox whose time is up.
async fn end(core: &Core, sb: warren_core::Sandbox, auto_pause: bool) {
    let id = sb.id.clone();
    let result = if auto_pause {
        super::lifecycle::pause_sandbox(core, &sb, ACTOR)
            .await
            .map(drop)
            .map_err(|e| e.message)
    } else {
        core.delete_sandbox(&id, ACTOR).await.map_err(|e| e.chain())
    };
    match result {
        Ok(()) => tracing::info!(sandbox = %id, paused = auto_pause, "E2B sandbox timed out"),
        Err(e) => tracing::warn!(sandbox = %id, error = %e, "cannot end a timed-out E2B sandbox"),
    }
}
