//! `warren image ...`, with progress bars for pulls and imports.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use warren_api_types::{Image, PullEvent, PullRequest};

use crate::cli::Remote;
use crate::{config, output};

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Pull an image from a registry (Docker Hub by default).
    Pull {
        /// Image reference, e.g. busybox, python:3.12, ghcr.io/org/img:tag.
        reference: String,
        /// Allow plain HTTP to a registry that is not on loopback.
        #[arg(long)]
        insecure: bool,
        /// Registry user name.
        #[arg(long, requires = "password_stdin")]
        username: Option<String>,
        /// Read the registry password from stdin.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Import a `docker save` tarball, an OCI archive, or an OCI layout directory.
    Import {
        /// Archive file or OCI layout directory.
        path: PathBuf,
        /// Reference to store it under.
        #[arg(long)]
        tag: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List local images.
    #[command(visible_alias = "list")]
    Ls {
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove images no sandbox uses.
    Rm {
        /// References or digests.
        #[arg(required = true)]
        references: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

pub async fn run(cmd: ImageCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ImageCommand::Pull {
            reference,
            insecure,
            username,
            password_stdin,
            remote,
        } => {
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("cannot read the password from stdin")?;
                Some(s.trim_end_matches(['\n', '\r']).to_owned())
            } else {
                None
            };
            let req = PullRequest {
                reference,
                insecure,
                username,
                password,
            };
            let progress = Progress::new(remote.json);
            let image = config::client(&remote)?
                .pull_image(&req, |ev| progress.on(ev))
                .await;
            progress.finish();
            report(&image?, remote.json)
        }
        ImageCommand::Import { path, tag, remote } => {
            let archive = archive_for(&path)?;
            let progress = Progress::new(remote.json);
            let image = config::client(&remote)?
                .import_image(archive.path(), tag.as_deref(), |ev| progress.on(ev))
                .await;
            progress.finish();
            report(&image?, remote.json)
        }
        ImageCommand::Ls { remote } => {
            let images = config::client(&remote)?.list_images().await?;
            if remote.json {
                output::json(&images)?;
            } else if images.is_empty() {
                println!("No images. Pull one with: warren image pull <reference>");
            } else {
                let rows: Vec<Vec<String>> = images
                    .iter()
                    .map(|i| {
                        vec![
                            i.reference.clone(),
                            short(&i.digest),
                            output::bytes(i.size),
                            i.layers.to_string(),
                            output::age(i.created_at),
                        ]
                    })
                    .collect();
                output::table(&["REFERENCE", "DIGEST", "SIZE", "LAYERS", "STORED"], &rows);
            }
            Ok(ExitCode::SUCCESS)
        }
        ImageCommand::Rm { references, remote } => {
            let client = config::client(&remote)?;
            for r in &references {
                client.remove_image(r).await?;
                if !remote.json {
                    println!("removed {r}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Pull with a progress bar per layer on stderr (none when `quiet`).
pub async fn pull_with_progress(
    client: &warren_client::Client,
    req: &PullRequest,
    quiet: bool,
) -> anyhow::Result<Image> {
    let progress = Progress::new(quiet);
    let image = client.pull_image(req, |ev| progress.on(ev)).await;
    progress.finish();
    Ok(image?)
}

fn report(image: &Image, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        output::json(image)?;
    } else {
        println!("{} {}", image.reference, image.digest);
    }
    Ok(ExitCode::SUCCESS)
}

fn short(digest: &str) -> String {
    digest
        .strip_prefix("sha256:")
        .unwrap_or(digest)
        .chars()
        .take(12)
        .collect()
}

/// An archive to upload: the file itself, or an OCI layout directory tarred to a temp file.
enum Archive {
    File(PathBuf),
    Temp(tempfile::NamedTempFile),
}

impl Archive {
    fn path(&self) -> &Path {
        match self {
            Self::File(p) => p,
            Self::Temp(t) => t.path(),
        }
    }
}

fn archive_for(path: &Path) -> anyhow::Result<Archive> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(Archive::File(path.to_owned()));
    }
    let tmp = tempfile::NamedTempFile::new().context("cannot create a temp file")?;
    let mut builder = tar::Builder::new(tmp.reopen()?);
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", path)
        .with_context(|| format!("cannot archive the OCI layout {}", path.display()))?;
    builder.finish()?;
    Ok(Archive::Temp(tmp))
}

/// One bar per layer, drawn on stderr; nothing in `--json` mode or without a terminal.
struct Progress {
    multi: MultiProgress,
    bars: std::sync::Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Default::default(),
        }
    }

    fn bar(&self, digest: &str, size: u64) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        bars.entry(digest.to_owned())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg}")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                bar.set_prefix(short(digest));
                bar.enable_steady_tick(Duration::from_millis(200));
                bar
            })
            .clone()
    }

    fn on(&self, ev: &PullEvent) {
        match ev {
            PullEvent::Resolved {
                reference,
                layers,
                total_bytes,
                ..
            } => {
                let _ = self.multi.println(format!(
                    "{reference}: {layers} layer(s), {}",
                    output::bytes(*total_bytes)
                ));
            }
            PullEvent::LayerStarted { digest, size } => {
                self.bar(digest, *size);
            }
            PullEvent::LayerProgress {
                digest,
                downloaded,
                size,
            } => self.bar(digest, *size).set_position(*downloaded),
            PullEvent::LayerCached { digest, size } => {
                let bar = self.bar(digest, *size);
                bar.set_position(*size);
                bar.finish_with_message("already present");
            }
            PullEvent::Unpacking { digest } => self.bar(digest, 0).set_message("unpacking"),
            PullEvent::LayerDone { digest } => {
                let bar = self.bar(digest, 0);
                bar.set_position(bar.length().unwrap_or(0));
                bar.finish_with_message("done");
            }
            PullEvent::Done { .. } | PullEvent::Image { .. } | PullEvent::Error { .. } => {}
        }
    }

    fn finish(&self) {
        for bar in self.bars.lock().unwrap_or_else(|e| e.into_inner()).values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}
