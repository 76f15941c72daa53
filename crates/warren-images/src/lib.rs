//! warren's OCI content store: pull images from registries, import
//! docker-save / OCI archives, verify every blob by digest, unpack layers
//! safely into shared read-only directories, and garbage-collect.
//!
//! ```text
//! <root>/content/blobs/sha256/<hex>   verified blobs (manifests, configs, layers)
//! <root>/layers/<diff-id hex>/        unpacked layer trees, lowerdirs for overlayfs
//! <root>/images/index.json            reference -> Image
//! ```
//!
//! Unsafe code is denied everywhere except `unpack/sys.rs`, which wraps the
//! three syscalls std lacks (mknod for whiteouts, lsetxattr, utimensat).
#![deny(unsafe_code)]

mod blob;
mod digest;
mod error;
mod image;
mod import;
mod progress;
mod pull;
mod reference;
mod registry;
mod store;
mod unpack;

pub use digest::Digest;
pub use error::{
    DigestError, ErrorKind, ImportError, OpenError, PullError, ReferenceError, RemoveError,
    StoreError, UnpackError,
};
pub use image::{
    Credentials, IdShift, Image, ImageConfig, Layer, Platform, PullOptions, StoreOptions,
    UnpackLimits,
};
pub use progress::{NoProgress, PullEvent, PullProgress};
pub use reference::Reference;
pub use store::ImageStore;
