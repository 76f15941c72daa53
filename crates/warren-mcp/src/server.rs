//! The tools: one `#[tool]` method each, translating the arguments onto the API.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Extensions, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use warren_api_types::{CreateSandboxRequest, CreateSnapshotRequest};
use warren_client::{Client, SandboxQuery};

use crate::args;
use crate::backend::Backend;
use crate::error::ToolError;
use crate::output::result;
use crate::view::{Branched, Deleted, SandboxList, SandboxView};

const INSTRUCTIONS: &str = "warren runs isolated Linux sandboxes. Create one with create_sandbox \
(from an image such as python:3.12-slim), run shell commands with run_command or programs with \
run_code, move files with read_file / write_file / list_files, and delete it with \
delete_sandbox when done. pause/resume/hibernate keep a sandbox for later; snapshot_sandbox \
and branch_sandbox capture it or copy it to try several things in parallel; expose_port gives \
a URL for a server running inside.";

/// warren's MCP tools over one backend (a fixed client, or each HTTP request's caller).
#[derive(Debug, Clone)]
pub struct WarrenMcp {
    backend: Backend,
    tool_router: ToolRouter<Self>,
}

impl WarrenMcp {
    pub(crate) fn new(backend: Backend) -> Self {
        Self {
            backend,
            tool_router: Self::tool_router(),
        }
    }

    /// Run `f` with the call's client; any failure becomes an error result.
    async fn call<T, F, Fut>(&self, ext: &Extensions, f: F) -> CallToolResult
    where
        T: serde::Serialize,
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, ToolError>>,
    {
        match self.backend.client(ext) {
            Ok(client) => result(f(client).await),
            Err(e) => result::<()>(Err(e)),
        }
    }
}

