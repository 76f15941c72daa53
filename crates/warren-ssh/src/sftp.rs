//! The SFTP subsystem (what OpenSSH's `scp` and `sftp` use) on the core files API.
//!
//! Paths are resolved against the sandbox's `/` (`paths.rs`). Files stream both ways:
//!
//! - A file opened for reading is one download stream from the agent, read forward as the
//!   client asks for consecutive offsets; a read elsewhere reopens the stream and skips to it.
//! - A file opened for writing is one upload stream fed through a channel: each write must
//!   continue where the last one ended (what `scp`, `sftp put` and `rsync`-less tools do) and
//!   is queued at once; closing the handle ends the upload and reports its result. The agent
//!   replaces the file atomically when the upload ends, so until then the file is not visible;
//!   a handle never closed (the client went away) cancels its upload and leaves the file be.
//!   Permissions given at open or by `fsetstat` are applied after that.
//!
//! russh-sftp serves one request at a time, so a handle is never used concurrently.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use russh::server::Msg;
use russh::{Channel, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, FileMode, Handle, Name, OpenFlags, Status, StatusCode,
    Version,
};
use russh_sftp::server::StatusReply;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use warren_core::{AgentBody, CoreError, EntryInfo, ErrorKind, FileStream, FileType};

use crate::paths::{normalize, parent};
use crate::session::{Ctx, fail, finish};

/// Entries per `SSH_FXP_NAME` reply (keeps packets well under the client's limit).
const DIR_BATCH: usize = 128;
/// Largest read served at once (OpenSSH asks for 32 KiB or 255 KiB).
const MAX_READ: u32 = 256 * 1024;
/// Upload chunks queued ahead of the agent.
const WRITE_QUEUE: usize = 32;
/// Fed after the last chunk: the upload is complete (writes of nothing are not fed).
const END: Bytes = Bytes::new();
/// Bytes buffered each way between the channel and russh-sftp.
const PIPE: usize = 256 * 1024;
/// Largest request accepted from a client: a 255 KiB write (OpenSSH's largest) and its header.
const MAX_PACKET: u32 = 256 * 1024 + 1024;

/// Start SFTP on the channel once the sandbox runs; end it with exit status 0.
///
/// russh-sftp runs on one end of an in-memory pipe while this task pumps the channel to and
/// from the other end. When the client ends its side (EOF), russh-sftp's loop ends and drops
/// its end, and only then is the channel closed, after an `exit-status` of 0: OpenSSH's `scp`
/// exits 1 without a word when the ssh under it reports no exit status.
pub(crate) async fn start(ctx: Ctx, channel: Channel<Msg>) {
    let (read, write) = channel.split();
    if let Err(e) = ctx.wake().await {
        return fail(&write, &e.chain()).await;
    }
    let handler = Sftp {
        ctx,
        handles: HashMap::new(),
        next: 0,
    };
    let (ours, theirs) = tokio::io::duplex(PIPE);
    let config = russh_sftp::server::Config {
        max_client_packet_len: MAX_PACKET,
    };
    russh_sftp::server::run_with_config(theirs, handler, config).await;
    let (from_sftp, to_sftp) = tokio::io::split(ours);
    let inbound = tokio::spawn(requests(read, to_sftp));
    replies(&write, from_sftp).await;
    inbound.abort();
    finish(&write, 0).await;
}

/// The client's requests to russh-sftp; EOF or close ends its input.
async fn requests(mut read: ChannelReadHalf, mut to_sftp: WriteHalf<DuplexStream>) {
    while let Some(msg) = read.wait().await {
        match msg {
            ChannelMsg::Data { data } if to_sftp.write_all(&data).await.is_err() => {
                return; // russh-sftp ended (data that went through falls to `_`)
            }
            ChannelMsg::Eof | ChannelMsg::Close => break,
            _ => {}
        }
    }
    let _ = to_sftp.shutdown().await;
}

