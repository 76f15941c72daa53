//! The tools' arguments. Their doc comments become the JSON schema descriptions an agent
//! reads, so they say what a value means and what the default is.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `create_sandbox`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSandbox {
    /// OCI image reference, e.g. `python:3.12-slim` (pulled if not local). Give `image` or
    /// `snapshot`.
    #[serde(default)]
    pub image: Option<String>,
    /// Start from this snapshot (id or name) instead of an image.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// Environment variables added to the image's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// CPU cores (0.1 to 64; default 1).
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Memory limit in MiB (16 to 1048576; default 512).
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// Labels to find the sandbox by later.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Arguments of `list_sandboxes`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListSandboxes {
    /// Only sandboxes in this state: creating, running, paused, hibernated, stopped, archived,
    /// deleting or error.
    #[serde(default)]
    pub state: Option<String>,
    /// Only sandboxes whose labels match, e.g. `team=ml,stage=dev`.
    #[serde(default)]
    pub label: Option<String>,
}

/// Arguments of the tools that act on one sandbox and need nothing else.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SandboxId {
    /// The sandbox's id, e.g. `sb-3f9k2x7m1q`.
    pub sandbox_id: String,
}

/// Arguments of `run_command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunCommand {
    /// The sandbox's id.
    pub sandbox_id: String,
    /// A shell command line, run with `sh -c` (pipes, redirections and `&&` work).
    pub command: String,
    /// Working directory (absolute); default: the sandbox's.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Extra environment variables for this command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Seconds before the command is killed (1 to 3600; default 60).
    #[serde(default)]
    pub timeout_s: Option<u64>,
    /// Most bytes of stdout, and of stderr, returned (256 to 1048576; default 20000). Longer
    /// output keeps its beginning and end, and `truncated` is true.
    #[serde(default)]
    pub max_output_bytes: Option<usize>,
}

/// A language `run_code` can run.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Language {
    /// Python 3 (`python3`).
    Python,
    /// JavaScript (`node`).
    Node,
    /// A bash script (`bash`).
    Bash,
}

/// Arguments of `run_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunCode {
    /// The sandbox's id.
    pub sandbox_id: String,
    /// The language: `python`, `node` or `bash`.
    pub language: Language,
    /// The program's source.
    pub code: String,
    /// Seconds before the program is killed (1 to 3600; default 60).
    #[serde(default)]
    pub timeout_s: Option<u64>,
    /// Most bytes of stdout, and of stderr, returned (256 to 1048576; default 20000).
    #[serde(default)]
    pub max_output_bytes: Option<usize>,
}

/// How `write_file`'s content, and `read_file`'s answer, are encoded.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Encoding {
    /// UTF-8 text.
    #[default]
    Text,
    /// Base64 of the raw bytes.
    Base64,
}

/// Arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadFile {
    /// The sandbox's id.
    pub sandbox_id: String,
    /// Absolute path of the file.
    pub path: String,
    /// Most bytes returned (1 to 10485760; default 1048576); a longer file is cut and
    /// `truncated` is true.
    #[serde(default)]
    pub max_bytes: Option<usize>,
}

/// Arguments of `write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteFile {
    /// The sandbox's id.
    pub sandbox_id: String,
    /// Absolute path of the file; missing parent directories are created, an existing file
    /// is replaced.
    pub path: String,
    /// The content.
    pub content: String,
    /// `text` (default) or `base64` for binary content.
    #[serde(default)]
    pub encoding: Encoding,
}

/// Arguments of `list_files`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListFiles {
    /// The sandbox's id.
    pub sandbox_id: String,
    /// Absolute path of the directory.
    pub path: String,
    /// How many levels to descend (1 to 10; default 1: the directory's own entries).
    #[serde(default)]
    pub depth: Option<u32>,
}

/// Arguments of `snapshot_sandbox`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Snapshot {
    /// The sandbox's id.
    pub sandbox_id: String,
    /// Also capture the running processes (memory), not only the files, so sandboxes created
    /// from the snapshot continue from this instant. Default false.
    #[serde(default)]
    pub memory: bool,
    /// A unique name for the snapshot (1-63 of `[a-z0-9._-]`).
    #[serde(default)]
    pub name: Option<String>,
}

/// Arguments of `branch_sandbox`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Branch {
    /// The sandbox's id.
    pub sandbox_id: String,
    /// How many copies (1 to 32; default 1).
    #[serde(default)]
    pub count: Option<u32>,
}

/// Arguments of `expose_port`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExposePort {
    /// The sandbox's id.
    pub sandbox_id: String,
    /// The TCP port a server in the sandbox listens on (bound to 0.0.0.0).
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    /// Serve it to anyone without a token (default false: the URL needs the sandbox's access
    /// token, which the answer includes).
    #[serde(default)]
    pub public: bool,
}
