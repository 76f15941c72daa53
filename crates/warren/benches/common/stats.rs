//! Percentiles and the printed tables.
//!
//! Every figure is a [`Row`]: n, nearest-rank p50/p99, min, max and mean of its samples, with an
//! optional [`Target`]. Latency targets (unit `ms`) are checked on the p50; every other target
//! (memory, where the samples are sandboxes or a single reading; a rate) on the mean. The bench
//! prints PASS/MISS and never fails on a number. A [`Report`] keeps the tables it printed so a
//! bench can also write them as JSON.

use std::future::Future;
use std::time::{Duration, Instant};

pub const MIB: f64 = 1024.0 * 1024.0;

/// A target on a row's p50 (latency) or mean (anything else).
#[derive(Clone, Copy)]
pub enum Target {
    /// The figure must be at most this (in the row's unit).
    AtMost(f64),
    /// The figure must be at least this (a rate).
    AtLeast(f64),
}

impl Target {
    fn met(self, v: f64) -> bool {
        match self {
            Target::AtMost(max) => v <= max,
            Target::AtLeast(min) => v >= min,
        }
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Target::AtMost(max) => format!("≤ {max} {unit}"),
            Target::AtLeast(min) => format!("≥ {min} {unit}"),
        }
    }
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

impl Row {
    pub fn p50(&self) -> f64 {
        self.p50
    }

    pub fn p99(&self) -> f64 {
        self.p99
    }

    /// The value the target is checked on: the p50 of a latency, the mean of anything else.
    fn checked_value(&self) -> f64 {
        if self.unit == "ms" {
            self.p50
        } else {
            self.mean
        }
    }

    /// "≤ 3 ms PASS", or empty without a target.
    fn verdict(&self) -> String {
        self.target.map_or_else(String::new, |t| {
            let ok = t.met(self.checked_value());
            format!(
                "{} {}",
                t.describe(self.unit),
                if ok { "PASS" } else { "MISS" }
            )
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name.trim(),
            "n": self.n,
            "p50": self.p50,
            "p99": self.p99,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "unit": self.unit,
            "target": self.target.map(|t| t.describe(self.unit)),
            "pass": self.target.map(|t| t.met(self.checked_value())),
        })
    }
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

/// A derived latency: the p50 and p99 of `a` minus those of `b` (each column a difference of
/// percentiles, not a percentile of differences), with the target on the p50 difference.
pub fn difference(name: &str, a: &Row, b: &Row, target: Option<Target>) -> Row {
    let (p50, p99) = (a.p50 - b.p50, a.p99 - b.p99);
    Row {
        name: name.to_owned(),
        n: a.n.min(b.n),
        p50,
        p99,
        min: f64::NAN,
        max: f64::NAN,
        mean: a.mean - b.mean,
        unit: "ms",
        target,
    }
}

/// Run `f` `n` times, one after another; how long each call took.
pub async fn time_each<T, E, F, Fut>(n: usize, mut f: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await.map_err(Into::into)?;
        times.push(t.elapsed());
    }
    Ok(times)
}

pub fn print_table(title: &str, rows: &[Row]) {
    println!("\n## {title}");
    println!(
        "{:<56} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}  {:<12}",
        "", "n", "p50", "p99", "min", "max", "mean", "target"
    );
    for r in rows {
        println!(
            "{:<56} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {} {}",
            r.name,
            r.n,
            r.p50,
            r.p99,
            r.min,
            r.max,
            r.mean,
            r.unit,
            r.verdict()
        );
    }
}

/// The tables a bench printed, kept for `--json`.
#[derive(Default)]
pub struct Report {
    sections: Vec<(String, Vec<Row>)>,
    notes: Vec<(String, serde_json::Value)>,
}

impl Report {
    /// Print a table and keep it.
    pub fn table(&mut self, title: &str, rows: Vec<Row>) {
        print_table(title, &rows);
        self.sections.push((title.to_owned(), rows));
    }

    /// Keep a figure that is not a row (a count, a size, a CPU share) under `key`.
    pub fn note(&mut self, key: &str, value: serde_json::Value) {
        self.notes.push((key.to_owned(), value));
    }

    pub fn json(&self) -> serde_json::Value {
        let sections: Vec<_> = self
            .sections
            .iter()
            .map(|(title, rows)| {
                serde_json::json!({
                    "title": title,
                    "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
                })
            })
            .collect();
        let notes: serde_json::Map<_, _> = self.notes.iter().cloned().collect();
        serde_json::json!({ "sections": sections, "notes": notes })
    }
}
