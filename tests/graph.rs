//! The dependency graph with real processes: `depends_on`, `--parallel`, the output of
//! steps running at once, fail-fast with running steps, outputs between steps,
//! `--only`/`--with-deps`, `--changed-since`, and the graph in plans and reports.
//! Each step's script logs when it started and ended (nanoseconds), so overlap and
//! order are facts read from the log, not guesses from durations.

use std::collections::BTreeMap;

use crate::test::{Run, Test, probe_schema, unindent};

/// A deploy script that logs `<alias> start <ns>` and `<alias> end <ns>`, prints two
/// lines, and sleeps `$SLEEP` (0.4 s) in between; in a tool folder holding a file
/// `fail`, it fails with exit 5 after the sleep; holding `hang`, it sleeps 30 s and
/// logs the TERM it gets.
const TIMED: &str = r#"
log() { echo "$BITOPS_DEPLOYMENT_ALIAS $1 $(date +%s%N)" >> "$PROBE_LOG"; }
log start
echo "$BITOPS_DEPLOYMENT_ALIAS: first line"
if [ -e hang ]; then
  trap 'echo "$BITOPS_DEPLOYMENT_ALIAS got TERM" >> "$PROBE_LOG"; exit 143' TERM
  log ready
  sleep 30 & wait
fi
sleep "${SLEEP:-0.4}"
echo "$BITOPS_DEPLOYMENT_ALIAS: second line"
log end
if [ -e fail ]; then exit 5; fi
"#;

/// Environment `dev` with `deployments` (the YAML under `deployments:`) and a probe
/// tool folder for each alias.
fn graph(deployments: &str, aliases: &[&str]) -> Test {
    let mut t = Test::new()
        .write("plugins/probe/bitops.schema.yaml", &probe_schema("", ""))
        .write("plugins/probe/deploy.sh", TIMED)
        .write(
            "repo/dev/bitops.config.yaml",
            &format!("bitops:\n  deployments:\n{}", indent(deployments, 4)),
        );
    for alias in aliases {
        t = t.write(
            &format!("repo/dev/{alias}/bitops.config.yaml"),
            "probe: {}\n",
        );
    }
    t
}

