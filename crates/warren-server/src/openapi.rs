//! The OpenAPI 3.1 document of the API, generated from the API types and the handlers' own
//! annotations (utoipa), never written by hand.
//!
//! How it is put together:
//! 1. `warren-api-types` derives `utoipa::ToSchema` on every request and response type (its
//!    `openapi` feature); their `///` comments become the schema descriptions.
//! 2. Every handler in `routes/` carries `#[utoipa::path(...)]`: method, path, parameters, body,
//!    every response. Each route module lists its handlers in its own `Api`, next to its
//!    `routes()`, so that a route and its documentation change in the same place.
//! 3. `routes::openapi()` merges the modules' `Api`s; [`document`] adds what every operation
//!    shares: the info block, the tags, the API key security scheme and the error responses
//!    below (referenced as `#/components/responses/...`).
//!
//! The daemon serves the result at `GET /v1/openapi.json` (and Swagger UI at `/docs`); a copy is
//! checked in as `docs/openapi.json`, and `tests/openapi.rs` fails when the copy, the document
//! and the router disagree (`WARREN_UPDATE_OPENAPI=1 cargo test -p warren-server --test openapi`
//! rewrites the copy).

use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse};

/// Name of the security scheme every authenticated operation requires.
pub(crate) const API_KEY: &str = "api_key";

/// Description of the `{id}` path parameter of every sandbox route.
pub(crate) const SANDBOX_ID: &str =
    "Sandbox id, as returned by `POST /v1/sandboxes` (e.g. `sb-3f9k2x7m`).";

/// Description of the `{pid}` path parameter of the process routes.
pub(crate) const PID: &str = "Process id inside the sandbox, as returned when the process started \
    (`POST /v1/sandboxes/{id}/processes`, or the `start` event of a streaming exec).";

/// The whole document: every route's operation plus the shared parts.
pub fn document() -> Document {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::routes::openapi());
    if let Some(components) = doc.components.as_mut() {
        components.schemas.values_mut().for_each(describe_generated);
    }
    doc
}

/// Places utoipa leaves without a description although the doc comment exists or the meaning is
/// fixed: an `Option` of a named type becomes `oneOf: [null, {$ref, description}]`, whose
/// description moves up to the property, where readers and tools look; and the tag property
/// of a serde-tagged enum's variant (`"event": "resolved"`) gets one saying so.
fn describe_generated(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            for property in object.properties.values_mut() {
                if let RefOr::T(Schema::OneOf(one)) = property
                    && one.description.is_none()
                {
                    one.description = one.items.iter_mut().find_map(|item| match item {
                        RefOr::Ref(r) if !r.description.is_empty() => {
                            Some(std::mem::take(&mut r.description))
                        }
                        _ => None,
                    });
                }
                describe_generated(property);
            }
        }
        Schema::OneOf(one) => {
            for variant in &mut one.items {
                if let RefOr::T(Schema::Object(object)) = variant {
                    for property in object.properties.values_mut() {
                        if let RefOr::T(Schema::Object(tag)) = property
                            && tag.description.is_none()
                            && let Some([value]) = tag.enum_values.as_deref()
                        {
                            tag.description = Some(format!(
                                "Which variant this is: always `{}`.",
                                value.as_str().unwrap_or_default()
                            ));
                        }
                    }
                }
                describe_generated(variant);
            }
        }
        _ => {}
    }
}

/// [`document`] as pretty-printed JSON with a final newline: exactly what `GET /v1/openapi.json`
/// serves and `docs/openapi.json` holds.
pub fn to_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

const DESCRIPTION: &str = "\
warren runs untrusted code in isolated sandboxes on one Linux host. This is its REST API: the \
CLI, the SDKs, the web UI and MCP all use exactly this.

**Authentication.** Every operation except `GET /healthz` and `GET /v1/openapi.json` needs an \
API key in the `Authorization` header, as `Authorization: Bearer <key>` (the word `Bearer`, one \
space, the key; no other scheme, query parameter or cookie is accepted). The first key is \
printed when the daemon starts for the first time; `POST /v1/keys` makes more. A key with scope \
`read` may only use `GET` and `HEAD` operations (and no WebSocket upgrade); anything else is \
`403 forbidden`. Each key is rate limited (a token bucket, by default 20 requests/s sustained \
and bursts of 100); past it the answer is `429 rate_limited` with a `Retry-After` header.

**Requests.** JSON bodies need `Content-Type: application/json` and are at most 1 MiB. Unknown \
fields and unknown query parameters are rejected with `400 invalid_request` naming them, so a \
typo never goes unnoticed. Times are RFC 3339 in UTC.

