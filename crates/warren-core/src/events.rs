//! The event feed: queries over the recorded events, and a live broadcast.
//!
//! Every state change and operation is recorded by the store in the same
//! transaction as the change. After such a write commits, core calls
//! [`Core::publish_events`], which reads the events recorded since the last
//! publish and sends them, in `seq` order, to every subscriber. The store
//! knows nothing of the channel, and a subscriber never sees an event that
//! did not commit. A subscriber that falls behind the channel's buffer is
//! told so (`RecvError::Lagged`) and can catch up from the store by `seq`.

use tokio::sync::{Mutex, broadcast};
use warren_store::{EventQuery, EventRecord};

use crate::{Core, CoreError};

/// Events buffered per subscriber before it lags.
const CHANNEL_CAPACITY: usize = 1024;
/// Largest page of [`Core::events`].
pub const MAX_EVENTS_PAGE: u32 = 1000;
/// Page size when the caller gives none.
const DEFAULT_EVENTS_PAGE: u32 = 100;

/// The live side of the event feed.
pub(crate) struct EventHub {
    tx: broadcast::Sender<EventRecord>,
    /// The `seq` of the last published event; `None` until the first
    /// publish (or [`Core::start_events`]) reads it from the store.
    published: Mutex<Option<i64>>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            published: Mutex::new(None),
        }
    }
}

/// A filter over events, as the API takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events about this sandbox.
    pub sandbox_id: Option<String>,
    /// Only events whose action starts with this (`sandbox.`, `key.create`).
    pub action: Option<String>,
    /// Only events after this `seq`, oldest first; `None`: the newest ones.
    pub after: Option<i64>,
    /// Page size (1..=1000, default 100).
    pub limit: Option<u32>,
}

impl EventFilter {
    /// Whether a live event passes the sandbox and action filters.
    pub fn matches(&self, ev: &EventRecord) -> bool {
        self.sandbox_id
            .as_deref()
            .is_none_or(|id| ev.sandbox_id.as_deref() == Some(id))
            && self
                .action
                .as_deref()
                .is_none_or(|p| ev.action.starts_with(p))
    }
}

impl Core {
    /// Mark every event already recorded as published, so the live feed
    /// starts with the next one. Call once at start-up, before anything
    /// records events; without it the first publish does the same and that
    /// first batch is not broadcast (it is still in the store).
    pub async fn start_events(&self) -> Result<(), CoreError> {
        let mut published = self.inner.events.published.lock().await;
        *published = Some(self.newest_event_seq().await?);
        Ok(())
    }

    async fn newest_event_seq(&self) -> Result<i64, CoreError> {
        let newest = self
            .inner
            .store
            .query_events(&EventQuery {
                limit: 1,
                ..EventQuery::default()
            })
            .await?;
        Ok(newest.last().map_or(0, |e| e.seq))
    }

    /// Broadcast the events committed since the last publish. Called after
    /// every store write that records an event; failures are logged, and
    /// the next publish sends what this one missed.
    pub(crate) async fn publish_events(&self) {
        let hub = &self.inner.events;
        let mut published = hub.published.lock().await;
        let Some(after) = *published else {
            match self.newest_event_seq().await {
                Ok(seq) => *published = Some(seq),
                Err(e) => tracing::warn!(error = %e.chain(), "cannot start the event feed"),
            }
            return;
        };
        let mut after = after;
        loop {
            let page = self
                .inner
                .store
                .query_events(&EventQuery {
                    after: Some(after),
                    limit: MAX_EVENTS_PAGE,
                    ..EventQuery::default()
                })
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %CoreError::from(e).chain(), "cannot publish events");
                    break;
                }
            };
            let full = page.len() == MAX_EVENTS_PAGE as usize;
            for ev in page {
                after = ev.seq;
                // No subscribers is not an error.
                let _ = hub.tx.send(ev);
            }
            if !full {
                break;
            }
        }
        *published = Some(after);
    }

    /// A receiver of every event published from now on, in `seq` order.
    pub fn subscribe_events(&self) -> broadcast::Receiver<EventRecord> {
        self.inner.events.tx.subscribe()
    }

    /// One page of events, oldest first, and the cursor of the next page
    /// (`Some` only when `after` was given and the page is full).
    pub async fn events(
        &self,
        filter: &EventFilter,
    ) -> Result<(Vec<EventRecord>, Option<i64>), CoreError> {
        let limit = filter.limit.unwrap_or(DEFAULT_EVENTS_PAGE);
        if !(1..=MAX_EVENTS_PAGE).contains(&limit) {
            return Err(CoreError::invalid(
                "limit",
                format!("must be 1..={MAX_EVENTS_PAGE}"),
            ));
        }
        if filter.after.is_some_and(|a| a < 0) {
            return Err(CoreError::invalid("after", "must be a non-negative seq"));
        }
        let items = self
            .inner
            .store
            .query_events(&EventQuery {
                sandbox_id: filter.sandbox_id.clone(),
                action_prefix: filter.action.clone().filter(|a| !a.is_empty()),
                after: filter.after,
                limit,
            })
            .await?;
        let next = match (filter.after, items.last()) {
            (Some(_), Some(last)) if items.len() == limit as usize => Some(last.seq),
            _ => None,
        };
        Ok((items, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(sandbox: Option<&str>, action: &str) -> EventRecord {
        EventRecord {
            seq: 1,
            at: 0,
            sandbox_id: sandbox.map(Into::into),
            action: action.into(),
            from_state: None,
            to_state: None,
            actor: None,
            ok: true,
            message: None,
        }
    }

    #[test]
    fn filter_matches_sandbox_and_action_prefix() {
        let f = EventFilter {
            sandbox_id: Some("sb-a".into()),
            action: Some("sandbox.".into()),
            ..EventFilter::default()
        };
        assert!(f.matches(&ev(Some("sb-a"), "sandbox.create")));
        assert!(!f.matches(&ev(Some("sb-b"), "sandbox.create")));
        assert!(!f.matches(&ev(None, "sandbox.create")));
        assert!(!f.matches(&ev(Some("sb-a"), "key.create")));
        assert!(EventFilter::default().matches(&ev(None, "key.create")));
    }
}
