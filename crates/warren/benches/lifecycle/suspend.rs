//! Sections 1 and 2: pause/resume of an idle busybox sandbox (REST, against raw `runc pause`/
//! `resume` of a twin), and hibernate/resume of a Python sandbox holding 100 MiB.

use std::time::Instant;

use warren_api_types::CreateSandboxRequest;
use warren_client::Client;

use crate::common::rest::exec_true;
use crate::common::stats::{self, Report, Target};
use crate::runc;
use crate::sandbox::{Created, python_100_mib};

/// Section 1: pause/resume, REST on one sandbox, raw runc on another.
pub async fn pause_section(
    report: &mut Report,
    client: &Client,
    runc_root: &std::path::Path,
    busybox: &str,
    n: usize,
    created: &mut Created,
) -> anyhow::Result<()> {
    let mut req = CreateSandboxRequest::new(busybox);
    req.cmd = Some(vec!["sleep".into(), "3600".into()]);
    let rest_sb = client.create_sandbox(&req).await?;
    created.sandbox(&rest_sb.id);
    let raw_sb = client.create_sandbox(&req).await?;
    created.sandbox(&raw_sb.id);
    let (mut pause, mut resume, mut raw_pause, mut raw_resume) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let t = Instant::now();
        client.pause_sandbox(&rest_sb.id).await?;
        pause.push(t.elapsed());
        let t = Instant::now();
        client.resume_sandbox(&rest_sb.id).await?;
        resume.push(t.elapsed());
        raw_pause.push(runc(runc_root, "pause", &raw_sb.id)?);
        raw_resume.push(runc(runc_root, "resume", &raw_sb.id)?);
    }
    let rows = vec![
        stats::durations("pause via REST", &pause, Some(Target::AtMost(10.0))),
        stats::durations("resume via REST", &resume, Some(Target::AtMost(10.0))),
        stats::durations("runc pause (baseline)", &raw_pause, None),
        stats::durations("runc resume (baseline)", &raw_resume, None),
    ];
    report.table("1. pause and resume, idle busybox sandbox", rows);
    Ok(())
}

/// Section 2: hibernate/resume with 100 MiB of state, each checked by an exec afterwards.
pub async fn hibernate_section(
    report: &mut Report,
    client: &Client,
    python: &str,
    hib: usize,
    created: &mut Created,
) -> anyhow::Result<()> {
    let sb = python_100_mib(client, python, created).await?;
    let (mut hibernate, mut wake) = (vec![], vec![]);
    for _ in 0..hib {
        let t = Instant::now();
        client.hibernate_sandbox(&sb.id).await?;
        hibernate.push(t.elapsed());
        let t = Instant::now();
        client.resume_sandbox(&sb.id).await?;
        wake.push(t.elapsed());
        exec_true(client, &sb.id).await?;
    }
    let rows = vec![
        stats::durations(
            "hibernate via REST (100 MiB RSS)",
            &hibernate,
            Some(Target::AtMost(200.0)),
        ),
        stats::durations(
            "resume from hibernation via REST",
            &wake,
            Some(Target::AtMost(150.0)),
        ),
    ];
    report.table("2. hibernate and resume, Python holding 100 MiB", rows);
    // The sandbox is not needed any more; its memory is better left to the branches.
    created.delete_sandbox(client, &sb.id).await
}
