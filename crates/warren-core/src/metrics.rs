//! Per-sandbox resource metrics: the current value plus a short history kept
//! in memory (not persisted: it is cheap to rebuild and only useful recently).
//!
//! A sampler task reads every running sandbox's cgroup counters every
//! [`SAMPLE_EVERY`] and its disk use every [`DISK_EVERY`] (that one walks the
//! writable layer). CPU is reported as a percentage of one core over the
//! interval between two readings, so 200 % means two cores busy.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use warren_runtime::SandboxStats;
use warren_store::SandboxState;

use crate::clock::now_ms;
use crate::{Core, CoreError};

/// Interval between samples.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Interval between disk measurements.
pub const DISK_EVERY: Duration = Duration::from_secs(30);
/// Samples kept per sandbox (10 minutes at the default interval).
pub const HISTORY_LEN: usize = 120;

/// One reading of a sandbox's resource use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsSample {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// CPU use since the previous reading, in percent of one core.
    pub cpu_percent: f64,
    /// Memory charged to the sandbox, bytes.
    pub memory_bytes: u64,
    /// Memory limit, bytes.
    pub memory_limit_bytes: Option<u64>,
    /// Processes and threads.
    pub pids: u64,
    /// Process limit.
    pub pids_limit: Option<u64>,
    /// Bytes in the sandbox's writable layer, as of the last disk measurement.
    pub disk_bytes: Option<u64>,
}

/// The current reading and the recent history, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxMetrics {
    /// Taken now.
    pub current: MetricsSample,
    /// Earlier samples, oldest first.
    pub history: Vec<MetricsSample>,
}

#[derive(Default)]
struct Series {
    samples: VecDeque<MetricsSample>,
    /// Last CPU counter and when it was read, for the next percentage.
    last_cpu: Option<(Instant, u64)>,
    /// Last disk measurement and when it was taken.
    last_disk: Option<(Instant, u64)>,
}

/// Metrics of every sandbox, in memory.
#[derive(Default)]
pub(crate) struct MetricsStore {
    series: Mutex<HashMap<String, Series>>,
}

impl MetricsStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Series>> {
        self.series.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the sandbox's disk use is due for a new measurement.
    fn disk_due(&self, id: &str) -> bool {
        self.lock()
            .get(id)
            .and_then(|s| s.last_disk)
            .is_none_or(|(at, _)| at.elapsed() >= DISK_EVERY)
    }

    /// Turn raw counters into a sample, updating the CPU and disk baselines.
    fn reading(&self, id: &str, stats: &SandboxStats, keep: bool) -> MetricsSample {
        self.reading_at(id, stats, keep, Instant::now())
    }

    fn reading_at(
        &self,
        id: &str,
        stats: &SandboxStats,
        keep: bool,
        now: Instant,
    ) -> MetricsSample {
        let mut all = self.lock();
        let series = all.entry(id.to_owned()).or_default();
        let cpu_percent = match series.last_cpu {
            Some((at, ns)) if now > at && stats.cpu_usage_ns >= ns => {
                let wall = now.duration_since(at).as_nanos() as f64;
                (stats.cpu_usage_ns - ns) as f64 / wall * 100.0
            }
            _ => 0.0,
        };
        series.last_cpu = Some((now, stats.cpu_usage_ns));
        if let Some(d) = stats.disk_bytes {
            series.last_disk = Some((now, d));
        }
        let sample = MetricsSample {
            at_ms: now_ms(),
            cpu_percent,
            memory_bytes: stats.memory_bytes,
            memory_limit_bytes: stats.memory_limit_bytes,
            pids: stats.pids,
            pids_limit: stats.pids_limit,
            disk_bytes: series.last_disk.map(|(_, d)| d),
        };
        if keep {
            if series.samples.len() == HISTORY_LEN {
                series.samples.pop_front();
            }
            series.samples.push_back(sample);
        }
        sample
    }

