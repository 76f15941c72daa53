//! Section 3: raw `runc checkpoint` and `runc restore` of a Python sandbox holding 100 MiB, in
//! the same run, as the floor under hibernate, snapshots and branches.
//!
//! The twin is created through the API and then only touched by runc against the daemon's runc
//! root (its memory is watched through its cgroup, never by an exec). Each step waits for a
//! quiet spell of the daemon's reconciler ([`crate::reconciler`]). Steps, with the runtime's own
//! CRIU arguments:
//!
//! 1. probes, reported, not timed: `runc checkpoint --leave-running` without and with
//!    `--ext-unix-sk` while the daemon still holds the connection to the agent its create
//!    opened (CRIU refuses both: "Unix socket ... not found", the peer is outside the
//!    container); then one memory snapshot through the API, which drops that connection before
//!    its dump and opens none after, and a probe without `--ext-unix-sk` again;
//! 2. `runc checkpoint --leave-running --ext-unix-sk` (what a memory snapshot runs), K times;
//! 3. `runc checkpoint --ext-unix-sk` (the container stops, as for hibernate), then
//!    `runc restore --detach` of the same container from those images in its own bundle, K times
//!    (the restored twin must be `running` again; a restore that fails is retried once with
//!    `--ext-unix-sk`, and what worked is reported).
//!
//! Each checkpoint goes to a fresh directory, alternately on the state dir's disk and on a tmpfs
//! mounted under the state dir (unmounted at the end, also on failure; see [`crate::criu`]). At
//! the end the daemon must still see the twin as running.

use std::time::Duration;

use warren_api_types::{CreateSnapshotRequest, SandboxState};
use warren_client::Client;

use crate::common::stats::{self, Report};
use crate::criu::{Runc, Scratch};
use crate::reconciler::ReconcileClock;
use crate::sandbox::{Created, python_100_mib};

/// What the snapshot sections compare against: the dump a memory snapshot runs, and a restore.
pub struct RawTimes {
    /// `runc checkpoint --leave-running`, images on disk.
    pub dump_leave_running: Vec<Duration>,
    /// `runc restore --detach`, images on disk.
    pub restore: Vec<Duration>,
}

/// Samples per place (disk, then tmpfs).
type Times = Vec<Vec<Duration>>;

/// The daemon the twin belongs to.
pub struct Daemon<'a> {
    pub client: &'a Client,
    /// Its state dir.
    pub state: &'a std::path::Path,
    pub clock: &'a ReconcileClock,
}

/// The twin, runc, and where its images go.
struct Twin<'a> {
    d: &'a Daemon<'a>,
    id: String,
    runc: Runc,
    scratch: Scratch,
}

pub async fn section(
    report: &mut Report,
    d: &Daemon<'_>,
    python: &str,
    k: usize,
    created: &mut Created,
) -> anyhow::Result<RawTimes> {
    let sb = python_100_mib(d.client, python, created).await?;
    let (scratch, no_tmpfs) = Scratch::new(d.state)?;
    if let Some(why) = &no_tmpfs {
        println!("  [no tmpfs for the images: mount failed: {why}]");
        report.note("raw_tmpfs_mount_error", why.clone().into());
    }
    let mut twin = Twin {
        d,
        id: sb.id,
        runc: Runc::new(d.state),
        scratch,
    };
    twin.probes(report, created).await?;
    let leave = twin.leave_running(report, k).await?;
    let (stop, back) = twin.stop_and_restore(report, k).await?;
    println!(
        "  [waited {:.1} s in all for the daemon's reconcile passes to be out of the way]",
        d.clock.waited().as_secs_f64()
    );

    let places: Vec<&str> = twin.scratch.places.iter().map(|(name, _)| *name).collect();
    let mut rows = vec![];
    for (p, name) in places.iter().enumerate() {
        rows.push(stats::durations(
            &format!("runc checkpoint --leave-running, images on {name}"),
            &leave[p],
            None,
        ));
    }
    for (p, name) in places.iter().enumerate() {
        rows.push(stats::durations(
            &format!("runc checkpoint (stops it), images on {name}"),
            &stop[p],
            None,
        ));
        rows.push(stats::durations(
            &format!("runc restore --detach, images on {name}"),
            &back[p],
            None,
        ));
    }
    report.table(
        "3. raw runc checkpoint/restore (baseline), Python holding 100 MiB",
        rows,
    );
    let id = twin.id.clone();
    drop(twin);

    // The daemon's view survived: the twin is still a running sandbox.
    let seen = d.client.get_sandbox(&id).await?.state;
    anyhow::ensure!(
        seen == SandboxState::Running,
        "the daemon sees the twin {id} as {seen:?} after the raw checkpoints"
    );
    created.delete_sandbox(d.client, &id).await?;
    Ok(RawTimes {
        dump_leave_running: leave.into_iter().next().unwrap_or_default(),
        restore: back.into_iter().next().unwrap_or_default(),
    })
}

