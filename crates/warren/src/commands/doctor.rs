//! `warren doctor`: what this host supports, and how to fix what is missing.

use std::process::ExitCode;

use warren_runtime::doctor;

pub fn run(json: bool) -> anyhow::Result<ExitCode> {
    let report = doctor::probe();
    if json {
        crate::output::json(&report)?;
    } else {
        let rows: Vec<Vec<String>> = report
            .checks
            .iter()
            .map(|c| {
                vec![
                    c.name.to_string(),
                    c.status.as_str().to_owned(),
                    c.detail.clone(),
                    c.fix.clone().unwrap_or_default(),
                ]
            })
            .collect();
        crate::output::table(&["CHECK", "STATUS", "DETAIL", "FIX"], &rows);
        if report.can_run_sandboxes() {
            println!("\nThis host can run sandboxes.");
        } else {
            println!("\nThis host cannot run sandboxes yet: fix the failed checks above.");
        }
    }
    Ok(if report.can_run_sandboxes() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
