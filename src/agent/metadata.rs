//! Cloud instance metadata the agent reports to the hub (groups select on it): EC2's
//! instance identity document and, when the instance exposes them, its tags, through
//! IMDSv2. Best effort and quick: at most about a
//! second, then the agent starts without it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The longest discovery may take, both requests together.
const BUDGET: Duration = Duration::from_millis(900);

/// `ec2.region`, `ec2.availability-zone`, `ec2.instance-type`, `ec2.instance-id`,
/// `ec2.account-id`, and `ec2.tag.<key>` for each instance tag (when "tags in instance
/// metadata" is on), from the endpoint at `base` (`http://169.254.169.254`); empty when
/// there is none, it is slow, or `base` is `none`.
pub fn discover(base: &str) -> BTreeMap<String, String> {
    if base == "none" || base.is_empty() {
        return BTreeMap::new();
    }
    match ec2(base.trim_end_matches('/')) {
        Ok(found) => found,
        Err(why) => {
            super::debug(&format!("no instance metadata at {base}: {why}"));
            BTreeMap::new()
        }
    }
}

fn ec2(base: &str) -> Result<BTreeMap<String, String>, String> {
    let start = Instant::now();
    let left = || {
        BUDGET
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1))
    };
    let agent = |timeout: Duration| {
        ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(true)
            .max_redirects(0)
            .build()
            .new_agent()
    };
    let token = agent(left())
        .put(&format!("{base}/latest/api/token"))
        .header("X-aws-ec2-metadata-token-ttl-seconds", "60")
        .send_empty()
        .map_err(|e| e.to_string())?
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let doc = agent(left())
        .get(&format!("{base}/latest/dynamic/instance-identity/document"))
        .header("X-aws-ec2-metadata-token", token.trim())
        .call()
        .map_err(|e| e.to_string())?
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let doc: serde_json::Value = serde_json::from_str(&doc).map_err(|e| e.to_string())?;
    let get = |path: &str| -> Option<String> {
        let mut response = agent(left())
            .get(&format!("{base}{path}"))
            .header("X-aws-ec2-metadata-token", token.trim())
            .call()
            .ok()?;
        response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .ok()
    };
    let mut out = BTreeMap::new();
    for (field, key) in [
        ("region", "ec2.region"),
        ("availabilityZone", "ec2.availability-zone"),
        ("instanceType", "ec2.instance-type"),
        ("instanceId", "ec2.instance-id"),
        ("accountId", "ec2.account-id"),
    ] {
        if let Some(v) = doc.get(field).and_then(|v| v.as_str()) {
            out.insert(key.to_string(), v.to_string());
        }
    }
    // Tags: a 404 when the instance does not expose them; at most 50, within the budget.
    if let Some(keys) = get("/latest/meta-data/tags/instance") {
        for key in keys
            .lines()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .take(50)
        {
            if key.contains('/') || key.contains("..") {
                continue;
            }
            match get(&format!("/latest/meta-data/tags/instance/{key}")) {
                Some(value) => {
                    out.insert(format!("ec2.tag.{key}"), value.trim().to_string());
                }
                None => break, // out of time, or the endpoint stopped answering
            }
        }
    }
    Ok(out)
}
