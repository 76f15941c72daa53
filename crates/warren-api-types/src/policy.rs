//! Lifecycle policies: what happens to a sandbox when it sits idle, and when it expires.

use serde::{Deserialize, Serialize};

/// What an idle sandbox is moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdleAction {
    /// Frozen in place (memory kept, no CPU); resumes instantly.
    Pause,
    /// Checkpointed to disk with its memory, which is released; resumes where it was.
    Hibernate,
    /// Processes ended, files kept; starts anew.
    Stop,
}

impl IdleAction {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Hibernate => "hibernate",
            Self::Stop => "stop",
        }
    }
}

/// A sandbox's lifecycle policy. In a create request an absent field takes the server's
/// default and `0` turns that rule off; in a sandbox, `null` means the rule is off. "Idle" means
/// no API call, exec, file operation or terminal input touching the sandbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"idle_timeout_s": 900, "idle_action": "hibernate", "auto_delete_after_s": 604800, "ttl_s": 86400}))
)]
#[serde(deny_unknown_fields)]
pub struct LifecyclePolicy {
    /// Seconds without activity after which a running sandbox gets `idle_action`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_s: Option<u64>,
    /// What idleness does: `pause`, `hibernate` or `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_action: Option<IdleAction>,
    /// Seconds a sandbox may stay stopped or hibernated before it is archived to object storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_archive_after_s: Option<u64>,
    /// Seconds a sandbox may stay stopped, hibernated or archived before it is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_delete_after_s: Option<u64>,
    /// Seconds after creation at which the sandbox is deleted, whatever its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<u64>,
}
