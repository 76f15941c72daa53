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
        // The loop device detaches itself after the unmount, asynchronously, and may still write
        // the image meanwhile: wait for it (≤ 5 s), so that the image is still while packed.
        let image = layout.disk_image();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while image.exists() && loop_backs(&image) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if image.exists() {
            std::fs::File::open(&image)
                .and_then(|f| f.sync_all())
                .map_err(super::sb_err(id, "flush", &image))?;
        }
        Ok(layout.dir().to_path_buf())
    }
}

/// Is some loop device still backed by `image`?
fn loop_backs(image: &std::path::Path) -> bool {
    let Ok(rd) = std::fs::read_dir("/sys/block") else {
        return false;
    };
    rd.flatten().any(|e| {
        std::fs::read_to_string(e.path().join("loop/backing_file"))
            .is_ok_and(|f| std::path::Path::new(f.trim()) == image)
    })
}