**Errors.** Every error, including unknown routes (`404 not_found`) and wrong methods \
(`405 method_not_allowed`), has the body `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}` \
(`ErrorBody`). Branch on `code`, which is stable; `message` is for humans.

**Streaming.** Some operations answer with a stream instead of one JSON document, chosen by \
the `Accept` header: Server-Sent Events (`text/event-stream`) for a command's output and for \
events, newline-delimited JSON (`application/x-ndjson`) for image pull progress, raw bytes or \
tar for files. The terminal (`/v1/sandboxes/{id}/pty`) is a WebSocket.";

/// The shared parts of the document; the operations come from `routes::openapi()`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "warren",
        version = env!("CARGO_PKG_VERSION"),
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&ApiKeyScheme),
    security(("api_key" = [])),
    components(
        // The data of the Server-Sent Events, which the operations can only name.
        schemas(
            warren_api_types::ErrorBody,
            warren_api_types::ProcessStarted,
            warren_api_types::OutputChunk,
            warren_api_types::ProcessExit,
            warren_api_types::Event,
        ),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            SandboxNotFound,
            SnapshotNotFound,
            SnapshotConflict,
            FileNotFound,
            ProcessNotFound,
            PermissionDenied,
            FileForbidden,
            Conflict,
            PayloadTooLarge,
            RateLimited,
            Internal,
            AgentError,
        ),
    ),
    tags(
        (name = "sandboxes", description = "Create, list, inspect, change and delete sandboxes; \
            run a command to completion."),
        (name = "lifecycle", description = "State changes of a sandbox: pause and resume \
            (frozen in memory), hibernate (checkpointed to disk, memory released) and resume, \
            stop and start (processes ended, files kept)."),
        (name = "networking", description = "A sandbox's listening ports and their preview \
            URLs. The preview proxy serves `http://<port>-<sandbox id>.<preview domain>/` and \
            `/v1/sandboxes/{id}/ports/{port}/...` (a private port needs the sandbox's access token \
            in `X-Warren-Token`, once as `?warren_token=` which becomes a cookie, or an API key; \
            a paused or hibernated sandbox is woken by the request)."),
        (name = "snapshots", description = "Snapshots (a sandbox's files, and optionally its \
            memory, captured while it keeps running), sandboxes made from them, branches, and \
            their lineage."),
        (name = "processes", description = "Background processes in a sandbox: start, list, \
            follow their output, feed their stdin, signal them."),
        (name = "files", description = "Files and directories inside a sandbox: read and write \
            (streamed), list, stat, mkdir, move, chmod, chown, tar archives."),
        (name = "terminal", description = "Interactive terminals over a WebSocket."),
        (name = "images", description = "OCI images in the daemon's local store: pull, import, \
            inspect, remove."),
        (name = "keys", description = "API keys: create (the key is shown once), list, revoke."),
        (name = "ssh-keys", description = "Public keys the SSH gateway accepts \
            (`ssh -p 2222 <sandbox-id>@host`): register, list, delete."),
        (name = "events", description = "The event log: every state change and operation, as \
            pages or as a live Server-Sent Events stream."),
        (name = "metrics", description = "Resource use of sandboxes and Prometheus metrics of \
            the daemon."),
        (name = "system", description = "Liveness and this document."),
    ),
)]
struct ApiDoc;

/// Adds the `api_key` security scheme (`Authorization: Bearer <key>`).
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A warren API key, sent as `Authorization: Bearer <key>`: the word \
                         `Bearer` (exactly so), one space, the key. This is the only form \
                         accepted. The key is shown once, when it is created \
                         (`POST /v1/keys`, or the daemon's first start).",
                    ))
                    .build(),
            ),
        );
    }
}

/// A response whose body is an [`warren_api_types::ErrorBody`], with one example per code it
/// may carry.
fn error_response(description: &str, examples: &[(&str, &str)]) -> ResponseBuilder {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .examples_from_iter(examples.iter().map(|(code, message)| {
            let value = serde_json::json!({"error": {"code": code, "message": message}});
            (*code, ExampleBuilder::new().value(Some(value)).build())
        }))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
}

/// Declares error responses shared by many operations, each a `#/components/responses/<Name>`.
macro_rules! error_responses {
    ($(
        $(#[$doc:meta])*
        $name:ident: $description:expr, [$(($code:literal, $message:literal)),+ $(,)?];
    )+) => {$(
        $(#[$doc])*
        pub(crate) struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                let examples = [$(($code, $message)),+];
                (stringify!($name), error_response($description, &examples).build().into())
            }
        }
    )+};
}

