//! `--changed-since`: which deployments the changed files touch, and why. Pure: the
//! changed files come from `repo::changes`.

use std::path::{Path, PathBuf};

use crate::repo::TOOL_CONFIG;

/// A deployment as the change rules see it.
pub struct Candidate<'a> {
    pub alias: &'a str,
    pub plugin: &'a str,
    /// The installed plugin's folder (none for a built-in plugin).
    pub plugin_dir: Option<PathBuf>,
    /// Where the tool folder's links lead, resolved: the folder itself when it is a link
    /// into a shared folder (`dev/terraform` → `_shared/terraform`), and each link in it.
    pub linked: Vec<PathBuf>,
}

/// The deployments a change selects, each with why: its tool folder changed (in the
/// environment or the default folder); the environment's or the default folder's
/// `bitops.config.yaml` changed (every deployment); its installed plugin changed.
/// `repo` and the files are absolute, symbolic links resolved alike.
pub fn changed(
    files: &[PathBuf],
    repo: &Path,
    environment: &str,
    default_folder: &str,
    candidates: &[Candidate],
) -> Vec<(String, String)> {
    let shown = |f: &Path| {
        f.strip_prefix(repo)
            .unwrap_or(f)
            .to_string_lossy()
            .into_owned()
    };
    let env_dir = repo.join(environment);
    let default_dir = repo.join(default_folder);
    // A change to the settings of every deployment.
    let everything = files
        .iter()
        .find(|f| **f == env_dir.join(TOOL_CONFIG) || **f == default_dir.join(TOOL_CONFIG));
    let mut out = Vec::new();
    for c in candidates {
        let reason = if let Some(f) = everything {
            Some(format!("{} changed", shown(f)))
        } else {
            let mine: Vec<&PathBuf> = files
                .iter()
                .filter(|f| {
                    f.starts_with(env_dir.join(c.alias))
                        || f.starts_with(default_dir.join(c.alias))
                        || c.linked.iter().any(|l| f.starts_with(l))
                })
                .collect();
            let plugin: Vec<&PathBuf> = c
                .plugin_dir
                .iter()
                .flat_map(|d| files.iter().filter(move |f| f.starts_with(d)))
                .collect();
            let more = |n: usize| match n {
                0 | 1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            match (mine.first(), plugin.first()) {
                (Some(f), _) => Some(format!("{} changed{}", shown(f), more(mine.len()))),
                (None, Some(f)) => Some(format!(
                    "plugin `{}` changed ({}{})",
                    c.plugin,
                    f.display(),
                    more(plugin.len())
                )),
                (None, None) => None,
            }
        };
        if let Some(why) = reason {
            out.push((c.alias.to_string(), why));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let repo = Path::new("/r");
        let c = |alias: &'static str| Candidate {
            alias,
            plugin: "terraform",
            plugin_dir: (alias == "net").then(|| PathBuf::from("/plugins/terraform")),
            linked: match alias {
                "app" => vec![PathBuf::from("/r/_shared/app")],
                _ => Vec::new(),
            },
        };
        let all = [c("net"), c("db"), c("app")];
        let files = |list: &[&str]| -> Vec<PathBuf> { list.iter().map(PathBuf::from).collect() };
        let pick = |f: &[&str]| changed(&files(f), repo, "dev", "_default", &all);
        assert_eq!(
            pick(&[
                "/r/dev/db/main.tf",
                "/r/dev/db/vars.tf",
                "/r/prod/net/main.tf"
            ]),
            vec![(
                "db".to_string(),
                "dev/db/main.tf changed and 1 more".to_string()
            )]
        );
        assert_eq!(pick(&["/r/_default/bitops.config.yaml"]).len(), 3);
        assert_eq!(pick(&["/r/dev/bitops.config.yaml"]).len(), 3);
        assert_eq!(pick(&["/r/_default/app/values.yaml"])[0].0, "app");
        assert_eq!(
            pick(&["/plugins/terraform/deploy.sh"]),
            vec![(
                "net".to_string(),
                "plugin `terraform` changed (/plugins/terraform/deploy.sh)".to_string()
            )]
        );
        assert!(pick(&["/r/README.md", "/r/_default/other/x"]).is_empty());
        assert_eq!(
            pick(&["/r/_shared/app/main.tf"]),
            vec![("app".to_string(), "_shared/app/main.tf changed".to_string())]
        );
    }
}
