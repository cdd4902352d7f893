//! The status dashboard: one server-rendered HTML page (no script), refreshed by the
//! browser every 2 seconds: groups, agents, and the newest deployments with each
//! agent's progress and output tail. Every value is HTML-escaped.

use std::fmt::Write;

use crate::hub::api::{DeploymentView, JobState, Strategy};
use crate::hub::store::{Fault, Store, now_ms};

/// Deployments shown in full.
const SHOWN: usize = 10;
/// Output lines shown per job.
const TAIL: usize = 15;

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `12s ago`, `3m ago`, `2h ago`.
pub fn ago(then_ms: i64, now_ms: i64) -> String {
    let s = (now_ms - then_ms).max(0) / 1000;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        _ => format!("{}h ago", s / 3600),
    }
}

pub fn strategy_text(s: &Strategy) -> String {
    match s {
        Strategy::AllAtOnce => "all-at-once".into(),
        Strategy::Ordered { order } if order.is_empty() => "ordered".into(),
        Strategy::Ordered { order } => format!("ordered ({})", order.join(", ")),
        Strategy::Rolling {
            batch_size,
            max_failures,
        } => format!("rolling (batch {batch_size}, max failures {max_failures})"),
    }
}

fn short(revision: &str) -> &str {
    revision.get(..12).unwrap_or(revision)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin-bottom:1.5em}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}code,pre{font-family:ui-monospace,monospace;font-size:.9em}\
pre{margin:.2em 0;max-height:14em;overflow:auto;background:#f7f7f7;padding:.3em}\
.succeeded,.idle{color:#176117}.failed,.lost,.interrupted{color:#a11}\
.running,.busy,.queued{color:#1a4fa0}.cancelled,.pending,.paused{color:#777}\
h2{margin-top:1.2em}";

/// The whole page.
pub async fn page(store: &Store) -> Result<String, Fault> {
    let now = now_ms();
    let groups = store.groups().await?;
    let agents = store.agents().await?;
    let mut shown: Vec<DeploymentView> = Vec::new();
    let all = store.deployments().await?;
    for d in all.iter().take(SHOWN) {
        shown.push(store.deployment(d.id).await?);
    }
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"2\"><title>bitops hub</title>\
         <style>{STYLE}</style></head><body><h1>bitops hub</h1>"
    );
    h.push_str("<h2>Groups</h2>");
    if groups.is_empty() {
        h.push_str("<p>No groups yet (<code>bitops hub group NAME --select KEY=VALUE</code>).</p>");
    } else {
        h.push_str("<table id=\"groups\"><tr><th>group</th><th>selector</th><th>agents</th></tr>");
        for g in &groups {
            let selector: Vec<String> = g
                .selector
                .iter()
                .map(|(k, v)| escape(&format!("{k}={v}")))
                .collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(&g.name),
                selector.join(" "),
                escape(&g.agents.join(", "))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Agents</h2>");
    if agents.is_empty() {
        h.push_str("<p>No agents registered yet.</p>");
    } else {
        h.push_str(
            "<table id=\"agents\"><tr><th>agent</th><th>state</th><th>last seen</th>\
             <th>revision</th><th>labels and metadata</th><th>version</th></tr>",
        );
        for a in &agents {
            let state = a.state.name();
            let pairs: Vec<String> = a
                .labels
                .iter()
                .chain(a.metadata.iter())
                .map(|(k, v)| escape(&format!("{k}={v}")))
                .collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"{state}\">{state}</td><td>{}</td>\
                 <td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                escape(&a.name),
                ago(a.last_seen_ms, now),
                escape(a.current_revision.as_deref().map(short).unwrap_or("—")),
                pairs.join(" "),
                escape(&a.version)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Deployments</h2>");
    if shown.is_empty() {
        h.push_str("<p>No deployments yet.</p>");
    }
    for d in &shown {
        let state = d.state.name();
        let done = d
            .jobs
            .iter()
            .filter(|j| {
                !matches!(
                    j.state,
                    JobState::Pending | JobState::Queued | JobState::Running
                )
            })
            .count();
        let _ = write!(
            h,
            "<h3 id=\"deployment-{}\">#{} to {} — <span class=\"{state}\">{state}</span></h3>\
             <p><code>{}</code> at <code>{}</code>, environment <code>{}</code>, {}, \
             {done}/{} done, created {}{}</p>",
            d.id,
            d.id,
            escape(&d.group),
            escape(&d.repo_url),
            escape(short(&d.revision)),
            escape(&d.environment),
            escape(&strategy_text(&d.strategy)),
            d.jobs.len(),
            ago(d.created_ms, now),
            d.redeploy_of
                .map(|of| format!(", redeploys #{of}"))
                .unwrap_or_default()
        );
        h.push_str(
            "<table class=\"jobs\"><tr><th>agent</th><th>state</th><th>exit</th>\
             <th>steps</th><th>output (tail)</th></tr>",
        );
        for j in &d.jobs {
            let js = j.state.name();
            let steps: Vec<String> = j
                .steps
                .iter()
                .map(|s| escape(&format!("{} {}", s.alias, s.status)))
                .collect();
            let skip = j.output_tail.len().saturating_sub(TAIL);
            let mut tail: Vec<String> = j.output_tail[skip..].iter().map(|l| escape(l)).collect();
            if let Some(e) = &j.error {
                tail.push(escape(e));
            }
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"{js}\">{js}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&j.agent),
                j.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                steps.join("<br>"),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("<pre>{}</pre>", tail.join("\n"))
                }
            );
        }
        h.push_str("</table>");
    }
    if all.len() > SHOWN {
        let _ = write!(
            h,
            "<p>{} older deployments: <code>bitops hub status</code>.</p>",
            all.len() - SHOWN
        );
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(ago(0, 5_000), "5s ago");
        assert_eq!(ago(0, 120_000), "2m ago");
    }
}
