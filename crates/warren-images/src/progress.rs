//! Pull progress events. The daemon serialises them as NDJSON
//! (`{"event":"layer_progress",...}`) and streams them to the CLI.

use serde::Serialize;

/// One step of a pull or import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PullEvent {
    /// The manifest is known: how many layers and bytes to expect.
    Resolved {
        reference: String,
        digest: String,
        layers: usize,
        total_bytes: u64,
    },
    /// A layer download began.
    LayerStarted { digest: String, size: u64 },
    /// Bytes of a layer downloaded so far (throttled: every 256 KiB or 100 ms).
    LayerProgress {
        digest: String,
        downloaded: u64,
        size: u64,
    },
    /// The layer blob was already in the store.
    LayerCached { digest: String, size: u64 },
    /// The layer is downloaded, verified and unpacked.
    LayerDone { digest: String },
    /// The layer is being unpacked.
    Unpacking { digest: String },
    /// The image is stored under its reference.
    Done { digest: String },
}

/// Receives progress events. Must be cheap: it is called from the download loop.
pub trait PullProgress: Send + Sync {
    /// Handles one event.
    fn event(&self, ev: PullEvent);
}

/// Ignores all events.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl PullProgress for NoProgress {
    fn event(&self, _ev: PullEvent) {}
}

/// Decides when a `LayerProgress` event is due.
#[derive(Debug)]
pub(crate) struct Throttle {
    last_bytes: u64,
    last_time: std::time::Instant,
}

impl Throttle {
    const BYTES: u64 = 256 * 1024;
    const INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

    pub(crate) fn new() -> Self {
        Throttle {
            last_bytes: 0,
            last_time: std::time::Instant::now(),
        }
    }

    /// True when `downloaded` is far enough past the last report.
    pub(crate) fn due(&mut self, downloaded: u64) -> bool {
        let now = std::time::Instant::now();
        if downloaded - self.last_bytes >= Self::BYTES || now - self.last_time >= Self::INTERVAL {
            self.last_bytes = downloaded;
            self.last_time = now;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_tagged_snake_case() {
        let ev = PullEvent::LayerProgress {
            digest: "sha256:x".into(),
            downloaded: 1,
            size: 2,
        };
        assert_eq!(
            serde_json::to_string(&ev).unwrap(),
            r#"{"event":"layer_progress","digest":"sha256:x","downloaded":1,"size":2}"#
        );
    }
}
