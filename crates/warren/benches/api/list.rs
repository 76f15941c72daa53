//! Section 4: `GET /v1/sandboxes` with 1,000 real sandboxes in the store.
//!
//! The sandboxes are real, created through the API ([`Fleet`]) and deleted again at the end,
//! also when a step in between fails. Baselines in the same run: the default page with the
//! store empty and with a tenth of the sandboxes (the same page, a tenth of the table), and
//! `GET /v1/sandboxes/{id}` (the REST floor). One group (a tenth) is paused, then: the default
//! page, `limit=500` (first and second page), and filters: a label matching a tenth,
//! `state=running` (nine tenths match), `state=paused` (a tenth), state and labels together,
//! and a label and a state that match nothing (the whole table is scanned). Each query is timed
//! `samples` times, one at a time; the response's JSON size is in its name.

use anyhow::bail;
use warren_client::{Client, SandboxQuery};

use crate::common::stats::{Report, Row, durations, time_each};
use crate::fleet::Fleet;

/// How the section runs.
pub struct Plan<'a> {
    pub image: &'a str,
    /// Sandboxes to create.
    pub count: usize,
    /// Creates (and deletes) in flight at once.
    pub concurrency: usize,
    /// Timed requests per query.
    pub samples: usize,
    pub daemon_pid: u32,
}

/// The whole section; every sandbox it creates is deleted before it returns.
pub async fn section(report: &mut Report, client: &Client, plan: &Plan<'_>) -> anyhow::Result<()> {
    let left = client.list_all_sandboxes().await?.len();
    if left != 0 {
        bail!("the store should be empty before the list section; it holds {left}");
    }
    let mut fleet = Fleet::new(client, plan.image, plan.concurrency, plan.daemon_pid).await;
    let measured = fill_and_measure(report, client, plan, &mut fleet).await;
    let cost = fleet.delete().await;
    report.table(
        &format!(
            "4. GET /v1/sandboxes with {} busybox sandboxes in the store (one at a time)",
            plan.count
        ),
        measured?,
    );
    report.table(
        &format!(
            "4b. creating, holding and deleting them ({} at a time)",
            plan.concurrency
        ),
        cost?,
    );
    Ok(())
}

fn query(state: Option<&str>, label: Option<&str>) -> SandboxQuery {
    SandboxQuery {
        state: state.map(str::to_owned),
        label: label.map(str::to_owned),
        ..SandboxQuery::default()
    }
}

/// `(name, filter, limit, cursor)` of each timed query.
type Query = (&'static str, SandboxQuery, Option<u32>, Option<String>);

/// Baselines, the creates, then the timed queries.
async fn fill_and_measure(
    report: &mut Report,
    client: &Client,
    plan: &Plan<'_>,
    fleet: &mut Fleet<'_>,
) -> anyhow::Result<Vec<Row>> {
    let n = plan.samples;
    let all = SandboxQuery::default();
    let default_page = || client.find_sandboxes(&all, None, None);
    let empty = time_each(n, default_page).await?;
    let tenth = plan.count / 10;
    fleet.grow_to(tenth).await?;
    let at_tenth = time_each(n, default_page).await?;
    fleet.grow_to(plan.count).await?;
    fleet.pause_group(7).await?;
    let stored = client.list_all_sandboxes().await?.len();
    if stored != plan.count {
        bail!("{stored} sandboxes listed after creating {}", plan.count);
    }

    let mut queries: Vec<Query> = vec![
        ("default page (limit 100)", all.clone(), None, None),
        ("limit=500", all.clone(), Some(500), None),
        (
            "label=group=g3 (a tenth match)",
            query(None, Some("group=g3")),
            None,
            None,
        ),
        (
            "state=running (9/10 match)",
            query(Some("running"), None),
            None,
            None,
        ),
        (
            "state=paused (1/10 match)",
            query(Some("paused"), None),
            None,
            None,
        ),
        (
            "state=running&label=bench=api,group=g3",
            query(Some("running"), Some("bench=api,group=g3")),
            None,
            None,
        ),
        (
            "label=group=none (none match)",
            query(None, Some("group=none")),
            None,
            None,
        ),
        (
            "state=stopped (none match)",
            query(Some("stopped"), None),
            None,
            None,
        ),
    ];
    // The second page of 500 when there is one (the cursor is the last seq of the page before).
    if let Some(cursor) = client
        .find_sandboxes(&all, None, Some(500))
        .await?
        .next_cursor
    {
        queries.insert(
            2,
            ("limit=500, 2nd page (cursor)", all, Some(500), Some(cursor)),
        );
    }
    let mut rows = vec![
        durations("baseline: default page, store empty", &empty, None),
        durations(
            &format!("baseline: default page, {tenth} in the store"),
            &at_tenth,
            None,
        ),
    ];
    let mut sizes = serde_json::Map::new();
    for (name, q, limit, cursor) in &queries {
        let cursor = cursor.as_deref();
        let page = client.find_sandboxes(q, cursor, *limit).await?;
        let bytes = serde_json::to_vec(&page)?.len();
        let items = page.items.len();
        sizes.insert(
            (*name).to_owned(),
            serde_json::json!({ "items": items, "json_bytes": bytes }),
        );
        let times = time_each(n, || client.find_sandboxes(q, cursor, *limit)).await?;
        let name = format!("{name}: {items} items, {:.0} KiB", bytes as f64 / 1024.0);
        rows.push(durations(&name, &times, None));
    }
    let one = &fleet.ids[fleet.ids.len() / 2];
    let gets = time_each(n, || client.get_sandbox(one)).await?;
    rows.push(durations(
        "GET /v1/sandboxes/{id} (REST floor)",
        &gets,
        None,
    ));
    report.note("list_page_sizes", serde_json::Value::Object(sizes));
    Ok(rows)
}
