//! Sandboxes on the network: each one's egress policy, public ports and access token (in its
//! spec), and the calls into `warren-net` that give it a namespace and an address when it boots
//! and take them back when it is deleted or archived.

use serde::{Deserialize, Serialize};
use warren_net::{EgressPolicy, Network};
use warren_runtime::NetworkAttachment;

use crate::{Core, CoreError, Sandbox};

/// Most ports one sandbox can make public.
const MAX_PUBLIC_PORTS: usize = 64;

/// A sandbox's network settings (part of its persisted spec).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// What it may reach.
    #[serde(flatten)]
    pub egress: EgressPolicy,
    /// Ports the preview proxy serves without a token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_ports: Vec<u16>,
    /// The secret that opens its other ports through the proxy (empty for sandboxes made
    /// before networking existed: only API keys open them).
    #[serde(default)]
    pub access_token: String,
}

/// A change to a sandbox's network settings; `None` leaves that part as it is.
#[derive(Debug, Clone, Default)]
pub struct NetworkUpdate {
    /// New egress policy.
    pub egress: Option<EgressPolicy>,
    /// New public ports.
    pub public_ports: Option<Vec<u16>>,
}

/// What the runtime calls to link a sandbox once its PID 1 exists.
struct Plug {
    net: Network,
    id: String,
}

impl warren_runtime::NetworkPlug for Plug {
    fn plug(&self, pid: u32) -> warren_runtime::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.net
                .plug(&self.id, pid)
                .await
                .map_err(|e| crate::error::chain_of(&e))
        })
    }
}

impl NetworkUpdate {
    /// Check the change without applying it (400 naming the field at fault).
    pub fn validate(&self) -> Result<(), CoreError> {
        if let Some(egress) = &self.egress {
            validate_egress(egress)?;
        }
        if let Some(ports) = &self.public_ports {
            validate_public_ports(ports)?;
        }
        Ok(())
    }
}

/// Check an egress policy (400 naming the entry at fault).
pub(crate) fn validate_egress(policy: &EgressPolicy) -> Result<(), CoreError> {
    policy
        .compile()
        .map(drop)
        .map_err(|reason| CoreError::invalid("network", reason))
}

