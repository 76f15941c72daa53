//! Keeping raw runc work on a daemon's sandbox out of the daemon's reconcile passes.
//!
//! The daemon reconciles every 30 s (`RECONCILE_EVERY` in crates/warren/src/serve.rs), on a
//! fixed grid from the moment just before it starts listening. A pass that looks at a sandbox
//! while a raw `runc checkpoint` holds it frozen records it `paused`; one that looks between a
//! raw checkpoint and the restore finds it `stopped` and releases its mounts and cgroups, and
//! the restore then fails. So the baseline only starts a step when the next pass is further
//! away than the step can take.
//!
//! The grid's origin lies between the daemon's process start (/proc) and the moment the bench
//! saw it listening; both ends are kept, widened by [`PASS_TIME`] for the pass itself.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::common::host::process_age;

const RECONCILE_EVERY: Duration = Duration::from_secs(30);
/// How long a pass may still be looking at sandboxes after its tick.
const PASS_TIME: Duration = Duration::from_secs(3);

pub struct ReconcileClock {
    /// Earliest and latest possible first tick.
    first: (Instant, Instant),
    /// Time spent waiting so far.
    waited: Cell<Duration>,
}

impl ReconcileClock {
    /// For the daemon with pid `pid`, seen listening by `ready`.
    pub fn new(pid: u32, ready: Instant) -> Self {
        let now = Instant::now();
        let started = process_age(pid)
            .and_then(|age| now.checked_sub(age))
            .unwrap_or(ready);
        Self {
            first: (started.min(ready), ready),
            waited: Cell::default(),
        }
    }

    /// How long [`Self::quiet_for`] has waited in all.
    pub fn waited(&self) -> Duration {
        self.waited.get()
    }

    /// Wait until the next `need` holds no reconcile pass.
    pub async fn quiet_for(&self, need: Duration) {
        assert!(need + PASS_TIME < RECONCILE_EVERY, "no window is that long");
        loop {
            let now = Instant::now();
            let periods =
                now.duration_since(self.first.0).as_secs_f64() / RECONCILE_EVERY.as_secs_f64();
            let k = periods.floor() as u32;
            // The pass of tick k may still run until `busy_until`; the next starts at `next`.
            let busy_until = self.first.1 + RECONCILE_EVERY * k + PASS_TIME;
            let next = self.first.0 + RECONCILE_EVERY * (k + 1);
            if now >= busy_until && now + need <= next {
                return;
            }
            let wake = if now < busy_until {
                busy_until
            } else {
                self.first.1 + RECONCILE_EVERY * (k + 1) + PASS_TIME
            };
            let wait = wake.saturating_duration_since(now);
            self.waited.set(self.waited.get() + wait);
            tokio::time::sleep(wait).await;
        }
    }
}
