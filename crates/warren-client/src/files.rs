//! Files, directories and tar archives inside a sandbox. Uploads and downloads stream.

use std::path::Path;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use reqwest::Method;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use warren_api_types::{
    ChmodRequest, ChownRequest, FileEntry, FileList, MkdirRequest, MoveRequest,
};

use crate::{Client, ClientError, seg};

/// A download: the body as a stream of chunks.
pub type ByteStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, ClientError>> + Send>>;

impl Client {
    fn files_url(id: &str, rest: &str) -> String {
        format!("/v1/sandboxes/{}/{rest}", seg(id))
    }

    /// `GET /v1/sandboxes/{id}/files?path=`: the whole file, buffered.
    pub async fn read_file(&self, id: &str, path: &str) -> Result<Bytes, ClientError> {
        let req = self
            .request(Method::GET, &Self::files_url(id, "files"))
            .query(&[("path", path)]);
        let resp = self.send(req).await?;
        let url = resp.url().to_string();
        resp.bytes()
            .await
            .map_err(|source| ClientError::Transport { url, source })
    }

    /// `GET /v1/sandboxes/{id}/files?path=` as a stream of chunks.
    pub async fn read_file_stream(&self, id: &str, path: &str) -> Result<ByteStream, ClientError> {
        self.download(&Self::files_url(id, "files"), path).await
    }

    /// Stream a file of the sandbox into `out`; returns the number of bytes written.
    pub async fn download_file<W: AsyncWrite + Unpin>(
        &self,
        id: &str,
        path: &str,
        out: &mut W,
    ) -> Result<u64, ClientError> {
        let mut s = self.read_file_stream(id, path).await?;
        let mut n = 0u64;
        while let Some(chunk) = s.next().await {
            let chunk = chunk?;
            out.write_all(&chunk)
                .await
                .map_err(|source| ClientError::Io {
                    path: path.into(),
                    source,
                })?;
            n += chunk.len() as u64;
        }
        out.flush().await.map_err(|source| ClientError::Io {
            path: path.into(),
            source,
        })?;
        Ok(n)
    }

    /// `PUT /v1/sandboxes/{id}/files?path=` with a buffered body.
    pub async fn write_file(
        &self,
        id: &str,
        path: &str,
        data: impl Into<Bytes>,
    ) -> Result<(), ClientError> {
        self.write_file_stream(id, path, reqwest::Body::from(data.into()))
            .await
    }

    /// `PUT /v1/sandboxes/{id}/files?path=` with any body (`reqwest::Body::wrap_stream` streams).
    pub async fn write_file_stream(
        &self,
        id: &str,
        path: &str,
        body: reqwest::Body,
    ) -> Result<(), ClientError> {
        self.upload(
            &Self::files_url(id, "files"),
            path,
            "application/octet-stream",
            body,
        )
        .await
    }

