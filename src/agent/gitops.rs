//! `bitops agent --no-hub`: the simplest GitOps. Each poll asks the git remote
//! (`git ls-remote`) for the head of `--branch`, or the newest tag matching `--tag`,
//! and deploys `--environment` at each commit not deployed before. The last commit
//! deployed is kept in the state folder (`gitops.json`), so a restart does not deploy it
//! again. `--once` deploys the current commit and exits with the deploy's exit code.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::agent::checkout::{checkout, git, redact_all};
use crate::agent::deploy::Events;
use crate::agent::{Follow, Options, nap, say};
use crate::error::{Error, Problem, Result};
use crate::hub::api::EventKind;

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// What was followed (repo URL without credentials, branch or tag pattern).
    follows: String,
    revision: Option<String>,
}

/// The console shows the run; nothing else hears of it.
struct Quiet;
impl Events for Quiet {
    fn event(&mut self, _: EventKind, _: Option<String>, _: Option<String>, _: Option<String>) {}
    fn tick(&mut self) {}
}

pub fn run(opts: &Options) -> Result<()> {
    let (Some(repo), Some(environment)) = (&opts.repo, &opts.environment) else {
        return Err(Error::Invalid(vec![
            Problem::error("--no-hub needs --repo URL and --environment ENV")
                .hint("e.g. bitops agent --no-hub --repo https://git.example/ops.git -e prod"),
        ]));
    };
    let masker = &opts.engine.masker;
    let follows = match &opts.follow {
        Follow::Branch(b) => format!("{} branch {b}", redact_all(repo)),
        Follow::Tag(t) => format!("{} tags {t}", redact_all(repo)),
    };
    let state_file = opts.state_dir.join("gitops.json");
    let mut state: State = std::fs::read_to_string(&state_file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(|s: &State| s.follows == follows)
        .unwrap_or(State {
            follows: follows.clone(),
            revision: None,
        });
    say(&format!(
        "following {follows}, deploying environment {environment}{}",
        if opts.once { " once" } else { "" }
    ));
    loop {
        match newest(repo, &opts.follow) {
            Ok(revision) if opts.once || state.revision.as_deref() != Some(&revision) => {
                say(&format!("deploying {environment} at {revision}"));
                let code = match checkout(&opts.state_dir.join("checkouts"), repo, &revision) {
                    Ok(dir) => {
                        let outcome = opts.engine.deploy(&dir, environment, &[], &mut Quiet);
                        if let Some(signal) = outcome.signal {
                            say(&format!(
                                "stopped by {}: the deploy of {revision} was interrupted (exit {})",
                                signal.name(),
                                outcome.exit_code
                            ));
                            return Err(Error::Printed {
                                code: signal.exit_code(),
                            });
                        }
                        outcome.exit_code
                    }
                    Err(why) => {
                        say(&masker.mask_str(&redact_all(&why)));
                        1
                    }
                };
                if code == 0 {
                    say(&format!("{environment} at {revision}: succeeded"));
                } else {
                    say(&format!(
                        "{environment} at {revision}: failed (exit {code}); the next commit will be deployed"
                    ));
                }
                if opts.once {
                    return if code == 0 {
                        Ok(())
                    } else {
                        Err(Error::Printed { code })
                    };
                }
                state.revision = Some(revision);
                let text = serde_json::to_string_pretty(&state).unwrap_or_default();
                if let Err(e) = crate::files::write_private(&state_file, text.as_bytes()) {
                    say(&format!("cannot write {}: {e}", state_file.display()));
                }
            }
            Ok(_) => {}
            Err(why) => {
                let why = masker.mask_str(&redact_all(&why)).into_owned();
                if opts.once {
                    say(&why);
                    return Err(Error::Printed { code: 1 });
                }
                say(&format!("{why}; trying again at the next poll"));
            }
        }
        if !nap(opts.poll) {
            let signal = crate::stop::requested().unwrap_or(crate::error::Signal::Terminate);
            say(&format!("stopped by {}", signal.name()));
            return Err(Error::Printed {
                code: signal.exit_code(),
            });
        }
    }
}

/// The commit to deploy now: the branch's head, or the newest matching tag's commit.
pub fn newest(repo: &str, follow: &Follow) -> std::result::Result<String, String> {
    match follow {
        Follow::Branch(branch) => {
            let out = git(&["ls-remote", "--", repo, &format!("refs/heads/{branch}")])?;
            out.lines()
                .filter_map(|l| l.split_once('\t'))
                .find(|(_, r)| *r == format!("refs/heads/{branch}"))
                .map(|(sha, _)| sha.to_string())
                .ok_or_else(|| format!("{} has no branch `{branch}`", redact_all(repo)))
        }
        Follow::Tag(pattern) => {
            let out = git(&["ls-remote", "--tags", "--", repo])?;
            let mut tags: std::collections::BTreeMap<String, String> = Default::default();
            for (sha, r) in out.lines().filter_map(|l| l.split_once('\t')) {
                let Some(name) = r.strip_prefix("refs/tags/") else {
                    continue;
                };
                match name.strip_suffix("^{}") {
                    // An annotated tag's commit.
                    Some(name) => {
                        tags.insert(name.to_string(), sha.to_string());
                    }
                    None => {
                        tags.entry(name.to_string())
                            .or_insert_with(|| sha.to_string());
                    }
                }
            }
            tags.into_iter()
                .filter(|(name, _)| glob(pattern, name))
                .max_by(|a, b| version_cmp(&a.0, &b.0))
                .map(|(_, sha)| sha)
                .ok_or_else(|| format!("{} has no tag matching `{pattern}`", redact_all(repo)))
        }
    }
}

/// `*` (any text) and `?` (one character) glob.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Version order: runs of digits compare as numbers (`v1.10` after `v1.9`).
fn version_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then(x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_versions() {
        assert!(glob("v*", "v1.2.3") && !glob("v*", "release-1") && glob("v?.*", "v1.0"));
        let mut tags = vec!["v1.10.0", "v1.9.2", "v2.0.0-rc1", "v1.2"];
        tags.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(tags, ["v1.2", "v1.9.2", "v1.10.0", "v2.0.0-rc1"]);
    }
}
