//! The operator commands (`bitops hub group|deploy|redeploy|status|pause|resume|cancel`)
//! as calls of the API: each returns the text to print, readable or the API's JSON.

use std::collections::BTreeMap;

use crate::hub::api::{
    self, AgentView, DeploymentView, GroupView, NewDeployment, NewGroup, Redeploy,
};
use crate::hub::client::Client;
use crate::hub::dashboard::{ago, strategy_text};
use crate::hub::store::now_ms;

/// `KEY=VALUE` words as pairs.
pub fn pairs(words: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for w in words {
        match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => return Err(format!("`{w}` is not KEY=VALUE")),
        }
    }
    Ok(out)
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn pairs_text(pairs: &BTreeMap<String, String>) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn group(
    client: &Client,
    name: &str,
    select: &[String],
    as_json: bool,
) -> Result<String, String> {
    let g = NewGroup {
        name: name.to_string(),
        selector: pairs(select)?,
    };
    let view: GroupView = client.post(api::GROUPS, &g).map_err(|e| e.to_string())?;
    if as_json {
        return Ok(json(&view));
    }
    Ok(format!(
        "group {} ({}) selects {} agent{}{}\n",
        view.name,
        if view.selector.is_empty() {
            "every agent".to_string()
        } else {
            pairs_text(&view.selector)
        },
        view.agents.len(),
        if view.agents.len() == 1 { "" } else { "s" },
        if view.agents.is_empty() {
            String::new()
        } else {
            format!(": {}", view.agents.join(", "))
        }
    ))
}

pub fn deploy(client: &Client, d: &NewDeployment, as_json: bool) -> Result<String, String> {
    let view: DeploymentView = client
        .post(api::DEPLOYMENTS, d)
        .map_err(|e| e.to_string())?;
    Ok(if as_json {
        json(&view)
    } else {
        format!("deployment {} started\n{}", view.id, deployment_text(&view))
    })
}

pub fn redeploy(client: &Client, r: &Redeploy, as_json: bool) -> Result<String, String> {
    let view: DeploymentView = client.post(api::REDEPLOY, r).map_err(|e| e.to_string())?;
    Ok(if as_json {
        json(&view)
    } else {
        format!("deployment {} started\n{}", view.id, deployment_text(&view))
    })
}

/// `pause`, `resume` or `cancel`.
pub fn act(client: &Client, id: i64, action: &str, as_json: bool) -> Result<String, String> {
    let path = api::DEPLOYMENT_ACTION
        .replace("{id}", &id.to_string())
        .replace("{action}", action);
    let view: DeploymentView = client
        .post(&path, &serde_json::json!({}))
        .map_err(|e| e.to_string())?;
    Ok(if as_json {
        json(&view)
    } else {
        deployment_text(&view)
    })
}

pub fn status(client: &Client, deployment: Option<i64>, as_json: bool) -> Result<String, String> {
    if let Some(id) = deployment {
        let view: DeploymentView = client
            .get(&api::DEPLOYMENT.replace("{id}", &id.to_string()))
            .map_err(|e| e.to_string())?;
        return Ok(if as_json {
            json(&view)
        } else {
            deployment_text(&view)
        });
    }
    let agents: Vec<AgentView> = client.get(api::AGENTS).map_err(|e| e.to_string())?;
    let groups: Vec<GroupView> = client.get(api::GROUPS).map_err(|e| e.to_string())?;
    let deployments: Vec<DeploymentView> =
        client.get(api::DEPLOYMENTS).map_err(|e| e.to_string())?;
    if as_json {
        return Ok(json(&serde_json::json!({
            "agents": agents,
            "groups": groups,
            "deployments": deployments,
        })));
    }
    let now = now_ms();
    let mut out = String::from("groups:\n");
    if groups.is_empty() {
        out.push_str("  (none)\n");
    }
    for g in &groups {
        out.push_str(&format!(
            "  {}  [{}]  agents: {}\n",
            g.name,
            pairs_text(&g.selector),
            if g.agents.is_empty() {
                "none".to_string()
            } else {
                g.agents.join(", ")
            }
        ));
    }
    out.push_str("agents:\n");
    if agents.is_empty() {
        out.push_str("  (none)\n");
    }
    for a in &agents {
        out.push_str(&format!(
            "  {}  {}  seen {}  revision {}  [{}]\n",
            a.name,
            a.state.name(),
            ago(a.last_seen_ms, now),
            a.current_revision.as_deref().map(short).unwrap_or("-"),
            pairs_text(
                &a.labels
                    .iter()
                    .chain(a.metadata.iter())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            )
        ));
    }
    out.push_str("deployments:\n");
    if deployments.is_empty() {
        out.push_str("  (none)\n");
    }
    for d in &deployments {
        out.push_str(&format!(
            "  #{}  {}  {}  {} {}  {}  {}\n",
            d.id,
            d.state.name(),
            d.group,
            short(&d.revision),
            d.environment,
            strategy_text(&d.strategy),
            d.jobs
                .iter()
                .map(|j| format!("{} {}", j.agent, j.state.name()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(out)
}

fn short(revision: &str) -> &str {
    revision.get(..12).unwrap_or(revision)
}

/// One deployment with its jobs and their output.
pub fn deployment_text(d: &DeploymentView) -> String {
    let mut out = format!(
        "deployment {}: {}\n  group {}, {} at {}, environment {}, {}{}\n",
        d.id,
        d.state.name(),
        d.group,
        d.repo_url,
        d.revision,
        d.environment,
        strategy_text(&d.strategy),
        d.redeploy_of
            .map(|of| format!(", redeploys {of}"))
            .unwrap_or_default()
    );
    for j in &d.jobs {
        out.push_str(&format!(
            "  {}: {}{}\n",
            j.agent,
            j.state.name(),
            j.exit_code
                .map(|c| format!(" (exit code {c})"))
                .unwrap_or_default()
        ));
        for s in &j.steps {
            out.push_str(&format!(
                "    step {}: {} ({:.1}s)\n",
                s.alias, s.status, s.seconds
            ));
        }
        if let Some(e) = &j.error {
            out.push_str(&format!("    error: {e}\n"));
        }
        for line in &j.output_tail {
            out.push_str(&format!("    | {line}\n"));
        }
    }
    out
}
