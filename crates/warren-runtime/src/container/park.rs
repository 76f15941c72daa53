//! Parking a sandbox for the archive: no container and no mount left, so that its bundle
//! directory holds everything it is (disk image or files, checkpoint, spec) and can be packed,
//! removed, and later unpacked in place and started or restored again.

use std::path::PathBuf;

use super::ContainerRuntime;
use crate::RuntimeError;

impl ContainerRuntime {
    pub(crate) async fn park_impl(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        let layout = self.existing(id)?;
        if let Some(st) = self.runc.state(id).await.map_err(Self::runc_err(id))?
            && st.status != "stopped"
        {
            return Err(RuntimeError::AlreadyExists { id: id.to_owned() });
        }
        // A stopped container's leftovers (runc state, cgroups) go; the files stay.
        self.end_container(id).await?;
        Self::release_mounts(id, &layout)?;
        Ok(layout.dir().to_path_buf())
    }
}
