//! Percentiles and the printed tables.
//!
//! Every figure is a [`Row`]: n, nearest-rank p50/p99, min, max and mean of its samples, with an
//! optional [`Target`]. Latency targets are checked on the p50; memory targets (where the samples
//! are sandboxes, or a single reading) on the mean. The bench prints PASS/MISS and never fails on
//! a number.

use std::time::Duration;

pub const MIB: f64 = 1024.0 * 1024.0;

/// A target: the figure must be at most `max` (in the row's unit).
#[derive(Clone, Copy)]
pub struct Target {
    pub max: f64,
}

pub struct Row {
    name: String,
    n: usize,
    p50: f64,
    p99: f64,
    min: f64,
    max: f64,
    mean: f64,
    unit: &'static str,
    target: Option<Target>,
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

pub fn row(name: &str, values: &[f64], unit: &'static str, target: Option<Target>) -> Row {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Row {
            name: name.to_owned(),
            n,
            p50: f64::NAN,
            p99: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
            unit,
            target,
        };
    }
    Row {
        name: name.to_owned(),
        n,
        p50: pct(&v, 0.5),
        p99: pct(&v, 0.99),
        min: v[0],
        max: v[n - 1],
        mean: v.iter().sum::<f64>() / n as f64,
        unit,
        target,
    }
}

/// A latency row in milliseconds.
pub fn durations(name: &str, values: &[Duration], target: Option<Target>) -> Row {
    let v: Vec<f64> = values.iter().copied().map(ms).collect();
    row(name, &v, "ms", target)
}

pub fn print_table(title: &str, rows: &[Row]) {
    println!("\n## {title}");
    println!(
        "{:<52} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9}  {:<12}",
        "", "n", "p50", "p99", "min", "max", "mean", "target"
    );
    for r in rows {
        let verdict = match r.target {
            // Every target is on the p50 (latency) or the mean (memory, where n is the count).
            Some(t) => {
                let v = if r.unit == "ms" { r.p50 } else { r.mean };
                format!(
                    "≤ {} {} {}",
                    t.max,
                    r.unit,
                    if v <= t.max { "PASS" } else { "MISS" }
                )
            }
            None => String::new(),
        };
        println!(
            "{:<52} {:>4} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {} {verdict}",
            r.name, r.n, r.p50, r.p99, r.min, r.max, r.mean, r.unit
        );
    }
}
