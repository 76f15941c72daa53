//! Lifecycle policies: idle timeout (then pause, hibernate or stop), auto-archive and
//! auto-delete of sandboxes left stopped or hibernated, and a hard TTL.
//!
//! A sandbox's policy is resolved at creation (request over the server's defaults) and kept in
//! its spec, so it survives restarts. Activity — any API call, exec, file operation or terminal
//! input touching a sandbox — is noted in memory by [`Core::note_activity`] (cheap, on every
//! request) and written to the store by each enforcement pass, so an idle timer counts from the
//! last activity even across a daemon restart (at worst one pass late).
//!
//! [`Core::enforce_policies`] runs periodically; each automatic action is recorded first as a
//! `sandbox.policy` event whose message gives the rule and the reason, then performed with the
//! actor `policy` (its own events follow).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use warren_store::SandboxState;

use crate::clock::now_ms;
use crate::sandbox::event;
use crate::{Core, CoreError, LifecycleOp, Sandbox};

/// The actor of automatic actions.
pub const POLICY_ACTOR: &str = "policy";

/// Longest duration a rule accepts: ten years, in seconds.
const MAX_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// What an idle sandbox is moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleAction {
    /// Frozen in place.
    #[default]
    Pause,
    /// Checkpointed to disk, memory released.
    Hibernate,
    /// Processes ended, files kept.
    Stop,
}

impl IdleAction {
    fn op(self) -> LifecycleOp {
        match self {
            Self::Pause => LifecycleOp::Pause,
            Self::Hibernate => LifecycleOp::Hibernate,
            Self::Stop => LifecycleOp::Stop,
        }
    }
}

/// A resolved policy; `None` turns a rule off. Durations in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Policy {
    /// Seconds without activity before `idle_action`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_s: Option<u64>,
    /// What idleness does.
    #[serde(default)]
    pub idle_action: IdleAction,
    /// Seconds stopped or hibernated before archiving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_archive_after_s: Option<u64>,
    /// Seconds stopped, hibernated or archived before deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_delete_after_s: Option<u64>,
    /// Seconds after creation at which the sandbox is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<u64>,
}

/// A policy as a caller gives it: `None` takes the default, `Some(0)` turns the rule off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PolicyInput {
    /// Idle timeout in seconds.
    pub idle_timeout_s: Option<u64>,
    /// What idleness does.
    pub idle_action: Option<IdleAction>,
    /// Auto-archive delay in seconds.
    pub auto_archive_after_s: Option<u64>,
    /// Auto-delete delay in seconds.
    pub auto_delete_after_s: Option<u64>,
    /// Time to live in seconds.
    pub ttl_s: Option<u64>,
}

impl PolicyInput {
    /// Resolve against the server's `defaults`, validating every duration.
    pub(crate) fn resolve(&self, defaults: &Policy) -> Result<Policy, CoreError> {
        let rule = |field: &'static str, given: Option<u64>, default: Option<u64>| match given {
            None => Ok(default),
            Some(0) => Ok(None),
            Some(s) if s > MAX_SECONDS => Err(CoreError::invalid(
                field,
                format!("{s} s is more than ten years; use 0 to turn the rule off"),
            )),
            Some(s) => Ok(Some(s)),
        };
        Ok(Policy {
            idle_timeout_s: rule(
                "lifecycle.idle_timeout_s",
                self.idle_timeout_s,
                defaults.idle_timeout_s,
            )?,
            idle_action: self.idle_action.unwrap_or(defaults.idle_action),
            auto_archive_after_s: rule(
                "lifecycle.auto_archive_after_s",
                self.auto_archive_after_s,
                defaults.auto_archive_after_s,
            )?,
            auto_delete_after_s: rule(
                "lifecycle.auto_delete_after_s",
                self.auto_delete_after_s,
                defaults.auto_delete_after_s,
            )?,
            ttl_s: rule("lifecycle.ttl_s", self.ttl_s, defaults.ttl_s)?,
        })
    }
}