/// Check a public port list.
pub(crate) fn validate_public_ports(ports: &[u16]) -> Result<Vec<u16>, CoreError> {
    if ports.len() > MAX_PUBLIC_PORTS {
        return Err(CoreError::invalid(
            "public_ports",
            format!("at most {MAX_PUBLIC_PORTS} ports"),
        ));
    }
    if ports.contains(&0) {
        return Err(CoreError::invalid("public_ports", "0 is not a port"));
    }
    let mut out = ports.to_vec();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn net_err(id: &str, e: warren_net::NetError) -> CoreError {
    match e {
        warren_net::NetError::Policy(reason) => CoreError::invalid("network", reason),
        other => CoreError::NoNetwork {
            id: id.to_owned(),
            reason: format!(": {}", crate::error::chain_of(&other)),
        },
    }
}

impl Core {
    /// The sandboxes' network, when networking is on.
    pub fn network(&self) -> Option<&Network> {
        self.inner.network.as_ref()
    }

    /// Give sandbox `id` its address (kept, or a new one) and policy before it boots; `None`
    /// when networking is off. Its link comes once its PID 1 exists ([`Core::plug_network`]).
    pub(crate) async fn attach_network(
        &self,
        id: &str,
        spec: &NetworkSpec,
    ) -> Result<Option<NetworkAttachment>, CoreError> {
        let Some(net) = self.network() else {
            return Ok(None);
        };
        // The rules go in while the sandbox boots; the plug waits for them.
        let a = net
            .begin_attach(id, &spec.egress)
            .map_err(|e| net_err(id, e))?;
        Ok(Some(NetworkAttachment {
            nameservers: vec![a.gateway.into()],
            plug: std::sync::Arc::new(Plug {
                net: net.clone(),
                id: id.to_owned(),
            }),
        }))
    }

    /// Take sandbox `id` off the network (after its processes are gone). Failures are logged:
    /// the reconciler retries.
    pub(crate) async fn detach_network(&self, id: &str) {
        if let Some(net) = self.network()
            && let Err(e) = net.detach(id).await
        {
            tracing::warn!(sandbox = %id, error = %e, "cannot take a sandbox off the network");
        }
    }

    /// Link sandbox `id` again after a restore or a failed checkpoint (its PID 1 asked from the
    /// runtime). A failure is logged: the sandbox runs, without its link.
    pub(crate) async fn replug_network(&self, id: &str) {
        let Some(net) = self.network() else { return };
        if net.address(id).is_none() {
            return;
        }
        let result = match self.inner.runtime.main_pid(id).await {
            Ok(pid) => net.plug(id, pid).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = result {
            tracing::warn!(sandbox = %id, error = %e, "cannot link a sandbox to the network again");
        }
    }

    /// Remove sandbox `id`'s link before a checkpoint: CRIU then sees loopback only (its
    /// address and policy stay).
    pub(crate) async fn unplug_network(&self, id: &str) {
        if let Some(net) = self.network() {
            net.unplug(id).await;
        }
    }

    /// The address of sandbox `id` on the warren bridge.
    pub fn sandbox_address(&self, id: &str) -> Result<std::net::Ipv4Addr, CoreError> {
        let Some(net) = self.network() else {
            return Err(CoreError::NoNetwork {
                id: id.to_owned(),
                reason: ": networking is off on this server".into(),
            });
        };
        net.address(id).ok_or_else(|| CoreError::NoNetwork {
            id: id.to_owned(),
            reason: String::new(),
        })
    }

    /// Change sandbox `id`'s egress policy and/or public ports; a policy takes effect at once.
    pub async fn update_network(
        &self,
        id: &str,
        req: NetworkUpdate,
        actor: &str,
    ) -> Result<Sandbox, CoreError> {
        if let Some(egress) = &req.egress {
            validate_egress(egress)?;
        }
        let public_ports = req
            .public_ports
            .as_deref()
            .map(validate_public_ports)
            .transpose()?;
        let _guard = self.inner.locks.lock(id).await;
        let sb = self.get_sandbox(id).await?;
        let mut spec = sb.spec.clone();
        if let Some(egress) = req.egress {
            spec.network.egress = egress;
        }
        if let Some(ports) = public_ports {
            spec.network.public_ports = ports;
        }
        if let Some(net) = self.network()
            && net.address(id).is_some()
        {
            net.set_policy(id, &spec.network.egress)
                .await
                .map_err(|e| net_err(id, e))?;
        }
        let update = warren_store::SandboxUpdate {
            id: id.to_owned(),
            labels: None,
            metadata: None,
            spec: Some(serde_json::to_value(&spec).expect("spec serializes")),
            event: warren_store::NewEvent {
                message: Some(format!("network {}", spec.network.egress.mode.as_str())),
                ..crate::sandbox::event(id, "sandbox.network", actor, None, None)
            },
        };
        self.inner.store.update_sandbox(&update).await?;
        self.publish_events().await;
        self.get_sandbox(id).await
    }

    /// At start-up: put every networked sandbox's policy back in force (the firewall table
    /// was rebuilt), then release the addresses of sandboxes that are gone.
    pub async fn restore_network(&self) -> Result<(), CoreError> {
        let Some(net) = self.network() else {
            return Ok(());
        };
        for rec in self.all_sandbox_records().await? {
            if net.address(&rec.id).is_none() {
                continue;
            }
            let Ok(sb) = Sandbox::try_from(rec) else {
                continue;
            };
            if let Err(e) = net.attach(&sb.id, &sb.spec.network.egress).await {
                tracing::warn!(sandbox = %sb.id, error = %e, "cannot restore a sandbox's network");
                continue;
            }
            // A sandbox that outlived the daemon keeps its link; one that lost it (a host
            // reboot, a crash between a restore and its plug) gets it again.
            let live = matches!(
                sb.state,
                warren_store::SandboxState::Running | warren_store::SandboxState::Paused
            );
            if live && !net.is_plugged(&sb.id) {
                self.replug_network(&sb.id).await;
            }
        }
        self.release_stale_addresses().await
    }

    /// Release the addresses of sandboxes that no longer exist or are archived (a delete the
    /// daemon did not finish, a failed detach).
    pub(crate) async fn release_stale_addresses(&self) -> Result<(), CoreError> {
        let Some(net) = self.network() else {
            return Ok(());
        };
        for id in net.attached() {
            let _guard = self.inner.locks.lock(&id).await;
            let stale = match self.inner.store.get_sandbox(&id).await? {
                None => true,
                Some(rec) => rec.state == warren_store::SandboxState::Archived,
            };
            if stale {
                self.detach_network(&id).await;
            }
        }
        Ok(())
    }
}
