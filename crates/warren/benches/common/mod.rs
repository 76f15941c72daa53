//! What the benchmarks (`skeleton`, `api`) share; each includes this directory as `mod common`.
//!
//! - [`e2e`]: the end-to-end harness of the integration tests (`tests/common/mod.rs`): a real
//!   `docker-registry` and a real `warren serve` on loopback, cleaned up on drop;
//! - [`setup`]: starting that stack with the fixtures pushed, the header every bench prints, and
//!   the ending (load average and wall time, or the daemon's log tail on error);
//! - [`rest`]: small REST steps both benches repeat (`exec ["true"]`, warm-up creates);
//! - [`stats`]: percentiles, targets, the printed table and its JSON;
//! - [`host`]: /proc and cgroup readings (load, CPU time, memory, pids).
// Each bench uses a subset of these helpers.
#![allow(dead_code)]

#[path = "../../tests/common/mod.rs"]
pub mod e2e;
pub mod host;
pub mod rest;
pub mod setup;
pub mod stats;
