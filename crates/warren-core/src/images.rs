//! Images as the domain uses them: resolve for a create, pull, import,
//! and remove only what no sandbox uses.

use std::path::Path;

use warren_images::{Image, NoProgress, PullOptions, PullProgress};

use crate::{Core, CoreError};

impl Core {
    /// The local image for `reference`, pulling it first when it is absent.
    pub(crate) async fn resolve_image(&self, reference: &str) -> Result<Image, CoreError> {
        let images = &self.inner.images;
        if let Some(image) = images
            .get(reference)
            .await
            .map_err(|source| CoreError::Images {
                source: Box::new(source),
            })?
        {
            return Ok(image);
        }
        // A digest that is not local cannot be pulled without a repository name.
        if reference.starts_with("sha256:") {
            return Err(CoreError::ImageNotFound {
                reference: reference.to_owned(),
            });
        }
        tracing::info!(%reference, "image not local; pulling");
        self.pull_image(reference, &PullOptions::default(), &NoProgress)
            .await
    }

    /// The unpacked layer directories of `image`, lowest first (unpacking missing ones).
    pub(crate) async fn layer_dirs(
        &self,
        image: &Image,
    ) -> Result<Vec<std::path::PathBuf>, CoreError> {
        self.inner
            .images
            .layer_dirs(image)
            .await
            .map_err(|source| CoreError::Images {
                source: Box::new(source),
            })
    }

    /// Pull an image from its registry into the local store.
    pub async fn pull_image(
        &self,
        reference: &str,
        options: &PullOptions,
        progress: &dyn PullProgress,
    ) -> Result<Image, CoreError> {
        if reference.trim().is_empty() {
            return Err(CoreError::invalid(
                "ref",
                "must name an image, e.g. \"busybox:latest\"",
            ));
        }
        self.inner
            .images
            .pull(reference, options, progress)
            .await
            .map_err(|source| CoreError::Pull {
                reference: reference.to_owned(),
                source: Box::new(source),
            })
    }

    /// Import a `docker save` tarball, an OCI archive or an OCI layout directory.
    pub async fn import_image(
        &self,
        path: &Path,
        tag: Option<&str>,
        progress: &dyn PullProgress,
    ) -> Result<Vec<Image>, CoreError> {
        self.inner
            .images
            .import(path, tag, progress)
            .await
            .map_err(|source| CoreError::Import {
                source: Box::new(source),
            })
    }

    /// One local image by reference or digest (prefix).
    pub async fn get_image(&self, reference: &str) -> Result<Image, CoreError> {
        self.inner
            .images
            .get(reference)
            .await
            .map_err(|source| CoreError::Images {
                source: Box::new(source),
            })?
            .ok_or_else(|| CoreError::ImageNotFound {
                reference: reference.to_owned(),
            })
    }

    /// Every local image.
    pub async fn list_images(&self) -> Result<Vec<Image>, CoreError> {
        self.inner
            .images
            .list()
            .await
            .map_err(|source| CoreError::Images {
                source: Box::new(source),
            })
    }

    /// Remove an image unless a sandbox still uses it.
    pub async fn remove_image(&self, reference: &str) -> Result<Image, CoreError> {
        let images = &self.inner.images;
        let image = images
            .get(reference)
            .await
            .map_err(|source| CoreError::Images {
                source: Box::new(source),
            })?
            .ok_or_else(|| CoreError::ImageNotFound {
                reference: reference.to_owned(),
            })?;
        let users = self
            .inner
            .store
            .count_sandboxes_with_image(&image.digest)
            .await?;
        if users > 0 {
            return Err(CoreError::ImageInUse {
                reference: image.reference,
                count: users,
            });
        }
        images
            .remove(reference)
            .await
            .map_err(|source| CoreError::RemoveImage {
                reference: reference.to_owned(),
                source: Box::new(source),
            })
    }
}
