//! Processes: streaming exec, background processes, attach, stdin and signals.
//!
//! Streams arrive as Server-Sent Events and are handed out decoded by [`ProcessEventStream`].

use bytes::Bytes;
use reqwest::{Method, Response, header};
use warren_api_types::{
    ErrorBody, ExecRequest, OutputChunk, Process, ProcessExit, ProcessList, ProcessStarted,
    SignalName, SignalRequest, StartProcessRequest,
};

use crate::{Client, ClientError, seg};

/// One decoded event of a process stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessStreamEvent {
    /// The process runs (the first event).
    Start(ProcessStarted),
    /// Bytes from stdout.
    Stdout(Bytes),
    /// Bytes from stderr.
    Stderr(Bytes),
    /// The process ended (the last event).
    Exit(ProcessExit),
}

/// The events of a streaming exec or an attach, read as they arrive.
#[derive(Debug)]
pub struct ProcessEventStream {
    resp: Response,
    url: String,
    buf: Vec<u8>,
    done: bool,
}

impl ProcessEventStream {
    fn new(resp: Response) -> Self {
        Self {
            url: resp.url().to_string(),
            resp,
            buf: Vec::new(),
            done: false,
        }
    }

    /// The next event; `None` after `Exit` (or when the stream ended without one).
    pub async fn next(&mut self) -> Option<Result<ProcessStreamEvent, ClientError>> {
        while !self.done {
            if let Some(end) = find_block_end(&self.buf) {
                let block: Vec<u8> = self.buf.drain(..end.1).collect();
                match self.decode(&block[..end.0]) {
                    Ok(None) => continue,
                    Ok(Some(ev)) => {
                        self.done = matches!(ev, ProcessStreamEvent::Exit(_));
                        return Some(Ok(ev));
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            match self.resp.chunk().await {
                Ok(Some(c)) => self.buf.extend_from_slice(&c),
                Ok(None) => {
                    self.done = true;
                    return Some(Err(self.protocol("the stream ended before the exit event")));
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(ClientError::Transport {
                        url: self.url.clone(),
                        source,
                    }));
                }
            }
        }
        None
    }

    fn protocol(&self, detail: impl Into<String>) -> ClientError {
        ClientError::Protocol {
            url: self.url.clone(),
            detail: detail.into(),
        }
    }

    fn decode(&self, block: &[u8]) -> Result<Option<ProcessStreamEvent>, ClientError> {
        let text = std::str::from_utf8(block).map_err(|e| self.protocol(e.to_string()))?;
        let mut name = "message";
        let mut data = String::new();
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim_start();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if data.is_empty() {
            return Ok(None); // a keep-alive comment
        }
        let bad = |e: serde_json::Error| self.protocol(format!("bad {name} event: {e}"));
        let ev = match name {
            "start" => ProcessStreamEvent::Start(serde_json::from_str(&data).map_err(bad)?),
            "stdout" => ProcessStreamEvent::Stdout(self.chunk(&data)?),
            "stderr" => ProcessStreamEvent::Stderr(self.chunk(&data)?),
            "exit" => ProcessStreamEvent::Exit(serde_json::from_str(&data).map_err(bad)?),
            "error" => {
                let e: ErrorBody = serde_json::from_str(&data).map_err(bad)?;
                return Err(ClientError::Api {
                    status: e.error.code.http_status(),
                    code: e.error.code,
                    message: e.error.message,
                });
            }
            _ => return Ok(None),
        };
        Ok(Some(ev))
    }

    fn chunk(&self, data: &str) -> Result<Bytes, ClientError> {
        use base64::Engine as _;
        let c: OutputChunk = serde_json::from_str(data)
            .map_err(|e| self.protocol(format!("bad output event: {e}")))?;
        match (c.data, c.b64) {
            (Some(s), _) => Ok(Bytes::from(s)),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map(Bytes::from)
                .map_err(|e| self.protocol(format!("bad base64 output: {e}"))),
            (None, None) => Ok(Bytes::new()),
        }
    }
}

/// The end of the first SSE block in `buf`: (end of its text, end including the blank line).
fn find_block_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

impl Client {
    /// `POST /v1/sandboxes/{id}/exec` with `Accept: text/event-stream`: output as it happens.
    pub async fn exec_stream(
        &self,
        id: &str,
        req: &ExecRequest,
    ) -> Result<ProcessEventStream, ClientError> {
        let r = self
            .request(Method::POST, &format!("/v1/sandboxes/{}/exec", seg(id)))
            .header(header::ACCEPT, "text/event-stream")
            .json(req);
        Ok(ProcessEventStream::new(self.send(r).await?))
    }

    /// `POST /v1/sandboxes/{id}/processes`: start in the background.
    pub async fn start_process(
        &self,
        id: &str,
        req: &StartProcessRequest,
    ) -> Result<Process, ClientError> {
        self.json(
            self.request(
                Method::POST,
                &format!("/v1/sandboxes/{}/processes", seg(id)),
            )
            .json(req),
        )
        .await
    }

    /// `GET /v1/sandboxes/{id}/processes`.
    pub async fn list_processes(&self, id: &str) -> Result<ProcessList, ClientError> {
        self.json(self.request(Method::GET, &format!("/v1/sandboxes/{}/processes", seg(id))))
            .await
    }

    /// `GET /v1/sandboxes/{id}/processes/{pid}/events`: attach; drop the stream to detach.
    pub async fn attach_process(
        &self,
        id: &str,
        pid: u32,
    ) -> Result<ProcessEventStream, ClientError> {
        let r = self
            .request(
                Method::GET,
                &format!("/v1/sandboxes/{}/processes/{pid}/events", seg(id)),
            )
            .header(header::ACCEPT, "text/event-stream");
        Ok(ProcessEventStream::new(self.send(r).await?))
    }

    /// `POST /v1/sandboxes/{id}/processes/{pid}/stdin`.
    pub async fn send_stdin(
        &self,
        id: &str,
        pid: u32,
        data: impl Into<Bytes>,
    ) -> Result<(), ClientError> {
        let r = self
            .request(
                Method::POST,
                &format!("/v1/sandboxes/{}/processes/{pid}/stdin", seg(id)),
            )
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(data.into());
        self.send(r).await.map(drop)
    }

    /// `POST /v1/sandboxes/{id}/processes/{pid}/stdin/close`.
    pub async fn close_stdin(&self, id: &str, pid: u32) -> Result<(), ClientError> {
        let r = self.request(
            Method::POST,
            &format!("/v1/sandboxes/{}/processes/{pid}/stdin/close", seg(id)),
        );
        self.send(r).await.map(drop)
    }

    /// `POST /v1/sandboxes/{id}/processes/{pid}/signal`.
    pub async fn signal_process(
        &self,
        id: &str,
        pid: u32,
        signal: SignalName,
    ) -> Result<(), ClientError> {
        let r = self
            .request(
                Method::POST,
                &format!("/v1/sandboxes/{}/processes/{pid}/signal", seg(id)),
            )
            .json(&SignalRequest { signal });
        self.send(r).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_split_on_blank_lines() {
        assert_eq!(find_block_end(b"event: a\ndata: 1\n\nrest"), Some((16, 18)));
        assert_eq!(find_block_end(b"data: 1\r\n\r\n"), Some((7, 11)));
        assert_eq!(find_block_end(b"data: 1\n"), None);
    }
}
