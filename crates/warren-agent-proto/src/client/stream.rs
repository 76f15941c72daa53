//! Response bodies as the client hands them out: a decoded stream of process events, and the
//! raw chunks of a file download.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::AgentError;
use crate::MAX_ENVELOPE_BYTES;
use crate::envelope::{EndStreamMessage, EnvelopeDecoder};
use crate::process::{EventResponse, ProcessEvent};

/// The events of one `Start` or `Connect` call. Dropping it stops listening; the process keeps
/// running.
#[derive(Debug)]
pub struct ProcessStream {
    body: Incoming,
    decoder: EnvelopeDecoder,
    done: bool,
}

impl ProcessStream {
    pub(crate) fn new(body: Incoming) -> Self {
        Self {
            body,
            decoder: EnvelopeDecoder::new(MAX_ENVELOPE_BYTES),
            done: false,
        }
    }

    /// The next event; `None` after the stream ended cleanly. A stream that ends with a Connect
    /// error yields that error once, then `None`.
    pub async fn next(&mut self) -> Option<Result<ProcessEvent, AgentError>> {
        if self.done {
            return None;
        }
        let r = self.next_inner().await;
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }

    /// Adapt into a `futures` stream.
    pub fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<ProcessEvent, AgentError>> + Send {
        futures_util::stream::unfold(self, |mut s| async move { s.next().await.map(|e| (e, s)) })
    }

    async fn next_inner(&mut self) -> Option<Result<ProcessEvent, AgentError>> {
        loop {
            match self.decoder.next_frame() {
                Err(e) => return Some(Err(AgentError::protocol(e.to_string()))),
                Ok(Some(frame)) if frame.is_end_stream() => {
                    return match serde_json::from_slice::<EndStreamMessage>(&frame.payload) {
                        Ok(EndStreamMessage { error: Some(e), .. }) => Some(Err(e.into())),
                        Ok(_) => None,
                        Err(e) => Some(Err(AgentError::protocol(format!("bad end message: {e}")))),
                    };
                }
                Ok(Some(frame)) => {
                    return Some(
                        serde_json::from_slice::<EventResponse>(&frame.payload)
                            .map(|r| r.event)
                            .map_err(|e| AgentError::protocol(format!("bad event: {e}"))),
                    );
                }
                Ok(None) => {}
            }
            match self.body.frame().await {
                Some(Ok(f)) => {
                    if let Some(data) = f.data_ref() {
                        self.decoder.push(data);
                    }
                }
                Some(Err(source)) => return Some(Err(AgentError::Http { source })),
                None => {
                    return Some(Err(AgentError::protocol(match self.decoder.finish() {
                        Err(e) => e.to_string(),
                        Ok(()) => "stream ended without an end-of-stream message".into(),
                    })));
                }
            }
        }
    }
}

/// The body of a `GET /files` download.
#[derive(Debug)]
pub struct FileStream {
    body: Incoming,
}

impl FileStream {
    pub(crate) fn new(body: Incoming) -> Self {
        Self { body }
    }

    /// The next chunk of the file; `None` at the end.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, AgentError>> {
        loop {
            match self.body.frame().await? {
                Ok(f) => match f.into_data() {
                    Ok(d) if !d.is_empty() => return Some(Ok(d)),
                    _ => continue,
                },
                Err(source) => return Some(Err(AgentError::Http { source })),
            }
        }
    }

    /// Adapt into a `futures` stream.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<Bytes, AgentError>> + Send {
        futures_util::stream::unfold(
            self,
            |mut s| async move { s.next_chunk().await.map(|c| (c, s)) },
        )
    }
}
