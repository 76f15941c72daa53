//! Process events as Server-Sent Events.
//!
//! One SSE event per process event: `start` `{"pid"}`, then `stdout` / `stderr`
//! ([`api::OutputChunk`]: `data` when the chunk is UTF-8, else `b64`), then `exit`
//! ([`api::ProcessExit`]), or `error` (`{"error":{"code","message"}}`) when the agent fails
//! mid-stream. A UTF-8 character split between two reads is held back and sent whole with the
//! next chunk, so text never arrives as base64 just because of where a read ended. Comment
//! lines keep idle connections open through proxies.

use std::convert::Infallible;

use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::Stream;
use warren_api_types as api;
use warren_core::{ProcessEvent, ProcessEvents};

use crate::ApiError;

/// True when the request asks for `text/event-stream`.
pub(crate) fn wants_sse(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// The SSE response for a process stream.
pub(crate) fn sse(stream: ProcessEvents) -> Response {
    Sse::new(events(stream))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn json_event(name: &str, value: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(value).expect("API types serialize"))
}

struct State {
    rx: Option<tokio::sync::mpsc::Receiver<ProcessEvent>>,
    stdout: Utf8Carry,
    stderr: Utf8Carry,
    /// Events ready to send before reading more.
    queue: std::collections::VecDeque<Event>,
}

fn events(stream: ProcessEvents) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    let mut queue = std::collections::VecDeque::new();
    queue.push_back(json_event(
        "start",
        &api::ProcessStarted { pid: stream.pid },
    ));
    let state = State {
        rx: Some(stream.events),
        stdout: Utf8Carry::default(),
        stderr: Utf8Carry::default(),
        queue,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(e) = st.queue.pop_front() {
                return Some((Ok(e), st));
            }
            let rx = st.rx.as_mut()?;
            match rx.recv().await {
                Some(ProcessEvent::Stdout(b)) => {
                    st.queue
                        .extend(st.stdout.push(&b).map(|c| json_event("stdout", &c)));
                }
                Some(ProcessEvent::Stderr(b)) => {
                    st.queue
                        .extend(st.stderr.push(&b).map(|c| json_event("stderr", &c)));
                }
                Some(ProcessEvent::Exited(end)) => {
                    st.queue
                        .extend(st.stdout.flush().map(|c| json_event("stdout", &c)));
                    st.queue
                        .extend(st.stderr.flush().map(|c| json_event("stderr", &c)));
                    let exit = api::ProcessExit {
                        exit_code: end.exit_code,
                        timed_out: end.timed_out,
                        status: end.status,
                        duration_ms: u64::try_from(end.duration.as_millis()).unwrap_or(u64::MAX),
                    };
                    st.queue.push_back(json_event("exit", &exit));
                    st.rx = None;
                }
                Some(ProcessEvent::Failed(e)) => {
                    let e = ApiError::from(e);
                    let body = api::ErrorBody {
                        error: api::ErrorDetail {
                            code: e.code,
                            message: e.message,
                        },
                    };
                    st.queue.push_back(json_event("error", &body));
                    st.rx = None;
                }
                None => st.rx = None,
            }
        }
    })
}

/// Turns a byte stream into UTF-8 text chunks, holding back an incomplete trailing character.
#[derive(Debug, Default)]
struct Utf8Carry {
    pending: Vec<u8>,
}

impl Utf8Carry {
    /// At most 3 bytes of a character can be pending.
    const MAX_PENDING: usize = 3;

    fn push(&mut self, bytes: &[u8]) -> Option<api::OutputChunk> {
        self.pending.extend_from_slice(bytes);
        let buf = std::mem::take(&mut self.pending);
        match std::str::from_utf8(&buf) {
            Ok("") => None,
            Ok(s) => Some(text(s.to_owned())),
            Err(e)
                if e.error_len().is_none() && buf.len() - e.valid_up_to() <= Self::MAX_PENDING =>
            {
                let (head, tail) = buf.split_at(e.valid_up_to());
                self.pending = tail.to_vec();
                let head = std::str::from_utf8(head).expect("valid up to here");
                (!head.is_empty()).then(|| text(head.to_owned()))
            }
            Err(_) => Some(binary(&buf)),
        }
    }

    fn flush(&mut self) -> Option<api::OutputChunk> {
        let buf = std::mem::take(&mut self.pending);
        (!buf.is_empty()).then(|| binary(&buf))
    }
}

fn text(s: String) -> api::OutputChunk {
    api::OutputChunk {
        data: Some(s),
        b64: None,
    }
}

fn binary(b: &[u8]) -> api::OutputChunk {
    api::OutputChunk {
        data: None,
        b64: Some(base64::engine::general_purpose::STANDARD.encode(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_characters_are_held_back() {
        let mut c = Utf8Carry::default();
        let euro = "€".as_bytes();
        assert_eq!(c.push(b"a"), Some(text("a".into())));
        assert_eq!(c.push(&[b'b', euro[0]]), Some(text("b".into())));
        assert_eq!(c.push(&euro[1..2]), None);
        assert_eq!(c.push(&euro[2..]), Some(text("€".into())));
        assert_eq!(c.push(b"\xff\xfe"), Some(binary(b"\xff\xfe")));
        assert_eq!(c.push(&euro[..1]), None);
        assert_eq!(c.flush(), Some(binary(&euro[..1])));
        assert_eq!(c.flush(), None);
    }
}
