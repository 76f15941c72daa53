//! Request counters and latency histograms for Prometheus, process-wide.
//!
//! A middleware on the routed API records every request under its route
//! template (`/v1/sandboxes/{id}`, never the concrete id, so the number of
//! series stays bounded), its method and its status. `/metrics` renders them
//! in the Prometheus text format next to the domain gauges.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Histogram bucket upper bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Registry {
    /// (method, route, status) → requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// (method, route) → latency.
    latency: BTreeMap<(String, String), Histogram>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

/// Middleware: count the request and time it until the response head is ready.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    record(
        method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

fn record(method: String, route: String, status: u16, seconds: f64) {
    let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
    *r.requests
        .entry((method.clone(), route.clone(), status))
        .or_default() += 1;
    let h = r.latency.entry((method, route)).or_default();
    for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
        if seconds <= *bound {
            *count += 1;
        }
    }
    h.count += 1;
    h.sum += seconds;
}

/// Escape a label value for the text format.
pub(crate) fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The HTTP metrics in Prometheus text format.
pub(crate) fn render(out: &mut String) {
    let r = registry().lock().unwrap_or_else(|e| e.into_inner());
    out.push_str(
        "# HELP warren_http_requests_total API requests by route template, method and status.\n",
    );
    out.push_str("# TYPE warren_http_requests_total counter\n");
    for ((method, route, status), n) in &r.requests {
        let _ = writeln!(
            out,
            "warren_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
            label(route)
        );
    }
    out.push_str("# HELP warren_http_request_duration_seconds Time until the response head, by route template.\n");
    out.push_str("# TYPE warren_http_request_duration_seconds histogram\n");
    for ((method, route), h) in &r.latency {
        let labels = format!("method=\"{method}\",route=\"{}\"", label(route));
        for (bound, count) in BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(
                out,
                "warren_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "warren_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            out,
            "warren_http_request_duration_seconds_sum{{{labels}}} {}",
            h.sum
        );
        let _ = writeln!(
            out,
            "warren_http_request_duration_seconds_count{{{labels}}} {}",
            h.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        record("GET".into(), "/test/hist".into(), 200, 0.003);
        record("GET".into(), "/test/hist".into(), 500, 0.2);
        let mut out = String::new();
        render(&mut out);
        let line = |needle: &str| {
            out.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("no {needle} in\n{out}"))
                .to_owned()
        };
        assert!(
            line("warren_http_requests_total{method=\"GET\",route=\"/test/hist\",status=\"500\"}")
                .ends_with(" 1")
        );
        let b = "warren_http_request_duration_seconds_bucket{method=\"GET\",route=\"/test/hist\"";
        assert!(line(&format!("{b},le=\"0.001\"}}")).ends_with(" 0"));
        assert!(line(&format!("{b},le=\"0.005\"}}")).ends_with(" 1"));
        assert!(line(&format!("{b},le=\"0.25\"}}")).ends_with(" 2"));
        assert!(line(&format!("{b},le=\"+Inf\"}}")).ends_with(" 2"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
