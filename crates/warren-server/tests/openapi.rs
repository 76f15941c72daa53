//! The OpenAPI document (`warren_server::openapi`) against the checked-in copy, against itself
//! (everything described, every reference resolves) and against the router (every route
//! documented, nothing documented that is not routed, and the document's word on which routes
//! need an API key is the router's).
//!
//! After changing the API, regenerate the checked-in copy:
//!
//! ```sh
//! WARREN_UPDATE_OPENAPI=1 cargo test -p warren-server --test openapi
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

const REGENERATE: &str = "WARREN_UPDATE_OPENAPI=1 cargo test -p warren-server --test openapi";

/// The HTTP methods an OpenAPI path item can hold, as its keys.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Routes of the router that are not API operations: Swagger UI's page and files.
const NOT_OPERATIONS: [&str; 3] = ["/docs", "/docs/", "/docs/{file}"];

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

fn document() -> Value {
    serde_json::from_str(&warren_server::openapi::to_json()).expect("the document is JSON")
}

#[test]
fn checked_in_copy_is_current() {
    let generated = warren_server::openapi::to_json();
    let path = checked_in_path();
    if std::env::var("WARREN_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
        eprintln!("rewrote {}", path.display());
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in == generated {
        return;
    }
    let line = checked_in
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
    let show = |text: &str| text.lines().nth(line).unwrap_or("<end of file>").to_owned();
    panic!(
        "docs/openapi.json is not the document the code generates (the API changed, or the file \
         was edited by hand).\nFirst difference, line {}:\n  checked in: {}\n  generated:  {}\n\
         Regenerate it with\n  {REGENERATE}\nand commit the result.",
        line + 1,
        show(&checked_in),
        show(&generated),
    );
}

/// Every operation has a summary, a description and described parameters and responses; every
/// schema and every property of every schema has a description.
#[test]
fn everything_is_described() {
    let doc = document();
    let mut missing = Vec::new();
    for (path, method, op) in operations(&doc) {
        let at = format!("{} {path}", method.to_uppercase());
        for field in ["summary", "description", "operationId"] {
            if !has_text(op, field) {
                missing.push(format!("{at}: no {field}"));
            }
        }
        if op["tags"].as_array().is_none_or(Vec::is_empty) {
            missing.push(format!("{at}: no tag"));
        }
        for p in op["parameters"].as_array().into_iter().flatten() {
            if !has_text(p, "description") {
                missing.push(format!("{at}: parameter {} has no description", p["name"]));
            }
        }
        let responses = op["responses"].as_object();
        if responses.is_none_or(serde_json::Map::is_empty) {
            missing.push(format!("{at}: no responses"));
        }
        for (status, r) in responses.into_iter().flatten() {
            if r.get("$ref").is_none() && !has_text(r, "description") {
                missing.push(format!("{at}: response {status} has no description"));
            }
        }
        if let Some(body) = op.get("requestBody")
            && body["content"]
                .as_object()
                .is_none_or(serde_json::Map::is_empty)
        {
            missing.push(format!("{at}: request body without content"));
        }
    }
    for (name, r) in doc["components"]["responses"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if !has_text(r, "description") {
            missing.push(format!("response {name}: no description"));
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    assert!(!schemas.is_empty(), "the document has no schemas");
    for (name, schema) in schemas {
        if !has_text(schema, "description") {
            missing.push(format!("schema {name}: no description"));
        }
        undescribed_properties(schema, name, &mut missing);
    }
    assert!(
        missing.is_empty(),
        "{} things in the OpenAPI document have no description. Add a `///` comment to the \
         type, field or handler (or a `description = ...` in its #[utoipa::path]):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

/// Every `$ref` points at a component that exists, and operation ids are unique.
#[test]
fn references_resolve_and_operation_ids_are_unique() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty(), "no $ref at all: the walk is broken");
    let dangling: Vec<_> = refs
        .iter()
        .filter(|r| {
            let pointer = r.strip_prefix('#').unwrap_or("/not-local");
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");

    let mut seen = BTreeMap::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default().to_owned();
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id:?} is used by both {other} and {method} {path}");
        }
    }
}

/// The routes the router serves are exactly the operations the document describes, and the
/// operations that say they need no API key are exactly the routes outside the key check.
#[test]
fn document_and_router_name_the_same_routes() {
    let table = warren_server::route_table();
    let public = routed(&table.public);
    let authenticated = routed(&table.authenticated);
    // Guard against a parser that silently finds nothing (e.g. after an axum upgrade changes
    // its Debug output): these routes certainly exist.
    for (routes, known) in [
        (&public, ("get", "/healthz")),
        (&authenticated, ("get", "/v1/sandboxes/{id}")),
        (&authenticated, ("post", "/v1/sandboxes")),
    ] {
        let known = (known.0.to_owned(), known.1.to_owned());
        assert!(
            routes.contains(&known),
            "could not read {known:?} from the router's route table; has axum's Debug output \
             changed? Fix `routed` in this test. Routes found: {routes:?}"
        );
    }

    let doc = document();
    let mut documented = BTreeSet::new();
    let mut documented_public = BTreeSet::new();
    for (path, method, op) in operations(&doc) {
        let route = (method.to_owned(), path.to_owned());
        if op["security"] == serde_json::json!([{}]) {
            documented_public.insert(route.clone());
        }
        documented.insert(route);
    }
    let served: BTreeSet<_> = public.union(&authenticated).cloned().collect();
    let show = |set: Vec<&(String, String)>| {
        set.iter()
            .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without OpenAPI documentation: {}.\nAnnotate each handler with \
         #[utoipa::path(...)] and list it in its module's `Api` (see src/openapi.rs), then \
         {REGENERATE}",
        show(undocumented)
    );
    let unrouted: Vec<_> = documented.difference(&served).collect();
    assert!(
        unrouted.is_empty(),
        "documented operations the router does not serve: {}",
        show(unrouted)
    );
    assert_eq!(
        show(documented_public.iter().collect()),
        show(public.iter().collect()),
        "the operations documented with `security(())` (no API key) must be exactly the routes \
         outside the API key check"
    );
}

/// `(method, OpenAPI path)` of every route in a router's `Debug` output, without the
/// [`NOT_OPERATIONS`]. axum prints its route table as `RouteId(n): "/path"` entries and
/// `RouteId(n): MethodRouter(MethodRouter { get: ..., post: None, ... })` entries.
fn routed(debug: &str) -> BTreeSet<(String, String)> {
    let table = debug
        .split("fallback_router")
        .next()
        .expect("split yields one part at least");
    let mut paths = BTreeMap::new();
    let mut methods = BTreeMap::new();
    for entry in table.split("RouteId(").skip(1) {
        let (id, rest) = entry
            .split_once("): ")
            .unwrap_or_else(|| panic!("unexpected route table entry: {entry}"));
        if let Some(quoted) = rest.strip_prefix('"') {
            let path = &quoted[..quoted.find('"').expect("closing quote")];
            paths.insert(id.to_owned(), path.to_owned());
        } else if let Some(router) = rest.strip_prefix("MethodRouter(") {
            let served: Vec<_> = METHODS
                .into_iter()
                .filter(|m| {
                    let value = router
                        .split(&format!(" {m}: "))
                        .nth(1)
                        .unwrap_or_else(|| panic!("no `{m}` in {router}"));
                    !value.starts_with("None")
                })
                .collect();
            methods.insert(id.to_owned(), served);
        } else {
            panic!("route {id} is not a MethodRouter (a nested service?): {rest}");
        }
    }
    let mut routes = BTreeSet::new();
    for (id, path) in paths {
        if NOT_OPERATIONS.contains(&path.as_str()) {
            continue;
        }
        let served = methods
            .get(&id)
            .unwrap_or_else(|| panic!("route {path} has no methods"));
        assert!(!served.is_empty(), "route {path} serves no method");
        // axum's `{*rest}` wildcard is an ordinary `{rest}` parameter in OpenAPI.
        let path = path.replace("{*", "{");
        for m in served {
            routes.insert(((*m).to_owned(), path.clone()));
        }
    }
    routes
}

/// `(path, method, operation)` of every operation in the document.
fn operations(doc: &Value) -> Vec<(&str, &'static str, &Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty(), "the document has no paths");
    let mut out = Vec::new();
    for (path, item) in paths {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((path.as_str(), m, op));
            }
        }
    }
    out
}

fn has_text(v: &Value, field: &str) -> bool {
    v.get(field)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

/// Properties without a description anywhere inside `schema` (nested objects and the variants
/// of `oneOf`/`allOf`/`anyOf` included).
fn undescribed_properties(schema: &Value, at: &str, missing: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(props) = map.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    if !has_text(prop, "description") {
                        missing.push(format!("property {at}.{name}: no description"));
                    }
                    undescribed_properties(prop, &format!("{at}.{name}"), missing);
                }
            }
            for (key, value) in map {
                if key != "properties" {
                    undescribed_properties(value, at, missing);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                undescribed_properties(item, at, missing);
            }
        }
        _ => {}
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}
