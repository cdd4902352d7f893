//! Which deployments a run takes: `--only`, `--skip`, `--changed-since` and
//! `--with-deps`, each chosen step with the reason it was chosen. Pure: the changed
//! deployments come in as data (see `plan::changed`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::names;
use crate::config::settings::Deployment;
use crate::error::Problem;
use crate::plan::graph::Graph;

/// What a command asks to run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Choice<'a> {
    pub only: &'a [String],
    pub skip: &'a [String],
    /// With `--only`: also the steps the chosen ones depend on. With
    /// `--changed-since`: also the steps that depend on the changed ones.
    pub with_deps: bool,
    /// `--changed-since`: the changed deployments, each with why it counts as changed.
    pub changed: Option<&'a [(String, String)]>,
}

/// The chosen steps (indexes into the graph, ascending) and why each was chosen.
#[derive(Debug, Default)]
pub struct Selected {
    pub keep: Vec<usize>,
    pub reasons: BTreeMap<usize, String>,
}

/// Chooses the steps. An unknown alias in `--only`/`--skip` is a problem listing the
/// valid ones; so is a dependency that `--only` leaves out (declared edges only: the
/// listed order of a repo without `depends_on` is an order, not a need), unless
/// `--with-deps` brings it in.
pub fn select(
    graph: &Graph,
    deployments: &[Deployment],
    file: Option<&Path>,
    choice: &Choice,
    problems: &mut Vec<Problem>,
) -> Selected {
    let names_of = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect()
    };
    let (only, skip) = (names_of(choice.only), names_of(choice.skip));
    let mut unknown = false;
    for (flag, list) in [("--only", &only), ("--skip", &skip)] {
        for name in list.iter().filter(|n| graph.index_of(n).is_none()) {
            unknown = true;
            problems.push(
                Problem::error(format!("{flag}: there is no deployment `{name}`"))
                    .hint(names::choices_hint(name, &graph.aliases, "deployments")),
            );
        }
    }
    if unknown {
        return Selected::default();
    }
    let all = 0..graph.aliases.len();
    let mut reasons: BTreeMap<usize, String> = BTreeMap::new();
    let only_set: Vec<usize> = only.iter().filter_map(|n| graph.index_of(n)).collect();
    for i in all.clone() {
        let listed = only_set.is_empty() || only_set.contains(&i);
        let changed = match choice.changed {
            None => Some(if only_set.is_empty() {
                "listed".to_string()
            } else {
                "--only".to_string()
            }),
            Some(changed) => changed
                .iter()
                .find(|(a, _)| *a == graph.aliases[i])
                .map(|(_, why)| why.clone()),
        };
        if let (true, Some(why)) = (listed, changed) {
            reasons.insert(i, why);
        }
    }
    if choice.with_deps {
        let chosen: Vec<usize> = reasons.keys().copied().collect();
        for i in chosen {
            if choice.changed.is_some() {
                for d in graph.descendants(i) {
                    reasons.entry(d).or_insert_with(|| {
                        format!("depends on `{}` (--with-deps)", graph.aliases[i])
                    });
                }
            } else if graph.declared {
                for a in graph.ancestors(i) {
                    reasons.entry(a).or_insert_with(|| {
                        format!("`{}` depends on it (--with-deps)", graph.aliases[i])
                    });
                }
            }
        }
    }
    for name in &skip {
        if let Some(i) = graph.index_of(name) {
            reasons.remove(&i);
        }
    }
    if !only_set.is_empty() && !choice.with_deps && graph.declared {
        for &i in reasons.keys() {
            for &d in &graph.deps[i] {
                if reasons.contains_key(&d) || skip.contains(&graph.aliases[d]) {
                    continue;
                }
                let (alias, needed) = (&graph.aliases[i], &graph.aliases[d]);
                let dep = deployments.iter().find(|x| x.alias == *alias);
                let line = dep
                    .and_then(|x| x.depends_on.as_ref())
                    .and_then(|list| list.iter().find(|(n, _)| n == needed))
                    .map(|(_, l)| *l);
                let mut p = Problem::error(format!(
                    "`{alias}` depends on `{needed}`, which --only leaves out"
                ))
                .key(format!("bitops.deployments.{alias}.depends_on"))
                .hint(format!(
                    "add --with-deps to run `{needed}` (and what it depends on) too, add it to --only, or --skip it to run `{alias}` without it"
                ));
                p.file = file.map(Path::to_path_buf);
                p.line = line.filter(|l| *l > 0);
                problems.push(p);
            }
        }
    }
    Selected {
        keep: reasons.keys().copied().collect(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps() -> Vec<Deployment> {
        let d = |alias: &str, on: &[&str]| Deployment {
            alias: alias.into(),
            plugin: "p".into(),
            line: 0,
            timeout: None,
            depends_on: Some(on.iter().map(|a| (a.to_string(), 3)).collect()),
        };
        vec![
            d("net", &[]),
            d("db", &["net"]),
            d("app", &["db"]),
            d("dns", &[]),
        ]
    }

    fn run(choice: Choice) -> (Vec<usize>, Vec<String>) {
        let deployments = deps();
        let mut problems = Vec::new();
        let g = Graph::of(&deployments, None, &mut problems);
        let s = select(&g, &deployments, None, &choice, &mut problems);
        (s.keep, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn only_cuts_or_pulls_dependencies() {
        let only = vec!["app".to_string()];
        let (keep, problems) = run(Choice {
            only: &only,
            ..Choice::default()
        });
        assert_eq!(keep, vec![2]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`app` depends on `db`, which --only leaves out"));
        let (keep, problems) = run(Choice {
            only: &only,
            with_deps: true,
            ..Choice::default()
        });
        assert_eq!((keep, problems.len()), (vec![0, 1, 2], 0));
        let skip = vec!["db".to_string()];
        let (keep, problems) = run(Choice {
            only: &only,
            skip: &skip,
            ..Choice::default()
        });
        assert_eq!((keep, problems.len()), (vec![2], 0));
    }

    #[test]
    fn changed_with_dependents() {
        let changed = vec![("db".to_string(), "db/main.tf changed".to_string())];
        let (keep, problems) = run(Choice {
            changed: Some(&changed),
            ..Choice::default()
        });
        assert_eq!((keep, problems.len()), (vec![1], 0));
        let (keep, _) = run(Choice {
            changed: Some(&changed),
            with_deps: true,
            ..Choice::default()
        });
        assert_eq!(keep, vec![1, 2]);
    }
}