/// russh-sftp's replies to the client, until it ends.
async fn replies(write: &ChannelWriteHalf<Msg>, mut from_sftp: ReadHalf<DuplexStream>) {
    let mut buf = vec![0u8; PIPE];
    loop {
        match from_sftp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if write
                    .data_bytes(Bytes::copy_from_slice(&buf[..n]))
                    .await
                    .is_err()
                {
                    return; // the client is gone
                }
            }
        }
    }
}

/// An error as the client sees it: a status code and core's message.
#[derive(Debug)]
pub(crate) struct SftpError(StatusReply);

impl From<SftpError> for StatusReply {
    fn from(e: SftpError) -> Self {
        e.0
    }
}

impl From<CoreError> for SftpError {
    fn from(e: CoreError) -> Self {
        let code = match e.kind() {
            ErrorKind::FileNotFound | ErrorKind::NotFound | ErrorKind::SandboxNotFound => {
                StatusCode::NoSuchFile
            }
            ErrorKind::PermissionDenied => StatusCode::PermissionDenied,
            _ => StatusCode::Failure,
        };
        SftpError(code.with_message(e.chain()))
    }
}

fn err(code: StatusCode, message: impl Into<String>) -> SftpError {
    SftpError(code.with_message(message))
}

fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".into(),
        language_tag: "en-US".into(),
    }
}

/// A file being read: the download stream and where it is.
struct Reader {
    path: String,
    stream: Option<FileStream>,
    /// The download was started (it is reopened only when the client reads backwards).
    opened: bool,
    /// Offset of the first byte of `pending`.
    pos: u64,
    pending: Bytes,
    eof: bool,
}

/// A file being written: the upload's feed and its task.
struct Writer {
    path: String,
    /// Chunks to upload, then [`END`].
    feed: mpsc::Sender<Bytes>,
    upload: JoinHandle<Result<(), CoreError>>,
    pos: u64,
    /// Permission bits to set once the file exists.
    mode: Option<u32>,
}

enum Open {
    Read(Reader),
    Write(Writer),
    /// A directory listing: `None` until read, then the entries left to send.
    Dir(String, Option<Vec<File>>),
}

struct Sftp {
    ctx: Ctx,
    handles: HashMap<String, Open>,
    next: u64,
}

/// SFTP attributes of an agent entry.
fn attrs(e: &EntryInfo) -> FileAttributes {
    let kind = match e.r#type {
        FileType::Directory => FileMode::DIR.bits(),
        FileType::Symlink => FileMode::LNK.bits(),
        FileType::File => FileMode::REG.bits(),
        FileType::Unspecified => 0,
    };
    let mtime = e
        .modified_time
        .as_deref()
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .and_then(|t| u32::try_from(t.unix_timestamp()).ok());
    FileAttributes {
        size: u64::try_from(e.size).ok(),
        uid: e.owner.parse().ok(),
        user: Some(e.owner.clone()).filter(|s| !s.is_empty()),
        gid: e.group.parse().ok(),
        group: Some(e.group.clone()).filter(|s| !s.is_empty()),
        permissions: Some(kind | (e.mode & 0o7777)),
        atime: mtime,
        mtime,
    }
}

/// The upload's body: the chunks fed until [`END`]. A feed dropped without it (the client went
/// away with the file still open) ends the body with an error, so the agent discards what it
/// received instead of replacing the file with a part of it.
fn upload_body(rx: mpsc::Receiver<Bytes>) -> AgentBody {
    let stream = futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(chunk) if chunk.is_empty() => None,
            Some(chunk) => Some((Ok(Frame::data(chunk)), Some(rx))),
            None => Some((
                Err(std::io::Error::other(
                    "the SFTP client went away before closing the file",
                )),
                None,
            )),
        }
    });
    StreamBody::new(stream)
        .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })
        .boxed_unsync()
}

impl Sftp {
    fn insert(&mut self, open: Open) -> String {
        self.next += 1;
        let handle = format!("h{}", self.next);
        self.handles.insert(handle.clone(), open);
        handle
    }

    fn handle(&mut self, handle: &str) -> Result<&mut Open, SftpError> {
        self.handles
            .get_mut(handle)
            .ok_or_else(|| err(StatusCode::Failure, format!("no open handle {handle:?}")))
    }

