//! Sandboxes: create, list, get, delete, exec.

use reqwest::Method;
use warren_api_types::{
    CreateSandboxRequest, ExecRequest, ExecResponse, Sandbox, SandboxList, UpdateSandboxRequest,
};

use crate::{Client, ClientError, seg};

/// Filters of a sandbox listing; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxQuery {
    /// Only sandboxes in this state (e.g. `running`).
    pub state: Option<String>,
    /// Only sandboxes created from this image reference.
    pub image: Option<String>,
    /// Label selector `key=value[,key=value...]`; every pair must match.
    pub label: Option<String>,
}

impl Client {
    /// `POST /v1/sandboxes`.
    pub async fn create_sandbox(&self, req: &CreateSandboxRequest) -> Result<Sandbox, ClientError> {
        self.json(self.request(Method::POST, "/v1/sandboxes").json(req))
            .await
    }

    /// `GET /v1/sandboxes`: one page.
    pub async fn list_sandboxes(
        &self,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<SandboxList, ClientError> {
        self.find_sandboxes(&SandboxQuery::default(), cursor, limit)
            .await
    }

    /// `GET /v1/sandboxes` with filters: one page.
    pub async fn find_sandboxes(
        &self,
        query: &SandboxQuery,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<SandboxList, ClientError> {
        let mut req = self.request(Method::GET, "/v1/sandboxes");
        let pairs = [
            ("cursor", cursor.map(str::to_owned)),
            ("limit", limit.map(|l| l.to_string())),
            ("state", query.state.clone()),
            ("image", query.image.clone()),
            ("label", query.label.clone()),
        ];
        for (name, value) in pairs {
            if let Some(v) = value {
                req = req.query(&[(name, v)]);
            }
        }
        self.json(req).await
    }

    /// Every sandbox, following cursors.
    pub async fn list_all_sandboxes(&self) -> Result<Vec<Sandbox>, ClientError> {
        self.find_all_sandboxes(&SandboxQuery::default()).await
    }

    /// Every sandbox matching `query`, following cursors.
    pub async fn find_all_sandboxes(
        &self,
        query: &SandboxQuery,
    ) -> Result<Vec<Sandbox>, ClientError> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .find_sandboxes(query, cursor.as_deref(), Some(500))
                .await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    /// `GET /v1/sandboxes/{id}`.
    pub async fn get_sandbox(&self, id: &str) -> Result<Sandbox, ClientError> {
        self.json(self.request(Method::GET, &format!("/v1/sandboxes/{}", seg(id))))
            .await
    }

    /// `PATCH /v1/sandboxes/{id}`: replace labels and/or metadata.
    pub async fn update_sandbox(
        &self,
        id: &str,
        req: &UpdateSandboxRequest,
    ) -> Result<Sandbox, ClientError> {
        let path = format!("/v1/sandboxes/{}", seg(id));
        self.json(self.request(Method::PATCH, &path).json(req))
            .await
    }

    /// `POST /v1/sandboxes/{id}/{action}` with `action` one of `pause`, `resume`, `hibernate`,
    /// `stop`, `start`; returns the sandbox in its new state.
    pub async fn change_sandbox_state(
        &self,
        id: &str,
        action: &str,
    ) -> Result<Sandbox, ClientError> {
        let path = format!("/v1/sandboxes/{}/{}", seg(id), seg(action));
        self.json(self.request(Method::POST, &path)).await
    }

    /// `POST /v1/sandboxes/{id}/archive`: to the archive (start/resume brings it back).
    pub async fn archive_sandbox(&self, id: &str) -> Result<Sandbox, ClientError> {
        self.change_sandbox_state(id, "archive").await
    }

    /// `POST /v1/sandboxes/{id}/pause`.
    pub async fn pause_sandbox(&self, id: &str) -> Result<Sandbox, ClientError> {
        self.change_sandbox_state(id, "pause").await
    }

    /// `POST /v1/sandboxes/{id}/resume`.
    pub async fn resume_sandbox(&self, id: &str) -> Result<Sandbox, ClientError> {
        self.change_sandbox_state(id, "resume").await
    }

    /// `POST /v1/sandboxes/{id}/hibernate`.
    pub async fn hibernate_sandbox(&self, id: &str) -> Result<Sandbox, ClientError> {
        self.change_sandbox_state(id, "hibernate").await
    }

    /// `POST /v1/sandboxes/{id}/stop`.
    pub async fn stop_sandbox(&self, id: &str) -> Result<Sandbox, ClientError> {
        self.change_sandbox_state(id, "stop").await
    }

    /// `POST /v1/sandboxes/{id}/start`.
    pub async fn start_sandbox(&self, id: &str) -> Result<Sandbox, ClientError> {
        self.change_sandbox_state(id, "start").await
    }

    /// `DELETE /v1/sandboxes/{id}`.
    pub async fn delete_sandbox(&self, id: &str) -> Result<(), ClientError> {
        self.send(self.request(Method::DELETE, &format!("/v1/sandboxes/{}", seg(id))))
            .await?;
        Ok(())
    }

    /// `POST /v1/sandboxes/{id}/exec`.
    pub async fn exec(&self, id: &str, req: &ExecRequest) -> Result<ExecResponse, ClientError> {
        self.json(
            self.request(Method::POST, &format!("/v1/sandboxes/{}/exec", seg(id)))
                .json(req),
        )
        .await
    }
}