    fn history(&self, id: &str) -> Vec<MetricsSample> {
        self.lock()
            .get(id)
            .map(|s| s.samples.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Forget sandboxes that are gone.
    fn retain(&self, alive: &std::collections::HashSet<String>) {
        self.lock().retain(|id, _| alive.contains(id));
    }
}

impl Core {
    /// The latest kept sample of every sandbox the sampler has seen.
    pub fn latest_samples(&self) -> Vec<(String, MetricsSample)> {
        let all = self.inner.metrics.lock();
        let mut out: Vec<_> = all
            .iter()
            .filter_map(|(id, s)| s.samples.back().map(|m| (id.clone(), *m)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// How many sandboxes are in each state (states with none are left out).
    pub async fn sandbox_counts(&self) -> Result<Vec<(SandboxState, u64)>, CoreError> {
        let mut counts: HashMap<SandboxState, u64> = HashMap::new();
        for rec in self.all_sandbox_records().await? {
            *counts.entry(rec.state).or_default() += 1;
        }
        let mut out: Vec<_> = counts.into_iter().collect();
        out.sort_by_key(|(st, _)| st.as_str());
        Ok(out)
    }

    /// The sandbox's resource use now, and its recent history.
    pub async fn sandbox_metrics(&self, id: &str) -> Result<SandboxMetrics, CoreError> {
        let sb = self.get_sandbox(id).await?;
        if !matches!(sb.state, SandboxState::Running | SandboxState::Paused) {
            return Err(CoreError::WrongState {
                id: id.to_owned(),
                state: sb.state,
                operation: "measure",
            });
        }
        let history = self.inner.metrics.history(id);
        let current = self
            .sample(id, false)
            .await?
            .ok_or_else(|| CoreError::WrongState {
                id: id.to_owned(),
                state: SandboxState::Stopped,
                operation: "measure",
            })?;
        Ok(SandboxMetrics { current, history })
    }

    /// Read the runtime's counters for one sandbox; `keep` appends to the history.
    async fn sample(&self, id: &str, keep: bool) -> Result<Option<MetricsSample>, CoreError> {
        let disk = self.inner.metrics.disk_due(id);
        let stats =
            self.inner
                .runtime
                .stats(id, disk)
                .await
                .map_err(|source| CoreError::Runtime {
                    id: id.to_owned(),
                    source: Box::new(source),
                })?;
        Ok(stats.map(|s| self.inner.metrics.reading(id, &s, keep)))
    }

    /// One pass of the sampler over every running sandbox.
    pub(crate) async fn sample_all(&self) -> Result<(), CoreError> {
        let mut alive = std::collections::HashSet::new();
        for rec in self
            .all_sandbox_records()
            .await?
            .into_iter()
            .filter(|r| r.state == SandboxState::Running)
        {
            if let Err(e) = self.sample(&rec.id, true).await {
                tracing::debug!(sandbox = %rec.id, error = %e.chain(), "metrics sample failed");
            }
            alive.insert(rec.id);
        }
        self.inner.metrics.retain(&alive);
        Ok(())
    }

    /// Sample every running sandbox every 5 s (`SAMPLE_EVERY`), forever.
    pub fn spawn_metrics_sampler(&self) {
        let core = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = core.sample_all().await {
                    tracing::warn!(error = %e.chain(), "metrics sampler failed");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(cpu_ns: u64) -> SandboxStats {
        SandboxStats {
            cpu_usage_ns: cpu_ns,
            memory_bytes: 10,
            pids: 2,
            ..SandboxStats::default()
        }
    }

    #[test]
    fn cpu_percent_comes_from_deltas_and_history_is_bounded() {
        let m = MetricsStore::default();
        let t0 = Instant::now();
        let first = m.reading_at("sb", &stats(0), true, t0);
        assert_eq!(first.cpu_percent, 0.0, "no baseline yet");
        // 40 ms of CPU in 20 ms of wall time: two cores busy.
        let second = m.reading_at(
            "sb",
            &stats(40_000_000),
            true,
            t0 + Duration::from_millis(20),
        );
        assert!(
            (second.cpu_percent - 200.0).abs() < 1e-6,
            "{}",
            second.cpu_percent
        );
        for i in 0..(HISTORY_LEN as u64 + 10) {
            m.reading_at(
                "sb",
                &stats(40_000_000 + i),
                true,
                t0 + Duration::from_millis(21 + i),
            );
        }
        assert_eq!(m.history("sb").len(), HISTORY_LEN);
        // Readings that are not kept do not grow the history.
        m.reading("sb", &stats(50_000_000), false);
        assert_eq!(m.history("sb").len(), HISTORY_LEN);
        m.retain(&std::collections::HashSet::new());
        assert!(m.history("sb").is_empty());
    }

    #[test]
    fn disk_is_due_until_measured_then_kept() {
        let m = MetricsStore::default();
        assert!(m.disk_due("sb"));
        let s = SandboxStats {
            disk_bytes: Some(4096),
            ..stats(0)
        };
        m.reading("sb", &s, true);
        assert!(!m.disk_due("sb"));
        // A later reading without a disk figure reports the last one.
        assert_eq!(m.reading("sb", &stats(1), true).disk_bytes, Some(4096));
    }
}