    async fn stat_path(&self, path: &str) -> Result<FileAttributes, SftpError> {
        let e = self
            .ctx
            .core
            .stat_file(&self.ctx.sandbox, path, None)
            .await?;
        Ok(attrs(&e))
    }

    async fn chmod(&self, path: &str, mode: u32) -> Result<(), SftpError> {
        let mode = format!("{:o}", mode & 0o7777);
        self.ctx
            .core
            .chmod_file(&self.ctx.sandbox, path, &mode, None)
            .await?;
        Ok(())
    }

    async fn open_write(&mut self, path: String, mode: Option<u32>) -> Result<String, SftpError> {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let (core, id, p) = (
            self.ctx.core.clone(),
            self.ctx.sandbox.clone(),
            path.clone(),
        );
        let upload =
            tokio::spawn(
                async move { core.write_file_stream(&id, &p, None, upload_body(rx)).await },
            );
        Ok(self.insert(Open::Write(Writer {
            path,
            feed: tx,
            upload,
            pos: 0,
            mode,
        })))
    }

    /// End an upload and return its result.
    async fn finish_write(&self, w: Writer) -> Result<(), SftpError> {
        // When the upload already failed, this send fails and its result says why.
        let _ = w.feed.send(END).await;
        match w.upload.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => return Err(err(StatusCode::Failure, format!("upload failed: {e}"))),
        }
        if let Some(mode) = w.mode {
            self.chmod(&w.path, mode).await?;
        }
        Ok(())
    }
}

impl Reader {
    /// Up to `len` bytes at `offset`, reopening the download when the client jumps.
    async fn read(&mut self, ctx: &Ctx, offset: u64, len: u32) -> Result<Vec<u8>, SftpError> {
        if !self.opened || offset < self.pos {
            let stream = ctx
                .core
                .read_file_stream(&ctx.sandbox, &self.path, None)
                .await?;
            self.stream = Some(stream);
            self.opened = true;
            self.pos = 0;
            self.pending = Bytes::new();
            self.eof = false;
        }
        // Past the end: the reads OpenSSH keeps in flight beyond EOF.
        if self.eof && offset >= self.pos + self.pending.len() as u64 {
            return Ok(Vec::new());
        }
        // Skip to `offset`.
        while self.pos + (self.pending.len() as u64) < offset && !self.eof {
            self.pos += self.pending.len() as u64;
            self.pending = self.next_chunk(ctx).await?;
        }
        let skip = usize::try_from(offset - self.pos)
            .unwrap_or(usize::MAX)
            .min(self.pending.len());
        self.pending = self.pending.slice(skip..);
        self.pos += skip as u64;
        let want = len.min(MAX_READ) as usize;
        let mut out = Vec::with_capacity(want.min(self.pending.len().max(4096)));
        while out.len() < want {
            if self.pending.is_empty() {
                if self.eof {
                    break;
                }
                self.pending = self.next_chunk(ctx).await?;
                continue;
            }
            let n = (want - out.len()).min(self.pending.len());
            out.extend_from_slice(&self.pending[..n]);
            self.pending = self.pending.slice(n..);
            self.pos += n as u64;
        }
        Ok(out)
    }

    /// The next chunk of the download; empty (and `eof` set) at its end.
    async fn next_chunk(&mut self, ctx: &Ctx) -> Result<Bytes, SftpError> {
        let Some(stream) = self.stream.as_mut() else {
            self.eof = true;
            return Ok(Bytes::new());
        };
        match stream.next_chunk().await {
            Some(Ok(b)) => Ok(b),
            Some(Err(e)) => {
                self.stream = None;
                Err(err(
                    StatusCode::Failure,
                    format!(
                        "reading {} in sandbox {} failed: {e}",
                        self.path, ctx.sandbox
                    ),
                ))
            }
            None => {
                self.eof = true;
                self.stream = None;
                Ok(Bytes::new())
            }
        }
    }
}