    /// Stream the local file `local` to `path` in the sandbox.
    pub async fn upload_file(&self, id: &str, path: &str, local: &Path) -> Result<(), ClientError> {
        let f = tokio::fs::File::open(local)
            .await
            .map_err(|source| ClientError::Io {
                path: local.display().to_string(),
                source,
            })?;
        let body =
            reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024));
        self.write_file_stream(id, path, body).await
    }

    /// `GET /v1/sandboxes/{id}/files/stat?path=`.
    pub async fn stat_file(&self, id: &str, path: &str) -> Result<FileEntry, ClientError> {
        let req = self
            .request(Method::GET, &Self::files_url(id, "files/stat"))
            .query(&[("path", path)]);
        self.json(req).await
    }

    /// `GET /v1/sandboxes/{id}/files/list?path=&depth=`.
    pub async fn list_files(
        &self,
        id: &str,
        path: &str,
        depth: u32,
    ) -> Result<FileList, ClientError> {
        let req = self
            .request(Method::GET, &Self::files_url(id, "files/list"))
            .query(&[("path", path), ("depth", &depth.to_string())]);
        self.json(req).await
    }

    /// `POST /v1/sandboxes/{id}/files/mkdir` (`mkdir -p`).
    pub async fn make_dir(
        &self,
        id: &str,
        path: &str,
        mode: Option<&str>,
    ) -> Result<FileEntry, ClientError> {
        let body = MkdirRequest {
            path: path.into(),
            mode: mode.map(Into::into),
        };
        let req = self
            .request(Method::POST, &Self::files_url(id, "files/mkdir"))
            .json(&body);
        self.json(req).await
    }

    /// `DELETE /v1/sandboxes/{id}/files?path=&recursive=`.
    pub async fn remove_file(
        &self,
        id: &str,
        path: &str,
        recursive: bool,
    ) -> Result<(), ClientError> {
        let req = self
            .request(Method::DELETE, &Self::files_url(id, "files"))
            .query(&[("path", path), ("recursive", &recursive.to_string())]);
        self.send(req).await?;
        Ok(())
    }

    /// `POST /v1/sandboxes/{id}/files/move`.
    pub async fn move_file(
        &self,
        id: &str,
        from: &str,
        to: &str,
    ) -> Result<FileEntry, ClientError> {
        let body = MoveRequest {
            from: from.into(),
            to: to.into(),
        };
        let req = self
            .request(Method::POST, &Self::files_url(id, "files/move"))
            .json(&body);
        self.json(req).await
    }

    /// `POST /v1/sandboxes/{id}/files/chmod` (`mode` in octal, `"0755"`).
    pub async fn chmod_file(
        &self,
        id: &str,
        path: &str,
        mode: &str,
    ) -> Result<FileEntry, ClientError> {
        let body = ChmodRequest {
            path: path.into(),
            mode: mode.into(),
        };
        let req = self
            .request(Method::POST, &Self::files_url(id, "files/chmod"))
            .json(&body);
        self.json(req).await
    }

    /// `POST /v1/sandboxes/{id}/files/chown`.
    pub async fn chown_file(
        &self,
        id: &str,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> Result<FileEntry, ClientError> {
        let body = ChownRequest {
            path: path.into(),
            owner: owner.map(Into::into),
            group: group.map(Into::into),
        };
        let req = self
            .request(Method::POST, &Self::files_url(id, "files/chown"))
            .json(&body);
        self.json(req).await
    }

    /// `GET /v1/sandboxes/{id}/archive?path=`: a tar stream of the file or tree at `path`,
    /// entries named under its base name.
    pub async fn read_archive(&self, id: &str, path: &str) -> Result<ByteStream, ClientError> {
        self.download(&Self::files_url(id, "archive"), path).await
    }

    /// `PUT /v1/sandboxes/{id}/archive?path=`: extract a tar stream into directory `path`.
    pub async fn write_archive(
        &self,
        id: &str,
        path: &str,
        body: reqwest::Body,
    ) -> Result<(), ClientError> {
        self.upload(
            &Self::files_url(id, "archive"),
            path,
            "application/x-tar",
            body,
        )
        .await
    }

    async fn download(&self, url: &str, path: &str) -> Result<ByteStream, ClientError> {
        let req = self.request(Method::GET, url).query(&[("path", path)]);
        self.byte_stream(req).await
    }

    /// Send `req` and return its body as a stream of chunks.
    pub(crate) async fn byte_stream(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<ByteStream, ClientError> {
        let resp = self.send(req).await?;
        let url = resp.url().to_string();
        Ok(resp
            .bytes_stream()
            .map_err(move |source| ClientError::Transport {
                url: url.clone(),
                source,
            })
            .boxed())
    }

    async fn upload(
        &self,
        url: &str,
        path: &str,
        content_type: &str,
        body: reqwest::Body,
    ) -> Result<(), ClientError> {
        let req = self
            .request(Method::PUT, url)
            .query(&[("path", path)])
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        self.send(req).await?;
        Ok(())
    }
}

impl Client {
    /// `PUT /v1/sandboxes/{id}/archive?path=` streaming `chunks` (a tar stream) as the body.
    pub async fn write_archive_stream<S>(
        &self,
        id: &str,
        path: &str,
        chunks: S,
    ) -> Result<(), ClientError>
    where
        S: futures_util::TryStream + Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        Bytes: From<S::Ok>,
    {
        self.write_archive(id, path, reqwest::Body::wrap_stream(chunks))
            .await
    }
}