/// Last activity per sandbox, noted in memory and written to the store in batches.
#[derive(Debug, Default)]
pub(crate) struct ActivityLog {
    /// Sandbox id → (last activity, last value written to the store), Unix ms.
    seen: Mutex<HashMap<String, (i64, i64)>>,
}

impl ActivityLog {
    fn note(&self, id: &str, at: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get_mut(id) {
            Some(entry) => entry.0 = entry.0.max(at),
            None => {
                seen.insert(id.to_owned(), (at, 0));
            }
        }
    }

    /// The last activity noted for `id`.
    pub(crate) fn last_seen(&self, id: &str) -> Option<i64> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(id).map(|e| e.0)
    }

    /// Activity not yet written, marking it written.
    fn unsaved(&self) -> Vec<(String, i64)> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter_mut()
            .filter(|(_, (at, saved))| at > saved)
            .map(|(id, (at, saved))| {
                *saved = *at;
                (id.clone(), *at)
            })
            .collect()
    }

    pub(crate) fn forget(&self, id: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// Sandboxes whose last automatic action failed: not tried again before their time (a minute,
/// doubling with each failure up to an hour), so a failing rule does not fill the event log.
#[derive(Debug, Default)]
pub(crate) struct PolicyBackoff(Mutex<HashMap<String, (i64, u32)>>);

impl PolicyBackoff {
    fn ready(&self, id: &str, now: i64) -> bool {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).is_none_or(|(next, _)| now >= *next)
    }

    fn failed(&self, id: &str, now: i64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let fails = map.get(id).map_or(0, |(_, n)| *n) + 1;
        let wait_ms = (60_000_i64 << (fails - 1).min(6)).min(3_600_000);
        map.insert(id.to_owned(), (now + wait_ms, fails));
    }

    fn succeeded(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

/// One automatic action a pass took (or tried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAction {
    /// Sandbox id.
    pub sandbox: String,
    /// What was done: `pause`, `hibernate`, `stop`, `archive` or `delete`.
    pub action: &'static str,
    /// Why.
    pub reason: String,
    /// The failure, if it failed.
    pub error: Option<String>,
}

/// What a sandbox's policy asks for now, if anything.
fn due(sb: &Sandbox, last_active: i64, now: i64) -> Option<(&'static str, String)> {
    let p = &sb.spec.policy;
    let secs = |ms: i64| ms.max(0) / 1000;
    let elapsed = |since: i64| u64::try_from(secs(now - since)).unwrap_or(0);
    if let Some(ttl) = p.ttl_s
        && elapsed(sb.created_at) >= ttl
        && sb.state != SandboxState::Deleting
    {
        return Some((
            "delete",
            format!(
                "its ttl of {ttl} s has passed (created {} s ago)",
                elapsed(sb.created_at)
            ),
        ));
    }
    match sb.state {
        SandboxState::Running => {
            let idle_for = elapsed(last_active);
            let timeout = p.idle_timeout_s?;
            (idle_for >= timeout).then(|| {
                (
                    p.idle_action.op().as_str(),
                    format!("idle for {idle_for} s (idle_timeout {timeout} s)"),
                )
            })
        }
        SandboxState::Stopped | SandboxState::Hibernated | SandboxState::Archived => {
            let since = elapsed(sb.updated_at);
            if let Some(after) = p.auto_delete_after_s
                && since >= after
            {
                return Some((
                    "delete",
                    format!("{} for {since} s (auto_delete_after {after} s)", sb.state),
                ));
            }
            if let Some(after) = p.auto_archive_after_s
                && sb.state != SandboxState::Archived
                && since >= after
            {
                return Some((
                    "archive",
                    format!("{} for {since} s (auto_archive_after {after} s)", sb.state),
                ));
            }
            None
        }
        _ => None,
    }
}

impl Core {
    /// Note activity on sandbox `id` (an API call, exec, file operation or terminal input).
    pub fn note_activity(&self, id: &str) {
        self.inner.activity.note(id, now_ms());
    }

    /// One enforcement pass: write noted activity to the store, then apply every policy that is
    /// due. Failures of single actions are recorded (event, result) and do not stop the pass.
    pub async fn enforce_policies(&self) -> Result<Vec<PolicyAction>, CoreError> {
        for (id, at) in self.inner.activity.unsaved() {
            self.inner.store.touch_sandbox(&id, at).await?;
        }
        let now = now_ms();
        let mut done = Vec::new();
        for rec in self.all_sandbox_records().await? {
            let last_active = [
                rec.last_active_at,
                self.inner.activity.last_seen(&rec.id),
                Some(rec.updated_at),
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(rec.created_at);
            let sb: Sandbox = rec.try_into()?;
            let Some((action, reason)) = due(&sb, last_active, now) else {
                continue;
            };
            if !self.inner.policy_backoff.ready(&sb.id, now) {
                continue;
            }
            let error = self.apply_policy(&sb.id, action, &reason).await.err();
            match &error {
                Some(e) => {
                    tracing::warn!(sandbox = %sb.id, action, error = %e, "policy action failed");
                    self.inner.policy_backoff.failed(&sb.id, now);
                }
                None => self.inner.policy_backoff.succeeded(&sb.id),
            }
            done.push(PolicyAction {
                sandbox: sb.id,
                action,
                reason,
                error: error.map(|e| e.chain()),
            });
        }
        Ok(done)
    }

    async fn apply_policy(&self, id: &str, action: &str, reason: &str) -> Result<(), CoreError> {
        let mut ev = event(id, "sandbox.policy", POLICY_ACTOR, None, None);
        ev.message = Some(format!("{action}: {reason}"));
        self.inner.store.append_event(&ev).await?;
        self.publish_events().await;
        match action {
            "delete" => self.delete_sandbox(id, POLICY_ACTOR).await,
            "archive" => self.archive_sandbox(id, POLICY_ACTOR).await.map(drop),
            "pause" => self
                .change_sandbox_state(id, LifecycleOp::Pause, POLICY_ACTOR)
                .await
                .map(drop),
            "hibernate" => self
                .change_sandbox_state(id, LifecycleOp::Hibernate, POLICY_ACTOR)
                .await
                .map(drop),
            _ => self
                .change_sandbox_state(id, LifecycleOp::Stop, POLICY_ACTOR)
                .await
                .map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_takes_the_default_and_zero_turns_off() {
        let defaults = Policy {
            idle_timeout_s: Some(900),
            idle_action: IdleAction::Hibernate,
            ttl_s: Some(3600),
            ..Policy::default()
        };
        let p = PolicyInput {
            ttl_s: Some(0),
            auto_delete_after_s: Some(60),
            ..PolicyInput::default()
        }
        .resolve(&defaults)
        .unwrap();
        assert_eq!(p.idle_timeout_s, Some(900));
        assert_eq!(p.idle_action, IdleAction::Hibernate);
        assert_eq!(p.ttl_s, None);
        assert_eq!(p.auto_delete_after_s, Some(60));
        let err = PolicyInput {
            idle_timeout_s: Some(MAX_SECONDS + 1),
            ..PolicyInput::default()
        }
        .resolve(&defaults)
        .unwrap_err();
        assert!(
            err.to_string().contains("lifecycle.idle_timeout_s"),
            "{err}"
        );
    }

    #[test]
    fn failures_back_off() {
        let b = PolicyBackoff::default();
        assert!(b.ready("a", 0));
        b.failed("a", 0);
        assert!(!b.ready("a", 59_999));
        assert!(b.ready("a", 60_000));
        b.failed("a", 60_000);
        assert!(!b.ready("a", 179_999));
        assert!(b.ready("a", 180_000));
        b.succeeded("a");
        assert!(b.ready("a", 0));
    }

    #[test]
    fn activity_is_saved_once() {
        let log = ActivityLog::default();
        log.note("a", 10);
        log.note("a", 5);
        assert_eq!(log.last_seen("a"), Some(10));
        assert_eq!(log.unsaved(), vec![("a".to_owned(), 10)]);
        assert!(log.unsaved().is_empty());
        log.note("a", 11);
        assert_eq!(log.unsaved(), vec![("a".to_owned(), 11)]);
    }
}