error_responses! {
    /// 400 for any malformed request.
    BadRequest: "`invalid_request`: malformed JSON or query string, missing \
        `Content-Type: application/json`, an unknown field or parameter, or a value out of \
        range. The message names the field.",
        [("invalid_request", "memory_mb: must be between 16 and 1048576")];
    /// 401 on every authenticated operation.
    Unauthorized: "`unauthorized`: no `Authorization` header, one not of the form \
        `Bearer <key>`, or a key that is unknown, expired or revoked.",
        [("unauthorized", "missing API key: send Authorization: Bearer <key>")];
    /// 403 on operations a read-only key may not use.
    Forbidden: "`forbidden`: the API key has scope `read`, which allows only `GET` and `HEAD` \
        operations without a protocol upgrade.",
        [("forbidden", "API key \"ci\" is read-only: it may only use GET and HEAD routes, not POST")];
    /// 404 on operations that address one sandbox.
    SandboxNotFound: "`sandbox_not_found`: no sandbox has this id.",
        [("sandbox_not_found", "sandbox sb-nope not found")];
    /// 404 on operations that address one snapshot.
    SnapshotNotFound: "`snapshot_not_found`: no snapshot has this id or name.",
        [("snapshot_not_found", "snapshot snap-nope not found")];
    /// 409 on snapshot operations.
    SnapshotConflict: "`conflict`: the snapshot is used by sandboxes or snapshots made from \
        it (the message names them), or is not `ready`.",
        [("conflict", "snapshot snap-3f9k2x7m1q is used by sandboxes sb-a1b2c3d4e5; delete them first")];
    /// 404 on the file routes.
    FileNotFound: "`sandbox_not_found`: no sandbox has this id. `file_not_found`: nothing \
        exists at the path inside the sandbox.",
        [
            ("sandbox_not_found", "sandbox sb-nope not found"),
            ("file_not_found", "/srv/app/missing.txt: no such file or directory"),
        ];
    /// 404 on the routes of one process.
    ProcessNotFound: "`sandbox_not_found`: no sandbox has this id. `process_not_found`: no \
        process with this pid runs in the sandbox (it ended, or never existed).",
        [
            ("sandbox_not_found", "sandbox sb-nope not found"),
            ("process_not_found", "process 4242: not found"),
        ];
    /// 403 on file routes that only read.
    PermissionDenied: "`permission_denied`: the sandbox denied access to the path.",
        [("permission_denied", "/root/secret: permission denied")];
    /// 403 on file routes that change something.
    FileForbidden: "`forbidden`: the API key has scope `read`, which allows only `GET` and \
        `HEAD` operations. `permission_denied`: the sandbox denied access to the path.",
        [
            ("forbidden", "API key \"ci\" is read-only: it may only use GET and HEAD routes, not PUT"),
            ("permission_denied", "/proc/1/mem: permission denied"),
        ];
    /// 409 when the sandbox's state does not allow the operation.
    Conflict: "`conflict`: the sandbox's current state does not allow this (e.g. it is not \
        running).",
        [("conflict", "cannot exec in sandbox sb-3f9k2x7m: it is stopped")];
    /// 413 for a JSON body over 1 MiB.
    PayloadTooLarge: "`payload_too_large`: the JSON body is larger than 1 MiB.",
        [("payload_too_large", "request body is too large")];
    /// 500: a bug or a host problem.
    Internal: "`internal`: anything else, a bug or a host problem; the message and the daemon \
        log say more.",
        [("internal", "store failed: database is locked")];
    /// 502 when the sandbox's agent fails.
    AgentError: "`agent_error`: the agent inside the sandbox could not be reached or failed.",
        [("agent_error", "agent of sandbox sb-3f9k2x7m failed: connection reset")];
}

/// 429 with the `Retry-After` header.
pub(crate) struct RateLimited;

impl<'r> ToResponse<'r> for RateLimited {
    fn response() -> (&'r str, RefOr<Response>) {
        let retry_after = HeaderBuilder::new()
            .schema(<u64 as utoipa::PartialSchema>::schema())
            .description(Some(
                "Whole seconds until a request with this key would be allowed.",
            ))
            .build();
        let response = error_response(
            "`rate_limited`: too many requests with this API key; retry after `Retry-After` \
             seconds.",
            &[(
                "rate_limited",
                "rate limit of 20 requests/s (burst 100) exceeded for this API key; retry in 1 s",
            )],
        )
        .header("Retry-After", retry_after)
        .build();
        ("RateLimited", response.into())
    }
}