impl russh_sftp::server::Handler for Sftp {
    type Error = SftpError;

    fn unimplemented(&self) -> Self::Error {
        err(
            StatusCode::OpUnsupported,
            "not supported by warren's SFTP server",
        )
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: HashMap<String, String>,
    ) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        attrs_in: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let path = normalize(&filename);
        let handle = if pflags.contains(OpenFlags::WRITE) || pflags.contains(OpenFlags::APPEND) {
            if pflags.contains(OpenFlags::APPEND) || pflags.contains(OpenFlags::READ) {
                return Err(err(
                    StatusCode::OpUnsupported,
                    "files can be written whole only (no append or read-write)",
                ));
            }
            if pflags.contains(OpenFlags::EXCLUDE) && self.stat_path(&path).await.is_ok() {
                return Err(err(StatusCode::Failure, format!("{path} exists")));
            }
            // The agent would create missing directories; an SFTP server does not.
            let dir = parent(&path);
            if !self.stat_path(dir).await?.is_dir() {
                return Err(err(
                    StatusCode::Failure,
                    format!("{dir} is not a directory"),
                ));
            }
            self.open_write(path, attrs_in.permissions).await?
        } else {
            let a = self.stat_path(&path).await?;
            if a.is_dir() {
                return Err(err(StatusCode::Failure, format!("{path} is a directory")));
            }
            self.insert(Open::Read(Reader {
                path,
                stream: None,
                opened: false,
                pos: 0,
                pending: Bytes::new(),
                eof: false,
            }))
        };
        Ok(Handle { id, handle })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.handles.remove(&handle) {
            Some(Open::Write(w)) => self.finish_write(w).await?,
            Some(_) => {}
            None => {
                return Err(err(
                    StatusCode::Failure,
                    format!("no open handle {handle:?}"),
                ));
            }
        }
        Ok(ok(id))
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Self::Error> {
        let ctx = self.ctx.clone();
        let Open::Read(r) = self.handle(&handle)? else {
            return Err(err(StatusCode::Failure, "handle is not open for reading"));
        };
        let data = r.read(&ctx, offset, len).await?;
        if data.is_empty() && len > 0 {
            return Err(err(StatusCode::Eof, "end of file"));
        }
        Ok(Data { id, data })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, Self::Error> {
        let Open::Write(w) = self.handle(&handle)? else {
            return Err(err(StatusCode::Failure, "handle is not open for writing"));
        };
        if offset != w.pos {
            return Err(err(
                StatusCode::OpUnsupported,
                format!(
                    "writes must be sequential: expected offset {}, got {offset}",
                    w.pos
                ),
            ));
        }
        let len = data.len() as u64;
        let sent = data.is_empty() || w.feed.send(Bytes::from(data)).await.is_ok();
        if !sent {
            // The upload ended early: its error is the answer.
            let Some(Open::Write(w)) = self.handles.remove(&handle) else {
                unreachable!("checked above");
            };
            self.finish_write(w).await?;
            return Err(err(StatusCode::Failure, "the upload ended early"));
        }
        w.pos += len;
        Ok(ok(id))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat(id, path).await
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = self.stat_path(&normalize(&path)).await?;
        Ok(Attrs { id, attrs })
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let (path, writing) = match self.handle(&handle)? {
            Open::Read(r) => (r.path.clone(), None),
            Open::Dir(p, _) => (p.clone(), None),
            Open::Write(w) => (w.path.clone(), Some((w.pos, w.mode))),
        };
        let attrs = match writing {
            // Not visible until closed: describe what has been written.
            Some((size, mode)) => FileAttributes {
                size: Some(size),
                permissions: Some(FileMode::REG.bits() | mode.unwrap_or(0o644) & 0o7777),
                ..FileAttributes::empty()
            },
            None => self.stat_path(&path).await?,
        };
        Ok(Attrs { id, attrs })
    }

    async fn setstat(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let path = normalize(&path);
        if attrs.size.is_some() {
            return Err(err(
                StatusCode::OpUnsupported,
                "truncating is not supported",
            ));
        }
        if let Some(mode) = attrs.permissions {
            self.chmod(&path, mode).await?;
        }
        // Times cannot be set through the agent; they are left as they are.
        Ok(ok(id))
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let path = match self.handle(&handle)? {
            Open::Write(w) => {
                // scp truncates at the end of what it wrote (it writes in place): that is
                // where an upload ends anyway. Other sizes cannot be honoured.
                if attrs.size.is_some_and(|size| size != w.pos) {
                    return Err(err(
                        StatusCode::OpUnsupported,
                        "truncating a file being written is not supported",
                    ));
                }
                // The file exists only after close: remember the mode until then.
                if let Some(mode) = attrs.permissions {
                    w.mode = Some(mode);
                }
                return Ok(ok(id));
            }
            Open::Read(r) => r.path.clone(),
            Open::Dir(p, _) => p.clone(),
        };
        self.setstat(id, path, attrs).await
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let path = normalize(&path);
        if !self.stat_path(&path).await?.is_dir() {
            return Err(err(
                StatusCode::Failure,
                format!("{path} is not a directory"),
            ));
        }
        let handle = self.insert(Open::Dir(path, None));
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        let ctx = self.ctx.clone();
        let Open::Dir(path, listing) = self.handle(&handle)? else {
            return Err(err(StatusCode::Failure, "handle is not a directory"));
        };
        if listing.is_none() {
            let entries = ctx.core.list_files(&ctx.sandbox, path, 1, None).await?;
            let mut files: Vec<File> = entries
                .iter()
                .map(|e| File::new(e.name.clone(), attrs(e)))
                .collect();
            // Sent from the end, so reverse to keep the agent's order.
            files.reverse();
            *listing = Some(files);
        }
        let left = listing.as_mut().map_or(&mut Vec::new(), |l| l).len();
        let files = listing
            .as_mut()
            .map(|l| l.split_off(left.saturating_sub(DIR_BATCH)));
        match files {
            Some(mut f) if !f.is_empty() => {
                f.reverse();
                Ok(Name { id, files: f })
            }
            _ => Err(err(StatusCode::Eof, "end of directory")),
        }
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        let path = normalize(&filename);
        if self.stat_path(&path).await?.is_dir() {
            return Err(err(
                StatusCode::Failure,
                format!("{path} is a directory; use rmdir"),
            ));
        }
        self.ctx
            .core
            .remove_file(&self.ctx.sandbox, &path, false, None)
            .await?;
        Ok(ok(id))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let path = normalize(&path);
        if self.stat_path(&path).await.is_ok() {
            return Err(err(StatusCode::Failure, format!("{path} exists")));
        }
        let mode = attrs.permissions.map(|m| format!("{:o}", m & 0o7777));
        self.ctx
            .core
            .make_dir(&self.ctx.sandbox, &path, mode.as_deref(), None)
            .await?;
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        let path = normalize(&path);
        if !self.stat_path(&path).await?.is_dir() {
            return Err(err(
                StatusCode::Failure,
                format!("{path} is not a directory"),
            ));
        }
        self.ctx
            .core
            .remove_file(&self.ctx.sandbox, &path, false, None)
            .await?;
        Ok(ok(id))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        Ok(Name {
            id,
            files: vec![File::dummy(normalize(&path))],
        })
    }

    async fn rename(
        &mut self,
        id: u32,
        oldpath: String,
        newpath: String,
    ) -> Result<Status, Self::Error> {
        self.ctx
            .core
            .move_file(
                &self.ctx.sandbox,
                &normalize(&oldpath),
                &normalize(&newpath),
                None,
            )
            .await?;
        Ok(ok(id))
    }

    async fn readlink(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let path = normalize(&path);
        let e = self
            .ctx
            .core
            .stat_file(&self.ctx.sandbox, &path, None)
            .await?;
        match e.symlink_target {
            Some(t) => Ok(Name {
                id,
                files: vec![File::dummy(t)],
            }),
            None => Err(err(StatusCode::Failure, format!("{path} is not a symlink"))),
        }
    }
}