#[tool_router]
impl WarrenMcp {
    /// `create_sandbox`.
    #[tool(
        description = "Create and start a sandbox from an OCI image (pulled if needed) or a \
        snapshot. Returns its id, which the other tools take as sandbox_id.",
        annotations(destructive_hint = false)
    )]
    async fn create_sandbox(
        &self,
        Parameters(a): Parameters<args::CreateSandbox>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| {
            if a.image.is_none() == a.snapshot.is_none() {
                return Err(ToolError::InvalidArgument {
                    argument: "image",
                    reason: "give exactly one of `image` and `snapshot`".into(),
                });
            }
            let mut req = CreateSandboxRequest::new(a.image.unwrap_or_default());
            req.snapshot = a.snapshot;
            req.env = a.env;
            req.cpu = a.cpu;
            req.memory_mb = a.memory_mb;
            req.labels = a.labels;
            Ok(SandboxView::from(c.create_sandbox(&req).await?))
        })
        .await
    }

    /// `list_sandboxes`.
    #[tool(
        description = "List sandboxes (id, state, image, labels), optionally only those \
        in one state or matching labels.",
        annotations(read_only_hint = true)
    )]
    async fn list_sandboxes(
        &self,
        Parameters(a): Parameters<args::ListSandboxes>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| {
            let query = SandboxQuery {
                state: a.state,
                image: None,
                label: a.label,
            };
            let all = c.find_all_sandboxes(&query).await?;
            Ok(SandboxList {
                sandboxes: all.into_iter().map(SandboxView::from).collect(),
            })
        })
        .await
    }

    /// `delete_sandbox`.
    #[tool(
        description = "Delete a sandbox: stop its processes and remove its files. \
        Cannot be undone.",
        annotations(destructive_hint = true)
    )]
    async fn delete_sandbox(
        &self,
        Parameters(a): Parameters<args::SandboxId>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| {
            c.delete_sandbox(&a.sandbox_id).await?;
            Ok(Deleted {
                deleted: a.sandbox_id,
            })
        })
        .await
    }

    /// `run_command`.
    #[tool(
        description = "Run a shell command (sh -c) in a sandbox and wait for it. Returns \
        exit_code, stdout and stderr (each bounded by max_output_bytes, keeping the start and \
        the end; truncated says whether anything was cut) and timed_out. A non-zero exit code \
        is a normal result, not a tool error."
    )]
    async fn run_command(
        &self,
        Parameters(a): Parameters<args::RunCommand>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| crate::exec::run_command(&c, a).await)
            .await
    }

    /// `run_code`.
    #[tool(
        description = "Run a program in a sandbox: the code is written to a temporary \
        file and run with python3, node or bash. Returns exit_code, stdout, stderr (bounded), \
        truncated and timed_out. Fails with a clear error when the sandbox's image has no such \
        interpreter."
    )]
    async fn run_code(
        &self,
        Parameters(a): Parameters<args::RunCode>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| crate::exec::run_code(&c, a).await)
            .await
    }

    /// `read_file`.
    #[tool(
        description = "Read a file from a sandbox. Text comes back as text, other bytes \
        as base64 (see encoding); long files are cut at max_bytes.",
        annotations(read_only_hint = true)
    )]
    async fn read_file(
        &self,
        Parameters(a): Parameters<args::ReadFile>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| crate::files::read(&c, a).await)
            .await
    }

    /// `write_file`.
    #[tool(
        description = "Write a file in a sandbox (text, or base64 for binary), creating \
        missing parent directories and replacing an existing file."
    )]
    async fn write_file(
        &self,
        Parameters(a): Parameters<args::WriteFile>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| crate::files::write(&c, a).await)
            .await
    }

    /// `list_files`.
    #[tool(
        description = "List the entries of a directory in a sandbox (path, type, size), \
        optionally several levels deep.",
        annotations(read_only_hint = true)
    )]
    async fn list_files(
        &self,
        Parameters(a): Parameters<args::ListFiles>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| crate::files::list(&c, a).await)
            .await
    }

    /// `pause_sandbox`.
    #[tool(
        description = "Pause a running sandbox: freeze its processes in place (memory \
        stays in RAM). resume_sandbox continues them.",
        annotations(destructive_hint = false)
    )]
    async fn pause_sandbox(
        &self,
        Parameters(a): Parameters<args::SandboxId>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| {
            Ok(SandboxView::from(c.pause_sandbox(&a.sandbox_id).await?))
        })
        .await
    }

    /// `resume_sandbox`.
    #[tool(
        description = "Resume a paused or hibernated sandbox: its processes continue \
        where they were.",
        annotations(destructive_hint = false)
    )]
    async fn resume_sandbox(
        &self,
        Parameters(a): Parameters<args::SandboxId>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| {
            Ok(SandboxView::from(c.resume_sandbox(&a.sandbox_id).await?))
        })
        .await
    }

    /// `hibernate_sandbox`.
    #[tool(
        description = "Hibernate a sandbox: write its processes' memory to disk and free \
        the RAM. resume_sandbox brings it back exactly as it was.",
        annotations(destructive_hint = false)
    )]
    async fn hibernate_sandbox(
        &self,
        Parameters(a): Parameters<args::SandboxId>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| {
            Ok(SandboxView::from(c.hibernate_sandbox(&a.sandbox_id).await?))
        })
        .await
    }

    /// `snapshot_sandbox`.
    #[tool(
        description = "Take an immutable snapshot of a sandbox's files (and, with \
        memory=true, its running processes). create_sandbox with snapshot=<id> starts new \
        sandboxes from it.",
        annotations(destructive_hint = false)
    )]
    async fn snapshot_sandbox(
        &self,
        Parameters(a): Parameters<args::Snapshot>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| {
            let req = CreateSnapshotRequest {
                memory: a.memory,
                name: a.name,
                labels: Default::default(),
            };
            Ok(c.snapshot_sandbox(&a.sandbox_id, &req).await?)
        })
        .await
    }

    /// `branch_sandbox`.
    #[tool(
        description = "Branch a running sandbox: make count new sandboxes that each \
        continue from this instant (files and processes), to try different things in \
        parallel. The original keeps running.",
        annotations(destructive_hint = false)
    )]
    async fn branch_sandbox(
        &self,
        Parameters(a): Parameters<args::Branch>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| {
            let r = c
                .branch_sandbox(&a.sandbox_id, a.count.unwrap_or(1))
                .await?;
            Ok(Branched {
                snapshot: r.snapshot.id,
                sandboxes: r.sandboxes.into_iter().map(SandboxView::from).collect(),
            })
        })
        .await
    }

    /// `expose_port`.
    #[tool(
        description = "Make a port a server in the sandbox listens on reachable over \
        HTTP and return its preview URLs (with the access token unless public=true). The \
        server must already listen on 0.0.0.0.",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    async fn expose_port(
        &self,
        Parameters(a): Parameters<args::ExposePort>,
        ext: Extensions,
    ) -> CallToolResult {
        self.call(&ext, async |c| crate::ports::expose(&c, a).await)
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for WarrenMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("warren", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
