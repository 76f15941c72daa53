//! Events: one page, or the live Server-Sent Events stream.

use bytes::{Buf, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use reqwest::Method;
use warren_api_types::{Event, EventList};

use crate::{Client, ClientError};

/// Which events to ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only events about this sandbox.
    pub sandbox: Option<String>,
    /// Only events whose action starts with this (`sandbox.`, `key.create`).
    pub action: Option<String>,
    /// Only events after this seq (oldest first); `None`: the newest ones.
    pub after: Option<i64>,
    /// Page size (1..=1000; the daemon's default is 100). Ignored by the stream.
    pub limit: Option<u32>,
}

impl EventQuery {
    fn pairs(&self, with_limit: bool) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(s) = &self.sandbox {
            q.push(("sandbox", s.clone()));
        }
        if let Some(a) = &self.action {
            q.push(("action", a.clone()));
        }
        if let Some(a) = self.after {
            q.push(("after", a.to_string()));
        }
        if let Some(l) = self.limit.filter(|_| with_limit) {
            q.push(("limit", l.to_string()));
        }
        q
    }
}

impl Client {
    /// `GET /v1/events`: one page.
    pub async fn list_events(&self, query: &EventQuery) -> Result<EventList, ClientError> {
        self.json(
            self.request(Method::GET, "/v1/events")
                .query(&query.pairs(true)),
        )
        .await
    }

    /// `GET /v1/events/stream`: events as they happen (after replaying the
    /// recorded ones after `query.after`, when given). Returns once the
    /// daemon has accepted the subscription: every event recorded from then
    /// on is delivered.
    pub async fn stream_events(&self, query: &EventQuery) -> Result<EventStream, ClientError> {
        let resp = self
            .send(
                self.request(Method::GET, "/v1/events/stream")
                    .header("accept", "text/event-stream")
                    .query(&query.pairs(false)),
            )
            .await?;
        Ok(EventStream {
            url: resp.url().to_string(),
            body: resp.bytes_stream().boxed(),
            buf: BytesMut::new(),
        })
    }
}

/// A live feed of events; see [`Client::stream_events`].
pub struct EventStream {
    url: String,
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: BytesMut,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The end of the first SSE message in `buf` (after its blank line) and
/// its `data`, if a whole message is there.
fn split_message(buf: &[u8]) -> Option<(usize, String)> {
    let text = std::str::from_utf8(buf).ok().or_else(|| {
        // A multi-byte character may be cut at the end of a chunk.
        let valid = std::str::from_utf8(buf).err()?.valid_up_to();
        std::str::from_utf8(&buf[..valid]).ok()
    })?;
    let (end, sep) = [("\n\n", 2), ("\r\n\r\n", 4)]
        .iter()
        .filter_map(|(s, n)| text.find(s).map(|i| (i, *n)))
        .min()?;
    let mut data = Vec::new();
    for line in text[..end].lines() {
        if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    Some((end + sep, data.join("\n")))
}

impl EventStream {
    /// The next event; `None` when the daemon ends the stream.
    pub async fn next(&mut self) -> Option<Result<Event, ClientError>> {
        loop {
            if let Some((len, data)) = split_message(&self.buf) {
                self.buf.advance(len);
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some(
                    serde_json::from_str(&data).map_err(|e| ClientError::Protocol {
                        url: self.url.clone(),
                        detail: format!("bad event {data:?}: {e}"),
                    }),
                );
            }
            match self.body.next().await? {
                Ok(chunk) => self.buf.extend_from_slice(&chunk),
                Err(source) => {
                    return Some(Err(ClientError::Transport {
                        url: self.url.clone(),
                        source,
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_messages_are_split_and_comments_skipped() {
        let buf = b": keep-alive\n\nid: 3\ndata: {\"a\":1}\n\nid: 4\ndata: x";
        let (n, data) = split_message(buf).unwrap();
        assert_eq!(data, "");
        let rest = &buf[n..];
        let (n2, data) = split_message(rest).unwrap();
        assert_eq!(data, "{\"a\":1}");
        assert!(split_message(&rest[n2..]).is_none(), "incomplete message");
        let crlf = b"data: y\r\n\r\n";
        assert_eq!(split_message(crlf).unwrap(), (crlf.len(), "y".to_owned()));
    }
}
