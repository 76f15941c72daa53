//! What the E2B front door remembers about a sandbox, kept as labels under `e2b.` on the
//! sandbox itself: they survive daemon restarts with no table of their own, move with the
//! sandbox (branches copy them), and warren's own API and CLI show them.
//!
//! - `e2b.managed=true`: created through the E2B routes (what E2B's list shows);
//! - `e2b.template`: the `templateID` it was created with;
//! - `e2b.end_at`: Unix ms at which it ends (enforced only while it runs);
//! - `e2b.remaining_ms`: while paused, how much of its time was left (the clock stopped);
//! - `e2b.auto_pause`: at its end, hibernate (`true`) instead of delete;
//! - `e2b.started_at`: Unix ms of its last start or resume.

use std::collections::BTreeMap;

use warren_core::{Core, Sandbox, UpdateSandbox};

use super::error::E2bError;

pub(crate) const MANAGED: &str = "e2b.managed";
const TEMPLATE: &str = "e2b.template";
const END_AT: &str = "e2b.end_at";
const REMAINING: &str = "e2b.remaining_ms";
const AUTO_PAUSE: &str = "e2b.auto_pause";
const STARTED_AT: &str = "e2b.started_at";

/// E2B's view of one sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct E2bState {
    /// The `templateID` it was created with.
    pub(crate) template: String,
    /// Unix ms at which it ends while running.
    pub(crate) end_at_ms: i64,
    /// While paused: ms of its time left.
    pub(crate) remaining_ms: Option<i64>,
    /// Hibernate instead of delete at the end.
    pub(crate) auto_pause: bool,
    /// Unix ms of its last start or resume.
    pub(crate) started_at_ms: i64,
}

impl E2bState {
    /// Read from a sandbox's labels; a sandbox not made through E2B gets its image as template
    /// and no end (far in the future: nothing ends it but its own policy).
    pub(crate) fn of(sb: &Sandbox) -> Self {
        let num = |k: &str| sb.labels.get(k).and_then(|v| v.parse::<i64>().ok());
        Self {
            template: sb
                .labels
                .get(TEMPLATE)
                .cloned()
                .unwrap_or_else(|| sb.image.clone()),
            end_at_ms: num(END_AT).unwrap_or(i64::MAX / 2),
            remaining_ms: num(REMAINING),
            auto_pause: sb.labels.get(AUTO_PAUSE).is_some_and(|v| v == "true"),
            started_at_ms: num(STARTED_AT).unwrap_or(sb.created_at),
        }
    }

    /// These values written over `labels` (other labels kept).
    pub(crate) fn apply(&self, labels: &mut BTreeMap<String, String>) {
        labels.insert(MANAGED.into(), "true".into());
        labels.insert(TEMPLATE.into(), self.template.clone());
        labels.insert(END_AT.into(), self.end_at_ms.to_string());
        match self.remaining_ms {
            Some(r) => labels.insert(REMAINING.into(), r.to_string()),
            None => labels.remove(REMAINING),
        };
        labels.insert(AUTO_PAUSE.into(), self.auto_pause.to_string());
        labels.insert(STARTED_AT.into(), self.started_at_ms.to_string());
    }

    /// When it ends as E2B reports it: while paused, now plus what was left.
    pub(crate) fn reported_end_ms(&self, now_ms: i64) -> i64 {
        match self.remaining_ms {
            Some(r) => now_ms + r,
            None => self.end_at_ms,
        }
    }
}

/// Write `state` onto sandbox `sb`'s labels.
pub(crate) async fn save(
    core: &Core,
    sb: &Sandbox,
    state: &E2bState,
    actor: &str,
) -> Result<Sandbox, E2bError> {
    let mut labels = sb.labels.clone();
    state.apply(&mut labels);
    let update = UpdateSandbox {
        labels: Some(labels),
        ..UpdateSandbox::default()
    };
    Ok(core.update_sandbox(&sb.id, update, actor).await?)
}

/// Unix ms now.
pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        let st = E2bState {
            template: "base".into(),
            end_at_ms: 1_000,
            remaining_ms: Some(250),
            auto_pause: true,
            started_at_ms: 10,
        };
        let mut labels = BTreeMap::from([("other".to_owned(), "x".to_owned())]);
        st.apply(&mut labels);
        assert_eq!(labels["other"], "x");
        assert_eq!(labels[MANAGED], "true");
        let sb_labels = labels.clone();
        let num = |k: &str| sb_labels[k].parse::<i64>().unwrap();
        assert_eq!(num(END_AT), 1_000);
        assert_eq!(num(REMAINING), 250);
        assert_eq!(st.reported_end_ms(5_000), 5_250);
        let running = E2bState {
            remaining_ms: None,
            ..st
        };
        running.apply(&mut labels);
        assert!(!labels.contains_key(REMAINING));
        assert_eq!(running.reported_end_ms(5_000), 1_000);
    }
}
