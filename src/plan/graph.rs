//! The order of a run: which step waits for which. Without any `depends_on` in the
//! environment's deployments, each step waits for the one listed before it (the order
//! BitOps runs them in); with one anywhere, only the declared edges order the steps.
//! Pure data: built from the settings, checked for unknown aliases and cycles.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::config::settings::Deployment;
use crate::error::Problem;

#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// The steps, in the order the config lists them.
    pub aliases: Vec<String>,
    /// `deps[i]`: the steps step `i` waits for (indexes into `aliases`), ascending.
    pub deps: Vec<Vec<usize>>,
    /// Whether the edges were declared (`depends_on`), or are the listed order. Only a
    /// declared edge skips a step whose dependency failed; the listed order only orders.
    pub declared: bool,
}

impl Graph {
    /// The graph of `deployments`; an unknown alias, a step that depends on itself and a
    /// cycle are problems (with the file and line of the `depends_on` entry), and their
    /// edges are left out, so what is returned has no cycle.
    pub fn of(
        deployments: &[Deployment],
        file: Option<&Path>,
        problems: &mut Vec<Problem>,
    ) -> Graph {
        let aliases: Vec<String> = deployments.iter().map(|d| d.alias.clone()).collect();
        let declared = deployments.iter().any(|d| d.depends_on.is_some());
        if !declared {
            let deps = (0..aliases.len())
                .map(|i| if i == 0 { Vec::new() } else { vec![i - 1] })
                .collect();
            return Graph {
                aliases,
                deps,
                declared,
            };
        }
        let at = |p: Problem, line: usize| -> Problem {
            let mut p = p;
            p.file = file.map(Path::to_path_buf);
            p.line = (line > 0).then_some(line);
            p
        };
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); aliases.len()];
        // The line of each edge, for messages about cycles.
        let mut lines = std::collections::HashMap::new();
        // The first deployment of each alias, as a scan of `aliases` would find it.
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (i, a) in aliases.iter().enumerate() {
            index.entry(a.as_str()).or_insert(i);
        }
        // Each unknown name once, with every deployment that names it (and its line).
        let mut unknown: Vec<(&str, Vec<(&str, usize)>)> = Vec::new();
        for (i, dep) in deployments.iter().enumerate() {
            let key = format!("bitops.deployments.{}.depends_on", dep.alias);
            for (name, line) in dep.depends_on.iter().flatten() {
                match index.get(name.as_str()).copied() {
                    Some(j) if j == i => problems.push(at(
                        Problem::error(format!("deployment `{name}` depends on itself"))
                            .key(key.clone())
                            .hint("remove it from its own `depends_on`"),
                        *line,
                    )),
                    Some(j) => {
                        if !deps[i].contains(&j) {
                            deps[i].push(j);
                            lines.insert((i, j), *line);
                        }
                    }
                    None => match unknown.iter_mut().find(|(n, _)| *n == name.as_str()) {
                        Some((_, users)) => users.push((dep.alias.as_str(), *line)),
                        None => unknown.push((name.as_str(), vec![(dep.alias.as_str(), *line)])),
                    },
                }
            }
            deps[i].sort_unstable();
        }
        for (name, users) in &unknown {
            let (first, line) = users[0];
            let message = match users.len() {
                1 => format!(
                    "`{first}` depends on `{name}`, which is not a deployment of this environment"
                ),
                n => {
                    const SHOWN: usize = 5;
                    let mut list: Vec<String> = users
                        .iter()
                        .take(SHOWN)
                        .map(|(a, l)| format!("`{a}` (line {l})"))
                        .collect();
                    if n > SHOWN {
                        list.push(format!("{} more", n - SHOWN));
                    }
                    format!(
                        "`{name}` is not a deployment of this environment, and {n} deployments depend on it: {}",
                        list.join(", ")
                    )
                }
            };
            problems.push(at(
                Problem::error(message)
                    .key(format!("bitops.deployments.{first}.depends_on"))
                    .hint(crate::config::names::choices_hint(
                        name,
                        &aliases,
                        "deployments",
                    )),
                line,
            ));
        }
        let mut graph = Graph {
            aliases,
            deps,
            declared,
        };
        while let Some(cycle) = graph.find_cycle() {
            // The edge that closes the cycle: from its last step to its first.
            let (from, to) = (cycle[cycle.len() - 2], cycle[cycle.len() - 1]);
            let path: Vec<&str> = cycle.iter().map(|&i| graph.aliases[i].as_str()).collect();
            problems.push(at(
                Problem::error(format!(
                    "the deployments depend on each other in a cycle: {} (each depends on the next)",
                    path.join(" → ")
                ))
                    .key(format!("bitops.deployments.{}.depends_on", graph.aliases[from]))
                    .hint("a step can only wait for steps that do not wait for it: remove one of these dependencies"),
                lines.get(&(from, to)).copied().unwrap_or(0),
            ));
            graph.deps[from].retain(|&d| d != to);
        }
        graph
    }

    /// A cycle as the steps along it, the first repeated at the end; `None` when there
    /// is none.
    fn find_cycle(&self) -> Option<Vec<usize>> {
        // 0: not seen, 1: on the current path, 2: done.
        let mut mark = vec![0u8; self.aliases.len()];
        for start in 0..self.aliases.len() {
            if mark[start] != 0 {
                continue;
            }
            // An explicit stack of (step, next dependency to look at).
            let mut stack = vec![(start, 0usize)];
            mark[start] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&dep) = self.deps[node].get(*next) {
                    *next += 1;
                    match mark[dep] {
                        0 => {
                            mark[dep] = 1;
                            stack.push((dep, 0));
                        }
                        1 => {
                            // `dep` is on the path: the cycle runs from it to `node`
                            // and back. Edges point to dependencies, so the cycle read
                            // the other way is the order of waiting.
                            let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                            let mut cycle: Vec<usize> =
                                stack[from..].iter().map(|(n, _)| *n).collect();
                            cycle.push(dep);
                            return Some(cycle);
                        }
                        _ => {}
                    }
                } else {
                    mark[node] = 2;
                    stack.pop();
                }
            }
        }
        None
    }

    /// In JSON: `{"declared": …, "edges": [[dependency, dependent], …], "levels": [[alias, …], …]}`.
    pub fn serialize_summary<S: serde::Serializer>(g: &Graph, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Summary {
            declared: bool,
            edges: Vec<(String, String)>,
            levels: Vec<Vec<String>>,
        }
        Summary {
            declared: g.declared,
            edges: g.edges(),
            levels: g
                .levels()
                .iter()
                .map(|l| l.iter().map(|&i| g.aliases[i].clone()).collect())
                .collect(),
        }
        .serialize(s)
    }

    pub fn index_of(&self, alias: &str) -> Option<usize> {
        self.aliases.iter().position(|a| a == alias)
    }

    /// Every step that `i` waits for, directly or through others.
    pub fn ancestors(&self, i: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut todo = self.deps[i].clone();
        while let Some(d) = todo.pop() {
            if seen.insert(d) {
                todo.extend(&self.deps[d]);
            }
        }
        seen
    }

    /// Every step that waits for `i`, directly or through others.
    pub fn descendants(&self, i: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![i];
        while let Some(n) = todo.pop() {
            for (j, deps) in self.deps.iter().enumerate() {
                if deps.contains(&n) && seen.insert(j) {
                    todo.push(j);
                }
            }
        }
        seen
    }

    /// The graph of the steps in `keep` (ascending indexes): a step waits for the kept
    /// steps it waited for, also through steps that were left out.
    pub fn restricted(&self, keep: &[usize]) -> Graph {
        // Where each step is in `keep`: one lookup per edge, not a scan of `keep`.
        let mut position = vec![None; self.aliases.len()];
        for (pos, &k) in keep.iter().enumerate() {
            position[k] = Some(pos);
        }
        let deps = keep
            .iter()
            .map(|&i| {
                let mut direct = BTreeSet::new();
                let mut todo = self.deps[i].clone();
                let mut seen = BTreeSet::new();
                while let Some(d) = todo.pop() {
                    if !seen.insert(d) {
                        continue;
                    }
                    match position[d] {
                        Some(pos) => {
                            direct.insert(pos);
                        }
                        None => todo.extend(&self.deps[d]),
                    }
                }
                direct.into_iter().collect()
            })
            .collect();
        Graph {
            aliases: keep.iter().map(|&i| self.aliases[i].clone()).collect(),
            deps,
            declared: self.declared,
        }
    }

    /// The steps in levels: each level's steps wait only for steps of earlier levels,
    /// so the steps of one level can run together. In listed order within a level.
    pub fn levels(&self) -> Vec<Vec<usize>> {
        // In rounds (Kahn): a round is the steps whose last dependency was in the one
        // before; each edge is looked at once, so a long chain is not quadratic.
        let n = self.aliases.len();
        let mut waiting: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, deps) in self.deps.iter().enumerate() {
            for &d in deps {
                dependents[d].push(i);
            }
        }
        let mut placed = vec![false; n];
        let mut levels: Vec<Vec<usize>> = Vec::new();
        let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
        while !ready.is_empty() {
            let mut next = Vec::new();
            for &i in &ready {
                placed[i] = true;
                for &j in &dependents[i] {
                    waiting[j] -= 1;
                    if waiting[j] == 0 {
                        next.push(j);
                    }
                }
            }
            next.sort_unstable();
            levels.push(std::mem::replace(&mut ready, next));
        }
        // Only with a cycle, which `of` removes: the rest in listed order.
        let rest: Vec<usize> = (0..n).filter(|&i| !placed[i]).collect();
        if !rest.is_empty() {
            levels.push(rest);
        }
        levels
    }

    /// Every edge as (dependency, dependent), by aliases.
    pub fn edges(&self) -> Vec<(String, String)> {
        self.deps
            .iter()
            .enumerate()
            .flat_map(|(i, deps)| {
                deps.iter()
                    .map(move |&d| (self.aliases[d].clone(), self.aliases[i].clone()))
            })
            .collect()
    }

    /// A Mermaid flowchart of the graph (GitHub renders it in Markdown).
    pub fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let id = |i: usize| format!("s{i}");
        for (i, alias) in self.aliases.iter().enumerate() {
            out.push_str(&format!(
                "  {}[\"{}\"]\n",
                id(i),
                alias.replace('"', "#quot;")
            ));
        }
        for (i, deps) in self.deps.iter().enumerate() {
            for &d in deps {
                out.push_str(&format!("  {} --> {}\n", id(d), id(i)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(alias: &str, depends_on: Option<&[&str]>) -> Deployment {
        Deployment {
            alias: alias.into(),
            plugin: alias.into(),
            line: 0,
            timeout: None,
            depends_on: depends_on.map(|d| d.iter().map(|a| (a.to_string(), 7)).collect()),
        }
    }

    #[test]
    fn listed_order_without_depends_on() {
        let mut problems = Vec::new();
        let g = Graph::of(
            &[dep("a", None), dep("b", None), dep("c", None)],
            None,
            &mut problems,
        );
        assert!(problems.is_empty());
        assert!(!g.declared);
        assert_eq!(g.levels(), vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn declared_edges_make_levels() {
        let mut problems = Vec::new();
        let g = Graph::of(
            &[
                dep("net", Some(&[])),
                dep("db", Some(&["net"])),
                dep("cluster", Some(&["net"])),
                dep("app", Some(&["cluster", "db"])),
                dep("dns", None),
            ],
            None,
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(g.levels(), vec![vec![0, 4], vec![1, 2], vec![3]]);
        assert_eq!(
            g.ancestors(3).into_iter().collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(
            g.descendants(0).into_iter().collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        // Without `db` and `cluster`, `app` still waits for `net`.
        let r = g.restricted(&[0, 3]);
        assert_eq!(r.deps, vec![vec![], vec![0]]);
    }

    #[test]
    fn cycles_are_named_and_removed() {
        let mut problems = Vec::new();
        let g = Graph::of(
            &[
                dep("a", Some(&["c"])),
                dep("b", Some(&["a"])),
                dep("c", Some(&["b"])),
            ],
            None,
            &mut problems,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        let text = problems[0].to_string();
        assert!(text.contains("cycle: a → c → b → a"), "{text}");
        assert_eq!(g.levels().concat().len(), 3);
    }

    #[test]
    fn unknown_and_self() {
        let mut problems = Vec::new();
        Graph::of(&[dep("net", Some(&["nte", "net"]))], None, &mut problems);
        let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(
            texts
                .iter()
                .any(|t| t.contains("`net` depends on `nte`, which is not a deployment")),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("depends on itself")),
            "{texts:?}"
        );
    }
}
