//! Manifest, index and config documents, and choosing a platform.
//!
//! Both OCI and Docker schema 2 media types are accepted; they have the same
//! shape. Docker schema 1 is refused (deprecated, unsigned, and gone from
//! every maintained registry).

use std::collections::HashMap;

use serde::Deserialize;

use crate::{ImageConfig, Platform};

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub(crate) const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub(crate) const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// The Accept header for manifest requests.
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// A content descriptor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub platform: Option<PlatformSpec>,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PlatformSpec {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ImageManifest {
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// An image index / manifest list.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ImageIndex {
    pub manifests: Vec<Descriptor>,
}

/// A manifest-endpoint document.
#[derive(Debug)]
pub(crate) enum Document {
    Manifest(ImageManifest),
    Index(ImageIndex),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

/// Why a document could not be used.
#[derive(Debug)]
pub(crate) enum DocumentError {
    Json(serde_json::Error),
    Unsupported(String),
}

/// Parses a manifest or index; the media type comes from the body, else
/// from `content_type`, else from the document's shape.
pub(crate) fn parse_document(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<Document, DocumentError> {
    let probe: Probe = serde_json::from_slice(bytes).map_err(DocumentError::Json)?;
    let media_type = probe
        .media_type
        .clone()
        .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_owned()))
        .unwrap_or_default();
    if probe.schema_version == Some(1) || media_type.contains("distribution.manifest.v1") {
        return Err(DocumentError::Unsupported(if media_type.is_empty() {
            "docker schema 1".into()
        } else {
            media_type
        }));
    }
    let is_index = matches!(media_type.as_str(), OCI_INDEX | DOCKER_LIST);
    let is_manifest = matches!(media_type.as_str(), OCI_MANIFEST | DOCKER_MANIFEST);
    if is_index || (!is_manifest && probe.manifests.is_some()) {
        serde_json::from_slice(bytes)
            .map(Document::Index)
            .map_err(DocumentError::Json)
    } else if is_manifest || probe.config.is_some() {
        serde_json::from_slice(bytes)
            .map(Document::Manifest)
            .map_err(DocumentError::Json)
    } else {
        Err(DocumentError::Unsupported(media_type))
    }
}

/// Picks the manifest for `want`; on failure returns the available platforms.
pub(crate) fn select_platform<'a>(
    index: &'a ImageIndex,
    want: &Platform,
) -> Result<&'a Descriptor, Vec<String>> {
    let candidates = index.manifests.iter().filter(|d| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == want.os
                && p.architecture == want.architecture
                && want.variant.as_ref().is_none_or(|v| {
                    p.variant
                        .as_deref()
                        .unwrap_or(default_variant(&p.architecture))
                        == v
                })
        })
    });
    // Without a requested variant, prefer the architecture's usual one (arm64/v8).
    let mut best = None;
    for d in candidates {
        let variant = d.platform.as_ref().and_then(|p| p.variant.as_deref());
        let usual = variant.is_none_or(|v| v == default_variant(&want.architecture));
        if best.is_none() || usual {
            best = Some(d);
            if usual {
                break;
            }
        }
    }
    best.ok_or_else(|| {
        index
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .filter(|p| p.os != "unknown")
            .map(|p| match &p.variant {
                Some(v) => format!("{}/{}/{}", p.os, p.architecture, v),
                None => format!("{}/{}", p.os, p.architecture),
            })
            .collect()
    })
}

fn default_variant(arch: &str) -> &'static str {
    match arch {
        "arm64" => "v8",
        "arm" => "v7",
        _ => "",
    }
}

/// True for layer media types we can unpack. Foreign and non-distributable
/// layers (fetched from external URLs) are refused.
pub(crate) fn layer_supported(d: &Descriptor) -> bool {
    if !d.urls.is_empty()
        || d.media_type.contains("nondistributable")
        || d.media_type.contains("foreign")
    {
        return false;
    }
    matches!(
        d.media_type.as_str(),
        "" | OCI_LAYER_TAR
            | "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.v1.tar+zstd"
            | DOCKER_LAYER_TAR
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.zstd"
    )
}

/// The parts of an image config we use.
#[derive(Debug, Deserialize)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    pub rootfs: RootFs,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerConfig {
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

impl ConfigFile {
    pub(crate) fn image_config(&self) -> ImageConfig {
        let c = self.config.as_ref();
        ImageConfig {
            env: c.and_then(|c| c.env.clone()).unwrap_or_default(),
            cmd: c.and_then(|c| c.cmd.clone()).unwrap_or_default(),
            entrypoint: c.and_then(|c| c.entrypoint.clone()).unwrap_or_default(),
            working_dir: c.and_then(|c| c.working_dir.clone()).unwrap_or_default(),
            user: c.and_then(|c| c.user.clone()).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn index() -> ImageIndex {
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
              {{"mediaType":"{OCI_MANIFEST}","digest":"{D}","size":1,"platform":{{"os":"linux","architecture":"arm","variant":"v6"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{D}","size":2,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{D}","size":3,"platform":{{"os":"linux","architecture":"amd64"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{D}","size":4,"platform":{{"os":"unknown","architecture":"unknown"}}}}]}}"#
        );
        match parse_document(json.as_bytes(), None).unwrap() {
            Document::Index(i) => i,
            Document::Manifest(_) => panic!("expected an index"),
        }
    }

    #[test]
    fn selects_platforms() {
        let i = index();
        assert_eq!(select_platform(&i, &Platform::default()).unwrap().size, 3);
        let arm64 = Platform {
            architecture: "arm64".into(),
            ..Platform::default()
        };
        assert_eq!(select_platform(&i, &arm64).unwrap().size, 2);
        let v8 = Platform {
            variant: Some("v8".into()),
            ..arm64
        };
        assert_eq!(select_platform(&i, &v8).unwrap().size, 2);
        let s390 = Platform {
            architecture: "s390x".into(),
            ..Platform::default()
        };
        let avail = select_platform(&i, &s390).unwrap_err();
        assert_eq!(avail, vec!["linux/arm/v6", "linux/arm64/v8", "linux/amd64"]);
    }

    #[test]
    fn parses_manifests_and_refuses_schema1() {
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{DOCKER_CONFIG}","digest":"{D}","size":5}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{D}","size":9,"urls":["https://x"]}}]}}"#
        );
        let Document::Manifest(m) = parse_document(m.as_bytes(), Some(DOCKER_MANIFEST)).unwrap()
        else {
            panic!("expected manifest")
        };
        assert!(!layer_supported(&m.layers[0]));
        assert!(matches!(
            parse_document(br#"{"schemaVersion":1,"fsLayers":[]}"#, None),
            Err(DocumentError::Unsupported(_))
        ));
        let c: ConfigFile = serde_json::from_str(
            r#"{"config":{"Env":["A=1"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        let ic = c.image_config();
        assert_eq!(
            (ic.env, ic.cmd, ic.working_dir),
            (vec!["A=1".to_owned()], vec!["sh".to_owned()], String::new())
        );
    }
}