fn indent(text: &str, by: usize) -> String {
    unindent(text)
        .lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

/// When each step started and ended, from the log (nanoseconds).
fn times(run: &Run) -> BTreeMap<String, (u128, u128)> {
    let mut out: BTreeMap<String, (u128, u128)> = BTreeMap::new();
    for line in run.log().lines() {
        let words: Vec<&str> = line.split(' ').collect();
        if let [alias, what @ ("start" | "end"), ns] = words[..] {
            let ns: u128 = ns.parse().unwrap();
            let entry = out.entry(alias.to_string()).or_default();
            if what == "start" {
                entry.0 = ns;
            } else {
                entry.1 = ns;
            }
        }
    }
    out
}

fn overlap(a: (u128, u128), b: (u128, u128)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// The most steps running at one moment.
fn most_at_once(t: &BTreeMap<String, (u128, u128)>) -> usize {
    t.values()
        .map(|&(s, _)| t.values().filter(|&&(a, b)| a <= s && s < b).count())
        .max()
        .unwrap_or(0)
}

fn report(run: &Run) -> serde_json::Value {
    let text = std::fs::read_to_string(run.root.join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Each step of the report: alias → status.
fn statuses(run: &Run) -> Vec<(String, String)> {
    report(run)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["alias"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const DIAMOND: &str = "
    net: {plugin: probe, depends_on: []}
    db: {plugin: probe, depends_on: [net]}
    cluster: {plugin: probe, depends_on: [net]}
    cache: {plugin: probe, depends_on: [net]}
    app: {plugin: probe, depends_on: [db, cluster, cache]}
";

#[test]
fn without_depends_on_steps_run_one_after_another_as_listed_even_with_parallel() {
    let run = graph(
        "a: {plugin: probe}\nb: {plugin: probe}\nc: {plugin: probe}\n",
        &["a", "b", "c"],
    )
    .env("SLEEP", "0.2")
    .cmd("deploy", "dev")
    .args(&["--parallel", "3"])
    .run();
    run.code(0);
    let t = times(&run);
    assert!(t["a"].1 <= t["b"].0 && t["b"].1 <= t["c"].0, "{t:?}");
    // Unmarked output, as with one step at a time.
    run.stdout_is(
        "a: first line\na: second line\nb: first line\nb: second line\nc: first line\nc: second line\n",
    );
    run.stderr_has("[1/3] a (plugin probe)\n  deploy script: bash <root>/plugins/probe/deploy.sh plan\n[1/3] a ok in <t>\n[2/3] b (plugin probe)\n")
        .stderr_lacks("│");
}

#[test]
fn ready_steps_run_together_up_to_parallel_and_dependents_wait() {
    let run = graph(DIAMOND, &["net", "db", "cluster", "cache", "app"])
        .cmd("deploy", "dev")
        .args(&[
            "--parallel",
            "2",
            "--report",
            "report.json",
            "--output",
            "grouped",
        ])
        .run();
    run.code(0);
    let t = times(&run);
    for middle in ["db", "cluster", "cache"] {
        assert!(
            t["net"].1 <= t[middle].0,
            "{middle} started before net ended: {t:?}"
        );
        assert!(
            t[middle].1 <= t["app"].0,
            "app started before {middle} ended: {t:?}"
        );
    }
    // Two of the three middle steps ran at once, never three.
    assert!(overlap(t["db"], t["cluster"]), "{t:?}");
    assert_eq!(most_at_once(&t), 2, "{t:?}");
    // The report's times say the same, to the millisecond.
    let r = report(&run);
    let at = |alias: &str, field: &str| -> String {
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["alias"] == alias)
            .unwrap()[field]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(at("db", "started_at") < at("cluster", "finished_at"));
    assert!(at("cluster", "started_at") < at("db", "finished_at"));
    assert!(at("net", "finished_at") <= at("db", "started_at"));
    let needs: Vec<&str> = r["steps"][4]["needs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(needs, ["db", "cluster", "cache"]);
    // Grouped: each step's output whole, in the order the steps ended.
    let stdout = run.stdout();
    for alias in ["net", "db", "cluster", "cache", "app"] {
        assert!(
            stdout.contains(&format!("{alias}: first line\n{alias}: second line\n")),
            "{stdout}"
        );
    }
    let stderr = run.stderr();
    for alias in ["db", "cluster", "cache"] {
        let header = stderr.find(&format!("] {alias} (plugin probe)\n")).unwrap();
        let result = stderr.find(&format!("] {alias} ok in")).unwrap();
        let between = &stderr[header..result];
        assert_eq!(between.lines().count(), 3, "not whole: {between:?}");
    }
}

#[test]
fn prefixed_output_marks_every_line_with_its_step() {
    let run = graph(
        "left: {plugin: probe, depends_on: []}\nright: {plugin: probe, depends_on: []}\n",
        &["left", "right"],
    )
    .cmd("deploy", "dev")
    .args(&["--parallel", "2"])
    .run();
    run.code(0);
    let t = times(&run);
    assert!(overlap(t["left"], t["right"]), "{t:?}");
    let mut lines: Vec<String> = run.stdout().lines().map(String::from).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "left  │ left: first line",
            "left  │ left: second line",
            "right │ right: first line",
            "right │ right: second line",
        ]
    );
    let mut narration: Vec<String> = run.stderr().lines().take(6).map(String::from).collect();
    narration.sort();
    assert_eq!(
        narration,
        [
            "left  │   deploy script: bash <root>/plugins/probe/deploy.sh plan",
            "left  │ [1/2] left (plugin probe)",
            "left  │ [1/2] left ok in <t>",
            "right │   deploy script: bash <root>/plugins/probe/deploy.sh plan",
            "right │ [2/2] right (plugin probe)",
            "right │ [2/2] right ok in <t>",
        ]
    );
    run.stderr_has("  2 ok in <t>\n");
}

#[test]
fn under_github_actions_each_step_is_one_whole_group() {
    let run = graph(
        "left: {plugin: probe, depends_on: []}\nright: {plugin: probe, depends_on: []}\nlast: {plugin: probe, depends_on: [left, right]}\n",
        &["left", "right", "last"],
    )
    .env("GITHUB_ACTIONS", "true")
    .env("GITHUB_STEP_SUMMARY", "summary.md")
    .cmd("deploy", "dev")
    .args(&["--parallel", "2"])
    .run();
    run.code(0);
    run.stderr_is("");
    let t = times(&run);
    assert!(overlap(t["left"], t["right"]), "{t:?}");
    // Between a group's start and end: that step's lines only.
    let stdout = run.stdout();
    let mut groups = 0;
    for block in stdout.split("::group::").skip(1) {
        let (inside, _) = block.split_once("::endgroup::").unwrap();
        let alias = inside.split_whitespace().nth(1).unwrap();
        assert!(
            inside.contains(&format!("{alias}: first line\n{alias}: second line\n")),
            "{inside}"
        );
        for line in inside.lines().skip(1) {
            assert!(
                line.contains(alias) || line.starts_with("  deploy script"),
                "a line of another step in the group of {alias}: {line}"
            );
        }
        groups += 1;
    }
    assert_eq!(groups, 3, "{stdout}");
    // The job summary draws the graph.
    let summary = std::fs::read_to_string(run.root.join("summary.md")).unwrap();
    assert!(
        summary.contains(
            "```mermaid\nflowchart LR\n  s1[\"✅ left\"]\n  s2[\"✅ right\"]\n  s3[\"✅ last\"]\n  s1 --> s3\n  s2 --> s3\n```\n"
        ),
        "{summary}"
    );
}

#[test]
fn fail_fast_cancels_the_running_steps_and_starts_nothing_more() {
    let run = graph(
        "a: {plugin: probe, depends_on: []}\nslow: {plugin: probe, depends_on: []}\nafter: {plugin: probe, depends_on: [a]}\n",
        &["a", "slow", "after"],
    )
    .write("repo/dev/a/fail", "")
    .write("repo/dev/slow/hang", "")
    .env("SLEEP", "0.3")
    .cmd("deploy", "dev")
    .args(&["--parallel", "2", "--report", "report.json", "--grace-period", "5s"])
    .run();
    run.code(5);
    assert_eq!(
        statuses(&run),
        [
            ("a".to_string(), "failed".to_string()),
            ("slow".into(), "cancelled".into()),
            ("after".into(), "not_run".into()),
        ]
    );
    assert!(run.log().contains("slow got TERM\n"), "{}", run.log());
    run.stdout_has("a: first line\n");
    run.stderr_has("[1/3] a failed (deploy script, exit 5) after <t>\n")
        .stderr_has("[2/3] slow cancelled (deploy script; another step failed) after <t>\n")
        .stderr_has("1 failed, 1 cancelled, 1 not run in <t>\n")
        .stderr_has("error: deploy script of `a` failed with exit code 5; the run stopped there (fail_fast)\n");
}

#[test]
fn without_fail_fast_the_dependents_of_a_failed_step_are_skipped_and_the_others_run() {
    let run = graph(
        "a: {plugin: probe, depends_on: []}\nb: {plugin: probe, depends_on: [a]}\nc: {plugin: probe, depends_on: [b]}\nfree: {plugin: probe, depends_on: []}\n",
        &["a", "b", "c", "free"],
    )
    .write("repo/dev/a/fail", "")
    .env("BITOPS_FAIL_FAST", "false")
    .env("SLEEP", "0.1")
    .cmd("deploy", "dev")
    .args(&["--parallel", "2", "--report", "report.json"])
    .run();
    run.code(1);
    assert_eq!(
        statuses(&run),
        [
            ("a".to_string(), "failed".to_string()),
            ("b".into(), "skipped".into()),
            ("c".into(), "skipped".into()),
            ("free".into(), "ok".into()),
        ]
    );
    assert_eq!(
        report(&run)["steps"][2]["reason"],
        "dependency `b` did not succeed"
    );
    run.stdout_any("output of a and free, interleaved");
    run.stderr_has("warning: dependency `a` did not succeed; skipping `b`\n")
        .stderr_has("warning: dependency `b` did not succeed; skipping `c`\n")
        .stderr_has("1 ok, 1 failed, 2 skipped in <t>\n");
}

#[test]
fn unknown_aliases_and_cycles_are_plan_errors_at_their_lines() {
    let run = graph(
        "a: {plugin: probe, depends_on: [c]}\nb:\n  plugin: probe\n  depends_on:\n    - a\n    - nett\nc: {plugin: probe, depends_on: [b]}\n",
        &["a", "b", "c"],
    )
    .cmd("plan", "dev")
    .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_is(
        "error: repo/dev/bitops.config.yaml:8: `bitops.deployments.b.depends_on`: `b` depends on `nett`, which is not a deployment of this environment\n  hint: deployments: a, b, c\nerror: repo/dev/bitops.config.yaml:7: `bitops.deployments.b.depends_on`: the deployments depend on each other in a cycle: a → c → b → a (each depends on the next)\n  hint: a step can only wait for steps that do not wait for it: remove one of these dependencies\n2 errors found; nothing was run\n",
    );
}

#[test]
fn only_may_not_cut_a_dependency_and_with_deps_brings_it_in() {
    let t = || graph(DIAMOND, &["net", "db", "cluster", "cache", "app"]);
    let run = t().cmd("deploy", "dev").args(&["--only", "db"]).run();
    run.code(1);
    run.stdout_is("");
    run.stderr_is("error: repo/dev/bitops.config.yaml:4: `bitops.deployments.db.depends_on`: `db` depends on `net`, which --only leaves out\n  hint: add --with-deps to run `net` (and what it depends on) too, add it to --only, or --skip it to run `db` without it\n");
    assert_eq!(run.log(), "");
    let run = t()
        .cmd("plan", "dev")
        .args(&["--only", "db", "--with-deps"])
        .run();
    run.code(0);
    run.stderr_is("");
    run.stdout_has("Order (2 levels; the steps of a level can run at once with --parallel):\n  1. net\n  2. db\n\n[1/2] net (plugin probe)\n  selected      `db` depends on it (--with-deps)\n")
        .stdout_has("[2/2] db (plugin probe)\n  selected      --only\n  needs         net\n");
    // --skip says the dependency is there already.
    let run = t()
        .cmd("deploy", "dev")
        .args(&["--only", "db", "--skip", "net"])
        .run();
    run.code(0);
    run.stdout_is("db: first line\ndb: second line\n");
    run.stderr_has("[1/1] db ok in <t>\n");
}

#[test]
fn plan_shows_the_levels_the_edges_and_a_mermaid_graph() {
    let t = || graph(DIAMOND, &["net", "db", "cluster", "cache", "app"]);
    let run = t().cmd("plan", "dev").run();
    run.code(0);
    run.stderr_is("");
    run.stdout_has("Plan for environment `dev` of repo: 5 deployments, fail_fast on\nOrder (3 levels; the steps of a level can run at once with --parallel):\n  1. net\n  2. db, cluster, cache\n  3. app\n\n[1/5] net (plugin probe)\n  folder ")
        .stdout_has("[5/5] app (plugin probe)\n  needs         db, cluster, cache\n");
    let run = t().cmd("plan", "dev").args(&["--format", "json"]).run();
    run.code(0);
    run.stderr_is("");
    let plan: serde_json::Value = serde_json::from_str(run.stdout_text()).unwrap();
    assert_eq!(
        plan["graph"],
        serde_json::json!({
            "declared": true,
            "edges": [["net", "db"], ["net", "cluster"], ["net", "cache"], ["db", "app"], ["cluster", "app"], ["cache", "app"]],
            "levels": [["net"], ["db", "cluster", "cache"], ["app"]]
        })
    );
    let run = t().cmd("plan", "dev").args(&["--format", "mermaid"]).run();
    run.code(0);
    run.stderr_is("");
    run.stdout_is("flowchart LR\n  s0[\"net\"]\n  s1[\"db\"]\n  s2[\"cluster\"]\n  s3[\"cache\"]\n  s4[\"app\"]\n  s0 --> s1\n  s0 --> s2\n  s0 --> s3\n  s1 --> s4\n  s2 --> s4\n  s3 --> s4\n");
}

/// A step `net` publishing outputs, and `app` depending on it, reading them.
fn publishing() -> Test {
    let net = r#"
        echo 'ip=10.0.0.1' >> "$BITOPS_OUTPUTS"
        echo '{"token": {"value": "tok-98765-secret", "sensitive": true, "type": "string"}, "ports": [80, 443]}' >> "$BITOPS_OUTPUTS"
        echo "net published"
    "#;
    let app = r#"
        echo "app name=$PROBE_NAME ip=$BITOPS_OUT_NET_IP ports=$BITOPS_OUT_NET_PORTS" >> "$PROBE_LOG"
        cat "$BITOPS_INPUTS" >> "$PROBE_LOG"
        echo "app token is $BITOPS_OUT_NET_TOKEN"
    "#;
    let schema = probe_schema("", "").replace(
        "parameter: name}",
        "parameter: name, export_env: PROBE_NAME}",
    );
    Test::new()
        .write("plugins/probe/bitops.schema.yaml", &schema)
        .write(
            "plugins/probe/deploy.sh",
            "cd \"$BITOPS_OPSREPO_ENVIRONMENT_DIR\" && . ./step.sh\n",
        )
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    net: {plugin: probe}\n    app:\n      plugin: probe\n      depends_on: [net]\n",
        )
        .write("repo/dev/net/bitops.config.yaml", "probe: {}\n")
        .write("repo/dev/net/step.sh", &unindent(net))
        .write(
            "repo/dev/app/bitops.config.yaml",
            "probe:\n  cli:\n    name: \"host-${{ outputs.net.ip }}\"\n",
        )
        .write("repo/dev/app/step.sh", &unindent(app))
}

#[test]
fn outputs_reach_the_steps_that_depend_on_them_and_secrets_stay_masked() {
    let run = publishing()
        .cmd("deploy", "dev")
        .args(&["--report", "report.json"])
        .run();
    run.code(0);
    run.log_is(
        r#"
        app name=host-10.0.0.1 ip=10.0.0.1 ports=[80,443]
        {
          "net": {
            "ip": "10.0.0.1",
            "ports": "[80,443]",
            "token": "tok-98765-secret"
          }
        }
        "#,
    );
    run.stdout_is("net published\napp token is *****\n");
    run.stderr_has("[2/2] app ok in <t>\n");
    run.output_lacks("tok-98765-secret");
    let r = report(&run);
    assert_eq!(
        r["steps"][0]["outputs"],
        serde_json::json!({"ip": "10.0.0.1", "ports": "[80,443]", "token": "*****"})
    );
    assert!(
        !std::fs::read_to_string(run.root.join("report.json"))
            .unwrap()
            .contains("tok-98765")
    );
}

#[test]
fn every_leaf_of_a_sensitive_structured_output_is_a_secret() {
    let t = publishing()
        .write(
            "repo/dev/net/step.sh",
            "echo '{\"db\": {\"value\": {\"user\": \"admin-7731\", \"password\": \"pa55-w0rd-xyz\", \"port\": 54321, \"hosts\": [\"db-a.internal\"]}, \"sensitive\": true, \"type\": \"object\"}, \"ip\": {\"value\": \"10.0.0.1\", \"sensitive\": false}}' >> \"$BITOPS_OUTPUTS\"\necho net published\n",
        )
        .write(
            "repo/dev/app/step.sh",
            // Each leaf printed alone, as `jq -r .password` would.
            "for k in user password port; do printf '%s=' \"$k\"; printf '%s' \"$BITOPS_OUT_NET_DB\" | sed -E \"s/.*\\\"$k\\\": *\\\"?([^\\\",}]*).*/\\1/\"; echo; done\necho \"host $(printf '%s' \"$BITOPS_OUT_NET_DB\" | grep -o 'db-a[.a-z]*')\"\n",
        )
        .env("BITOPS_LOGGING_FILENAME", "run");
    let root = t.root().display().to_string();
    let run = t
        .env("BITOPS_LOGGING_PATH", &root)
        .cmd("deploy", "dev")
        .args(&["--report", "report.json"])
        .run();
    run.code(0);
    run.stdout_is("net published\nuser=*****\npassword=*****\nport=*****\nhost *****\n");
    run.stderr_has("[2/2] app ok in <t>\n");
    for leaf in ["admin-7731", "pa55-w0rd-xyz", "54321", "db-a.internal"] {
        run.output_lacks(leaf);
        for file in ["report.json", "run.log"] {
            let text = std::fs::read_to_string(run.root.join(file)).unwrap();
            assert!(!text.contains(leaf), "{file} shows {leaf}:\n{text}");
        }
    }
}

#[test]
fn a_reference_must_name_a_dependency_and_a_published_output() {
    // Without depends_on, `app` may run before `net` published anything.
    let run = publishing()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    net: {plugin: probe, depends_on: []}\n    app: {plugin: probe, depends_on: []}\n",
        )
        .cmd("plan", "dev")
        .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_is("error: repo/dev/app/bitops.config.yaml:3: ${{ outputs.net.ip }} reads an output of `net`, but `app` does not depend on it: its outputs may not exist yet when `app` runs\n  hint: add `net` to `bitops.deployments.app.depends_on`\n");
    // An output `net` does not publish: `app` fails on its configuration, at the line.
    let run = publishing()
        .write(
            "repo/dev/app/bitops.config.yaml",
            "probe:\n  cli:\n    name: \"${{ outputs.net.vpc }}\"\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1);
    run.stdout_is("net published\n");
    run.stderr_has("error: repo/dev/app/bitops.config.yaml:3: ${{ outputs.net.vpc }} has no value: `net` published no output `vpc`\n  hint: it published: ip, ports, token\n[2/2] app failed (configuration, exit 1) after <t>\n");
}

#[test]
fn outputs_that_cannot_be_read_fail_their_step() {
    let run = publishing()
        .write(
            "repo/dev/net/step.sh",
            "echo 'not a pair' >> \"$BITOPS_OUTPUTS\"\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_has("error: the outputs `net` wrote to $BITOPS_OUTPUTS cannot be read: line 1: expected KEY=VALUE or a JSON object\n[1/2] net failed (outputs, exit 1) after <t>\n");
}

#[test]
fn steps_sharing_a_tool_folder_never_run_at_once() {
    let t = graph(
        "a: {plugin: probe, depends_on: []}\nb: {plugin: probe, depends_on: []}\n",
        &["a"],
    );
    std::os::unix::fs::symlink("a", t.root().join("repo/dev/b")).unwrap();
    let run = t
        .env("SLEEP", "0.3")
        .cmd("deploy", "dev")
        .args(&["--parallel", "2", "--output", "grouped"])
        .run();
    run.code(0);
    let t = times(&run);
    assert!(!overlap(t["a"], t["b"]), "{t:?}");
    run.stdout_is("a: first line\na: second line\nb: first line\nb: second line\n");
    run.stderr_has("  2 ok in <t>\n");
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The diamond in a git repository, committed, then `dev/db/main.tf` added and the
/// default folder's file of `cache` changed.
fn changed_repo() -> Test {
    let t = graph(DIAMOND, &["net", "db", "cluster", "cache", "app"])
        .write("repo/_default/cache/extra.yaml", "x: 1\n")
        .env("SLEEP", "0.1");
    let repo = t.root().join("repo");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "first"]);
    std::fs::write(repo.join("dev/db/main.tf"), "# new\n").unwrap();
    std::fs::write(repo.join("_default/cache/extra.yaml"), "x: 2\n").unwrap();
    t
}

#[test]
fn changed_since_runs_what_changed_and_says_why() {
    let run = changed_repo()
        .cmd("plan", "dev")
        .args(&["--changed-since", "HEAD"])
        .run();
    run.code(0);
    run.stderr_is("");
    run.stdout_has("Order (1 level; the steps of a level can run at once with --parallel):\n  1. db, cache\n\n[1/2] db (plugin probe)\n  selected      dev/db/main.tf changed\n")
        .stdout_has("[2/2] cache (plugin probe)\n  selected      _default/cache/extra.yaml changed\n");
    // With --with-deps, what depends on them runs too.
    let run = changed_repo()
        .cmd("deploy", "dev")
        .args(&["--changed-since", "HEAD", "--with-deps", "--parallel", "2"])
        .run();
    run.code(0);
    assert_eq!(
        times(&run).keys().cloned().collect::<Vec<_>>(),
        ["app", "cache", "db"]
    );
    run.stdout_any("the output of db, cache and app, prefixed");
    run.stderr_has("  3 ok in <t>\n");
    // A commit that does not exist: an error, nothing run.
    let run = changed_repo()
        .cmd("deploy", "dev")
        .args(&["--changed-since", "no-such-ref"])
        .run();
    run.code(1);
    run.stdout_is("");
    run.stderr_is("error: --changed-since no-such-ref: no such commit in <root>/repo\n  hint: give a commit, branch or tag of the repository (a shallow CI clone may lack it: fetch more history, e.g. fetch-depth: 0)\n");
    assert_eq!(run.log(), "");
}

#[test]
fn sigint_stops_every_running_step_and_says_so_once() {
    use std::io::Read;
    let t = graph(
        "a: {plugin: probe, depends_on: []}\nb: {plugin: probe, depends_on: []}\nc: {plugin: probe, depends_on: [a, b]}\n",
        &["a", "b", "c"],
    )
    .write("repo/dev/a/hang", "")
    .write("repo/dev/b/hang", "");
    let root = t.root().to_path_buf();
    let mut child = t
        .deploy_dev(&[
            "--color",
            "never",
            "--parallel",
            "2",
            "--report",
            "report.json",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Both steps running, each with its TERM trap set.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(root.join("log.txt"))
        .unwrap_or_default()
        .matches(" ready ")
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the steps never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let log = std::fs::read_to_string(root.join("log.txt")).unwrap();
    assert!(
        log.contains("a got TERM\n") && log.contains("b got TERM\n"),
        "{log}"
    );
    assert!(!log.contains("c start"), "{log}");
    assert_eq!(stderr.matches("SIGINT received").count(), 1, "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("report.json")).unwrap()).unwrap();
    let statuses: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["interrupted", "interrupted", "not_run"]);
    assert_eq!(report["status"], "interrupted");
}

#[test]
fn an_unknown_dependency_named_by_many_deployments_is_one_error() {
    let n = 300;
    let aliases: Vec<String> = (1..=n).map(|i| format!("d{i}")).collect();
    let deployments: String = aliases
        .iter()
        .map(|a| format!("{a}: {{plugin: probe, depends_on: [nope]}}\n"))
        .collect();
    let refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let run = graph(&deployments, &refs).cmd("validate", "dev").run();
    run.code(1);
    let stdout = run.stdout();
    assert_eq!(stdout.matches("error: ").count(), 1, "{stdout}");
    assert!(stdout.starts_with("error: repo/dev/bitops.config.yaml:3: `bitops.deployments.d1.depends_on`: `nope` is not a deployment of this environment, and 300 deployments depend on it: `d1` (line 3), `d2` (line 4), `d3` (line 5), `d4` (line 6), `d5` (line 7), 295 more\n"), "{stdout}");
    // One list of the deployments, not one per error: the output grows with n, not n².
    assert!(stdout.len() < 40 * n, "{} bytes", stdout.len());
}

#[test]
fn an_output_too_large_for_a_variable_reaches_its_dependents_as_a_file() {
    let run = publishing()
        .write(
            "repo/dev/net/step.sh",
            "echo ip=10.0.0.1 >> \"$BITOPS_OUTPUTS\"\nprintf 'big=' >> \"$BITOPS_OUTPUTS\"\nhead -c 200000 /dev/zero | tr '\\0' x >> \"$BITOPS_OUTPUTS\"\necho >> \"$BITOPS_OUTPUTS\"\necho net published\n",
        )
        .write(
            "repo/dev/app/step.sh",
            "echo \"ip=$BITOPS_OUT_NET_IP big set: ${BITOPS_OUT_NET_BIG+yes}\"\necho \"file: $(wc -c < \"$BITOPS_OUT_NET_BIG_FILE\") bytes, $(tr -d x < \"$BITOPS_OUT_NET_BIG_FILE\" | wc -c) not x\"\necho \"inputs: $(grep -o 'x*' \"$BITOPS_INPUTS\" | wc -c)\"\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is(
        "net published\nip=10.0.0.1 big set: \nfile: 200000 bytes, 0 not x\ninputs: 200001\n",
    );
    run.stderr_has("[2/2] app ok in <t>\n");
}

#[test]
fn changed_since_follows_a_tool_folder_linked_into_a_shared_folder() {
    let t = graph(
        "net: {plugin: probe, depends_on: []}\napp: {plugin: probe, depends_on: []}\n",
        &["app"],
    )
    .write("repo/_shared/net/bitops.config.yaml", "probe: {}\n")
    .write("repo/_shared/net/main.tf", "# one\n")
    .write("repo/_shared/common.tf", "# one\n")
    .write("repo/dev/app/main.tf", "# app\n");
    let repo = t.root().join("repo");
    // dev/net is a link to the shared folder; dev/app links one shared file.
    std::os::unix::fs::symlink("../_shared/net", repo.join("dev/net")).unwrap();
    std::os::unix::fs::symlink("../../_shared/common.tf", repo.join("dev/app/common.tf")).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "one"]);
    std::fs::write(repo.join("_shared/net/main.tf"), "# two\n").unwrap();
    git(&repo, &["commit", "-qam", "two"]);
    let run = t
        .cmd("plan", "dev")
        .args(&["--changed-since", "HEAD~1"])
        .run();
    run.code(0).stderr_is("");
    run.stdout_has("[1/1] net (plugin probe)\n  selected      _shared/net/main.tf changed\n")
        .stdout_lacks("] app (plugin");
    let t2 = graph(
        "net: {plugin: probe, depends_on: []}\napp: {plugin: probe, depends_on: []}\n",
        &["app", "net"],
    )
    .write("repo/_shared/common.tf", "# one\n");
    let repo = t2.root().join("repo");
    std::os::unix::fs::symlink("../../_shared/common.tf", repo.join("dev/app/common.tf")).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "one"]);
    std::fs::write(repo.join("_shared/common.tf"), "# two\n").unwrap();
    git(&repo, &["commit", "-qam", "two"]);
    let run = t2
        .cmd("plan", "dev")
        .args(&["--changed-since", "HEAD~1"])
        .run();
    run.code(0).stderr_is("");
    run.stdout_has("[1/1] app (plugin probe)\n  selected      _shared/common.tf changed\n")
        .stdout_lacks("] net (plugin");
}
