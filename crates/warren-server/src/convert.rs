//! Domain values → API types.

use time::OffsetDateTime;
use warren_api_types as api;
use warren_core::{Image, Sandbox, SandboxState};

/// Unix milliseconds (how warren stores times) as a timestamp.
pub(crate) fn time_from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn state(s: SandboxState) -> api::SandboxState {
    match s {
        SandboxState::Creating => api::SandboxState::Creating,
        SandboxState::Running => api::SandboxState::Running,
        SandboxState::Paused => api::SandboxState::Paused,
        SandboxState::Hibernated => api::SandboxState::Hibernated,
        SandboxState::Stopped => api::SandboxState::Stopped,
        SandboxState::Archived => api::SandboxState::Archived,
        SandboxState::Deleting => api::SandboxState::Deleting,
        SandboxState::Error => api::SandboxState::Error,
    }
}

pub(crate) fn sandbox(s: Sandbox) -> api::Sandbox {
    api::Sandbox {
        id: s.id,
        state: state(s.state),
        image: s.image,
        image_digest: s.image_digest,
        cmd: s.spec.cmd,
        env: s.spec.env,
        cpu: s.spec.cpu,
        memory_mb: s.spec.memory_mb,
        pids_limit: s.spec.pids_limit,
        workdir: s.spec.workdir,
        user: s.spec.user,
        disk_mb: s.spec.disk_mb,
        labels: s.labels,
        metadata: s.metadata,
        error: s.error,
        created_at: time_from_ms(s.created_at),
        updated_at: time_from_ms(s.updated_at),
        parent_snapshot: s.parent_snapshot,
        lifecycle: policy(&s.spec.policy),
        last_active_at: s.last_active_at.map(time_from_ms),
        transfer: s.transfer.map(|t| api::ArchiveTransfer {
            upload: t.upload,
            done_bytes: t.done_bytes,
            total_bytes: t.total_bytes,
        }),
        network: network(&s.spec.network, s.address),
    }
}

fn network(
    n: &warren_core::NetworkSpec,
    address: Option<std::net::Ipv4Addr>,
) -> api::SandboxNetwork {
    api::SandboxNetwork {
        mode: match n.egress.mode {
            warren_core::NetworkMode::None => api::NetworkMode::None,
            warren_core::NetworkMode::Outbound => api::NetworkMode::Outbound,
            warren_core::NetworkMode::Restricted => api::NetworkMode::Restricted,
        },
        allow: n.egress.allow.clone(),
        deny: n.egress.deny.clone(),
        public_ports: n.public_ports.clone(),
        address: address.map(|a| a.to_string()),
        access_token: (!n.access_token.is_empty()).then(|| n.access_token.clone()),
    }
}

/// An egress policy from a request.
pub(crate) fn egress(p: &api::NetworkPolicy) -> warren_core::EgressPolicy {
    warren_core::EgressPolicy {
        mode: match p.mode {
            api::NetworkMode::None => warren_core::NetworkMode::None,
            api::NetworkMode::Outbound => warren_core::NetworkMode::Outbound,
            api::NetworkMode::Restricted => warren_core::NetworkMode::Restricted,
        },
        allow: p.allow.clone(),
        deny: p.deny.clone(),
    }
}

fn idle_action(a: warren_core::IdleAction) -> api::IdleAction {
    match a {
        warren_core::IdleAction::Pause => api::IdleAction::Pause,
        warren_core::IdleAction::Hibernate => api::IdleAction::Hibernate,
        warren_core::IdleAction::Stop => api::IdleAction::Stop,
    }
}

/// A resolved policy: rules that are off are `null`; the idle action only with a timeout.
pub(crate) fn policy(p: &warren_core::Policy) -> api::LifecyclePolicy {
    api::LifecyclePolicy {
        idle_timeout_s: p.idle_timeout_s,
        idle_action: p.idle_timeout_s.map(|_| idle_action(p.idle_action)),
        auto_archive_after_s: p.auto_archive_after_s,
        auto_delete_after_s: p.auto_delete_after_s,
        ttl_s: p.ttl_s,
    }
}

/// A policy from a request: absent fields take the server's defaults.
pub(crate) fn policy_input(p: &api::LifecyclePolicy) -> warren_core::PolicyInput {
    warren_core::PolicyInput {
        idle_timeout_s: p.idle_timeout_s,
        idle_action: p.idle_action.map(|a| match a {
            api::IdleAction::Pause => warren_core::IdleAction::Pause,
            api::IdleAction::Hibernate => warren_core::IdleAction::Hibernate,
            api::IdleAction::Stop => warren_core::IdleAction::Stop,
        }),
        auto_archive_after_s: p.auto_archive_after_s,
        auto_delete_after_s: p.auto_delete_after_s,
        ttl_s: p.ttl_s,
    }
}

pub(crate) fn snapshot(s: warren_core::Snapshot) -> api::Snapshot {
    use warren_core::SnapshotState as S;
    api::Snapshot {
        id: s.id,
        name: s.name,
        state: match s.state {
            S::Creating => api::SnapshotState::Creating,
            S::Ready => api::SnapshotState::Ready,
            S::Deleting => api::SnapshotState::Deleting,
            S::Archived => api::SnapshotState::Archived,
        },
        source_sandbox: s.source_sandbox,
        parent_snapshot: s.parent_snapshot,
        image: s.image,
        image_digest: s.image_digest,
        memory: s.memory,
        labels: s.labels,
        fs_bytes: s.fs_bytes,
        memory_bytes: s.memory_bytes,
        // Microseconds → milliseconds, exactly representable at any realistic size.
        paused_ms: s.paused_us as f64 / 1000.0,
        depth: u32::try_from(s.depth).unwrap_or(u32::MAX),
        created_at: time_from_ms(s.created_at),
    }
}

pub(crate) fn image(i: Image) -> api::Image {
    api::Image {
        layers: i.layers.len(),
        reference: i.reference,
        digest: i.digest,
        size: i.size,
        config: api::ImageConfig {
            env: i.config.env,
            cmd: i.config.cmd,
            entrypoint: i.config.entrypoint,
            working_dir: i.config.working_dir,
            user: i.config.user,
        },
        created_at: i.created_at,
    }
}

pub(crate) fn pull_event(e: warren_core::PullEvent) -> api::PullEvent {
    use warren_core::PullEvent as E;
    match e {
        E::Resolved {
            reference,
            digest,
            layers,
            total_bytes,
        } => api::PullEvent::Resolved {
            reference,
            digest,
            layers,
            total_bytes,
        },
        E::LayerStarted { digest, size } => api::PullEvent::LayerStarted { digest, size },
        E::LayerProgress {
            digest,
            downloaded,
            size,
        } => api::PullEvent::LayerProgress {
            digest,
            downloaded,
            size,
        },
        E::LayerCached { digest, size } => api::PullEvent::LayerCached { digest, size },
        E::LayerDone { digest } => api::PullEvent::LayerDone { digest },
        E::Unpacking { digest } => api::PullEvent::Unpacking { digest },
        E::Done { digest } => api::PullEvent::Done { digest },
    }
}