impl Twin<'_> {
    /// Step 1: can CRIU dump the twin while the daemon's connection from the create is open,
    /// without and with --ext-unix-sk; then one memory snapshot through the API (which drops
    /// that connection first), and without --ext-unix-sk again. Reported, not timed.
    async fn probes(&mut self, report: &mut Report, created: &mut Created) -> anyhow::Result<()> {
        for ext in [false, true] {
            self.probe(report, "after_create", ext).await?;
        }
        let req = CreateSnapshotRequest {
            memory: true,
            ..CreateSnapshotRequest::default()
        };
        let snap = self.d.client.snapshot_sandbox(&self.id, &req).await?;
        created.snapshot(&snap.id);
        created.delete_snapshot(self.d.client, &snap.id).await?;
        self.probe(report, "after_api_snapshot", false).await
    }

    async fn probe(&mut self, report: &mut Report, when: &str, ext: bool) -> anyhow::Result<()> {
        let to = self.scratch.fresh(0)?;
        self.d.clock.quiet_for(Duration::from_secs(3)).await;
        let flag = if ext { "with" } else { "without" };
        let text = match self.runc.checkpoint(&self.id, &to, true, ext) {
            Ok(t) => format!("ok ({:.0} ms)", stats::ms(t)),
            // CRIU's error lines say why; runc's own message only points at its log.
            Err(e) => {
                let e = e.to_string();
                let criu = e.split_once("\nCRIU: ").map_or(e.as_str(), |(_, c)| c);
                format!("failed: {}", criu.replace('\n', " / "))
            }
        };
        println!("  [probe {when}, --leave-running {flag} --ext-unix-sk: {text}]");
        report.note(&format!("raw_probe_{when}_{flag}_ext_unix_sk"), text.into());
        Ok(())
    }

    /// Step 2: K dumps that leave it running, as a memory snapshot does, in each place in turn.
    async fn leave_running(&mut self, report: &mut Report, k: usize) -> anyhow::Result<Times> {
        let mut times = vec![vec![]; self.scratch.places.len()];
        let mut bytes = 0;
        for _ in 0..k {
            for (p, times) in times.iter_mut().enumerate() {
                let to = self.scratch.fresh(p)?;
                self.d.clock.quiet_for(Duration::from_secs(3)).await;
                times.push(self.runc.checkpoint(&self.id, &to, true, true)?);
                bytes = to.bytes();
            }
        }
        println!(
            "  [images: {:.1} MiB per checkpoint]",
            bytes as f64 / stats::MIB
        );
        report.note("raw_checkpoint_image_bytes", bytes.into());
        Ok(times)
    }

    /// Step 3: K dumps that stop it, each followed by a restore, in each place in turn. A failed
    /// restore is retried once with --ext-unix-sk (kept from then on).
    async fn stop_and_restore(
        &mut self,
        report: &mut Report,
        k: usize,
    ) -> anyhow::Result<(Times, Times)> {
        let places = self.scratch.places.len();
        let (mut stop, mut back) = (vec![vec![]; places], vec![vec![]; places]);
        let mut ext = false;
        for _ in 0..k {
            for p in 0..places {
                let images = self.scratch.fresh(p)?;
                self.d.clock.quiet_for(Duration::from_secs(5)).await;
                stop[p].push(self.runc.checkpoint(&self.id, &images, false, true)?);
                let took = match self.runc.restore(&self.id, &images, ext) {
                    Err(e) if !ext => {
                        println!("  [runc restore failed; again with --ext-unix-sk: {e:#}]");
                        ext = true;
                        self.runc.restore(&self.id, &images, true)?
                    }
                    other => other?,
                };
                back[p].push(took);
            }
        }
        let how = if ext { "with" } else { "without" };
        println!("  [runc restore worked {how} --ext-unix-sk]");
        report.note("raw_restore_ext_unix_sk", ext.into());
        Ok((stop, back))
    }
}
