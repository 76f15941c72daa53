//! Snapshots and branches.

use reqwest::Method;
use warren_api_types::{
    BranchRequest, BranchResponse, CreateSnapshotRequest, Snapshot, SnapshotList,
};

use crate::{Client, ClientError, seg};

impl Client {
    /// `POST /v1/sandboxes/{id}/snapshot`.
    pub async fn snapshot_sandbox(
        &self,
        id: &str,
        req: &CreateSnapshotRequest,
    ) -> Result<Snapshot, ClientError> {
        let path = format!("/v1/sandboxes/{}/snapshot", seg(id));
        self.json(self.request(Method::POST, &path).json(req)).await
    }

    /// `POST /v1/sandboxes/{id}/branch`: `count` new sandboxes continuing from this instant.
    pub async fn branch_sandbox(
        &self,
        id: &str,
        count: u32,
    ) -> Result<BranchResponse, ClientError> {
        let path = format!("/v1/sandboxes/{}/branch", seg(id));
        self.json(
            self.request(Method::POST, &path)
                .json(&BranchRequest { count }),
        )
        .await
    }

    /// `GET /v1/snapshots`: one page, optionally only the snapshots of one sandbox.
    pub async fn list_snapshots(
        &self,
        sandbox: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<SnapshotList, ClientError> {
        let mut req = self.request(Method::GET, "/v1/snapshots");
        if let Some(sb) = sandbox {
            req = req.query(&[("sandbox", sb)]);
        }
        if let Some(c) = cursor {
            req = req.query(&[("cursor", c)]);
        }
        self.json(req).await
    }

    /// Every snapshot (all pages), optionally only those of one sandbox.
    pub async fn list_all_snapshots(
        &self,
        sandbox: Option<&str>,
    ) -> Result<Vec<Snapshot>, ClientError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list_snapshots(sandbox, cursor.as_deref()).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// `GET /v1/snapshots/{id}` (id or name).
    pub async fn get_snapshot(&self, id: &str) -> Result<Snapshot, ClientError> {
        let path = format!("/v1/snapshots/{}", seg(id));
        self.json(self.request(Method::GET, &path)).await
    }

    /// `POST /v1/snapshots/{id}/archive` (id or name).
    pub async fn archive_snapshot(&self, id: &str) -> Result<Snapshot, ClientError> {
        let path = format!("/v1/snapshots/{}/archive", seg(id));
        self.json(self.request(Method::POST, &path)).await
    }

    /// `DELETE /v1/snapshots/{id}` (id or name).
    pub async fn delete_snapshot(&self, id: &str) -> Result<(), ClientError> {
        let path = format!("/v1/snapshots/{}", seg(id));
        self.send(self.request(Method::DELETE, &path)).await?;
        Ok(())
    }
}
