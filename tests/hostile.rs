//! Hostile and broken input, table-driven: each case gets one clear error naming the
//! file (and line where it applies), the documented exit code, no panic, and nothing
//! is executed.

use crate::test::{Test, probe_schema};

fn base() -> Test {
    Test::new()
        .probe_plugin(
            "probe",
            &probe_schema(
                "
                forks: {type: integer, parameter: forks}
                mode: {type: string, enum: [fast, safe]}
                ",
                "",
            ),
            &[],
        )
        .deployments(&["a"])
        .hook("repo/dev/a/bitops.before-deploy.d/01.sh")
}

fn core(body: &str) -> Test {
    base().write("repo/dev/bitops.config.yaml", &format!("bitops:\n{body}"))
}

fn tool(body: &str) -> Test {
    base().write("repo/dev/a/bitops.config.yaml", body)
}

fn schema(body: &str) -> Test {
    base().write("plugins/probe/bitops.schema.yaml", body)
}

fn link(t: Test, rel: &str, target: &str) -> Test {
    std::os::unix::fs::symlink(target, t.root().join(rel)).unwrap();
    t
}

fn nested(depth: usize) -> String {
    format!(
        "probe:\n  cli:\n    name: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

fn bomb() -> String {
    let mut text =
        String::from("probe:\n  cli:\n    name: x\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
    for i in 1..8 {
        let p = i - 1;
        text.push_str(&format!(
            "x{i}: &x{i} [*x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}]\n"
        ));
    }
    text
}

struct Case {
    name: &'static str,
    test: Test,
    /// Extra arguments; `deploy -e dev` by default.
    args: &'static [&'static str],
    code: i32,
    /// What the one error must say.
    says: &'static [&'static str],
}

fn case(name: &'static str, test: Test, code: i32, says: &'static [&'static str]) -> Case {
    Case {
        name,
        test,
        args: &[],
        code,
        says,
    }
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        // YAML
        case(
            "malformed tool config",
            tool("probe:\n  cli: [name\n"),
            1,
            &["repo/dev/a/bitops.config.yaml:3: invalid YAML"],
        ),
        case(
            "malformed environment config",
            core("  deployments: {a: \n"),
            1,
            &["repo/dev/bitops.config.yaml:", "invalid YAML"],
        ),
        case(
            "tabs for indentation",
            tool("probe:\n\tcli: {}\n"),
            1,
            &["repo/dev/a/bitops.config.yaml:2: invalid YAML"],
        ),
        case(
            "duplicate keys",
            tool("probe:\n  cli: {}\n  cli: {}\n"),
            1,
            &["repo/dev/a/bitops.config.yaml:3: duplicate key `cli`"],
        ),
        case(
            "binary file as config",
            base().write_raw("repo/dev/a/bitops.config.yaml", b"probe:\x00\x01\x02"),
            1,
            &["repo/dev/a/bitops.config.yaml: it is a binary file"],
        ),
        case(
            "config that is not UTF-8",
            base().write_raw(
                "repo/dev/a/bitops.config.yaml",
                b"probe: {cli: {name: \xff\xfe}}\n",
            ),
            1,
            &["repo/dev/a/bitops.config.yaml: it is not UTF-8 text"],
        ),
        case(
            "empty environment config",
            base().write("repo/dev/bitops.config.yaml", ""),
            1,
            &["repo/dev/bitops.config.yaml: the file is empty"],
        ),
        case(
            "deeply nested YAML",
            tool(&nested(500)),
            1,
            &["repo/dev/a/bitops.config.yaml:3: nesting deeper than 64 levels"],
        ),
        case(
            "alias bomb",
            tool(&bomb()),
            1,
            &["repo/dev/a/bitops.config.yaml:", "alias bomb"],
        ),
        case(
            "a 50 MB config",
            base().write_raw(
                "repo/dev/a/bitops.config.yaml",
                &vec![b'#'; 50 * 1024 * 1024],
            ),
            1,
            &[
                "repo/dev/a/bitops.config.yaml: it is 52428800 bytes; config files over 8388608 bytes are refused",
            ],
        ),
        case(
            "config that is a folder",
            base().mkdir("repo/dev/b/bitops.config.yaml").write(
                "repo/dev/bitops.config.yaml",
                "bitops:\n  deployments:\n    b: {plugin: probe}\n",
            ),
            1,
            &["repo/dev/b/bitops.config.yaml: bitops.config.yaml is not a regular file"],
        ),
        // core config
        case(
            "wrong root key, environment config",
            base().write("repo/dev/bitops.config.yaml", "bops:\n  deployments: {}\n"),
            1,
            &["repo/dev/bitops.config.yaml:1: the root key must be `bitops`"],
        ),
        case(
            "deployments is a list",
            core("  deployments: [a]\n"),
            1,
            &[
                "repo/dev/bitops.config.yaml:2: `bitops.deployments`: expected a map of deployment alias to settings, found a list",
            ],
        ),
        case(
            "deployments is a string",
            core("  deployments: terraform\n"),
            1,
            &["repo/dev/bitops.config.yaml:2: `bitops.deployments`: expected a map"],
        ),
        case(
            "a deployment is a number",
            core("  deployments:\n    a: 5\n"),
            1,
            &[
                "repo/dev/bitops.config.yaml:3: `bitops.deployments.a`: expected a map such as `{plugin: NAME}`, found an integer `5`",
            ],
        ),
        case(
            "unknown plugin",
            core("  deployments:\n    a: {plugin: nope}\n"),
            1,
            &[
                "repo/dev/bitops.config.yaml:3: `bitops.deployments.a.plugin`: unknown plugin `nope`",
            ],
        ),
        case(
            "alias with a slash",
            core("  deployments:\n    a/b: {plugin: probe}\n"),
            1,
            &["repo/dev/bitops.config.yaml:3: `bitops.deployments.a/b`: `a/b` is not a valid name"],
        ),
        case(
            "alias ..",
            core("  deployments:\n    ..: {plugin: probe}\n"),
            1,
            &["`..` is not a valid name"],
        ),
        case(
            "plugin name with a slash",
            core("  deployments:\n    a: {plugin: ../../bin}\n"),
            1,
            &[
                "repo/dev/bitops.config.yaml:3: `bitops.deployments.a.plugin`: `../../bin` is not a valid name",
            ],
        ),
        case(
            "plugin name ..",
            core("  deployments:\n    a: {plugin: ..}\n"),
            1,
            &["`..` is not a valid name"],
        ),
        case(
            "fail_fast not a boolean",
            core("  fail_fast: sometimes\n  deployments: {a: {plugin: probe}}\n"),
            1,
            &[
                "repo/dev/bitops.config.yaml:2: `bitops.fail_fast`: expected true or false, found a string `sometimes`",
            ],
        ),
        case(
            "timeout not a duration",
            core("  timeout: ten\n  deployments: {a: {plugin: probe}}\n"),
            1,
            &["repo/dev/bitops.config.yaml:2: `bitops.timeout`: `ten` is not a duration"],
        ),
        case(
            "deployment timeout not a duration",
            core("  deployments:\n    a: {plugin: probe, timeout: 5 minutes}\n"),
            1,
            &[
                "repo/dev/bitops.config.yaml:3: `bitops.deployments.a.timeout`: `5 minutes` is not a duration",
            ],
        ),
        case(
            "invalid mask regex",
            core(
                "  logging:\n    masks:\n      - {search: '(unclosed'}\n  deployments: {a: {plugin: probe}}\n",
            ),
            1,
            &["repo/dev/bitops.config.yaml:4: `bitops.logging.masks.search`: invalid regex"],
        ),
        case(
            "masks not a list",
            core("  logging: {masks: secret}\n  deployments: {a: {plugin: probe}}\n"),
            1,
            &["`bitops.logging.masks`: expected a list of masks"],
        ),
        case(
            "secret_env not a list",
            core("  logging: {secret_env: {a: 1}}\n  deployments: {a: {plugin: probe}}\n"),
            1,
            &["`bitops.logging.secret_env`: expected a list of variable names"],
        ),
        case(
            "unknown log level",
            core("  logging: {level: LOUD}\n  deployments: {a: {plugin: probe}}\n"),
            1,
            &["repo/dev/bitops.config.yaml:2: `bitops.logging.level`: unknown log level `LOUD`"],
        ),
        case(
            "unknown run mode",
            core("  run_mode: yolo\n  deployments: {a: {plugin: probe}}\n"),
            1,
            &["repo/dev/bitops.config.yaml:2: `bitops.run_mode`: unknown run mode `yolo`"],
        ),
        // tool config against the schema
        case(
            "a map where a string goes",
            tool("probe:\n  cli:\n    name: {a: 1}\n"),
            1,
            &[
                "repo/dev/a/bitops.config.yaml:3: `probe.cli.name`: must be a single value, found a map",
            ],
        ),
        case(
            "a word where an integer goes",
            tool("probe:\n  cli:\n    forks: many\n"),
            1,
            &[
                "repo/dev/a/bitops.config.yaml:3: `probe.cli.forks`: must be an integer, found a string `many`",
            ],
        ),
        case(
            "a value outside enum",
            tool("probe:\n  cli:\n    mode: fsat\n"),
            1,
            &[
                "repo/dev/a/bitops.config.yaml:3: `probe.cli.mode`: `fsat` is not one of fast, safe (did you mean `fast`?)",
            ],
        ),
        case(
            "a section that is a scalar",
            tool("probe:\n  cli: yes\n"),
            1,
            &["repo/dev/a/bitops.config.yaml:2: `probe.cli`: must be a map of settings"],
        ),
        // plugins
        case(
            "unknown schema type",
            schema(
                "probe:\n  properties:\n    cli:\n      properties:\n        name: {type: strnig}\n",
            ),
            1,
            &[
                "<root>/plugins/probe/bitops.schema.yaml:5: `cli.name.type`: unknown schema type `strnig`",
            ],
        ),
        case(
            "schema root is not a map",
            schema("probe: 5\n"),
            1,
            &[
                "<root>/plugins/probe/bitops.schema.yaml:1: `probe`: the schema of `probe` must be a map",
            ],
        ),
        case(
            "schema with the wrong root key",
            schema("other: {}\n"),
            2,
            &[
                "<root>/plugins/probe/bitops.schema.yaml:1: the root key must be the plugin name `probe`, found `other`",
            ],
        ),
        case(
            "export_env that is not a variable name",
            schema(
                "probe:\n  properties:\n    cli:\n      properties:\n        name: {type: string, export_env: 1-BAD}\n",
            ),
            1,
            &[
                "<root>/plugins/probe/bitops.schema.yaml:5: `cli.name.export_env`: `1-BAD` is not a valid environment variable name",
            ],
        ),
        case(
            "malformed plugin.config.yaml",
            base().write("plugins/probe/plugin.config.yaml", "plugin: [\n"),
            1,
            &["<root>/plugins/probe/plugin.config.yaml:", "invalid YAML"],
        ),
        case(
            "plugin.config.yaml with a wrong type",
            base().write(
                "plugins/probe/plugin.config.yaml",
                "plugin:\n  deployment:\n    core_schema_parsing: maybe\n",
            ),
            1,
            &[
                "<root>/plugins/probe/plugin.config.yaml:3: `plugin.deployment.core_schema_parsing`: expected true or false",
            ],
        ),
        case(
            "deploy script missing",
            base().write(
                "plugins/probe/plugin.config.yaml",
                "plugin:\n  deployment: {deployment_script: run.sh}\n",
            ),
            1,
            &["<root>/plugins/probe/run.sh: the plugin's deploy script `run.sh` is missing"],
        ),
        case(
            "deploy script that is a folder",
            base()
                .write(
                    "plugins/probe/plugin.config.yaml",
                    "plugin:\n  deployment: {deployment_script: bin}\n",
                )
                .mkdir("plugins/probe/bin"),
            1,
            &["the plugin's deploy script `bin` is missing"],
        ),
        case(
            "hook folder that is a file",
            base().write("repo/dev/a/bitops.after-deploy.d", "echo hi\n"),
            1,
            &[
                "repo/dev/a/bitops.after-deploy.d: `bitops.after-deploy.d` must be a folder of hook scripts, but it is a file",
            ],
        ),
        // the file system
        case(
            "symlink loop",
            link(base(), "repo/dev/a/loop", "loop"),
            1,
            &["repo/dev/a/loop: this link is part of a loop"],
        ),
        case(
            "symlink out of the repo",
            link(base(), "repo/dev/a/passwd", "/etc/passwd"),
            1,
            &["repo/dev/a/passwd: this link points outside the ops repo, to /etc/passwd"],
        ),
        case(
            "symlink out of the repo in a _ folder",
            link(base().mkdir("repo/_scripts"), "repo/_scripts/home", "/root"),
            1,
            &["repo/_scripts/home: this link points outside the ops repo"],
        ),
    ];
    // the command line and the environment
    let mut more = vec![
        Case {
            name: "unknown environment",
            test: base(),
            args: &["deploy", "-e", "qa"],
            code: 1,
            says: &["environment `qa` not found: there is no folder repo/qa"],
        },
        Case {
            name: "the default folder as environment",
            test: base().mkdir("repo/_default"),
            args: &["deploy", "-e", "_default"],
            code: 1,
            says: &["`_default` is not an environment"],
        },
        Case {
            name: "an environment name with ..",
            test: base(),
            args: &["deploy", "-e", "../dev"],
            code: 1,
            says: &["`../dev` is not a valid name"],
        },
        Case {
            name: "ops repo missing",
            test: base(),
            args: &["deploy", "-e", "dev", "--ops-repo", "nowhere"],
            code: 1,
            says: &["nowhere: the ops repo folder does not exist"],
        },
        Case {
            name: "image config missing",
            test: base(),
            args: &["deploy", "-e", "dev", "-c", "missing.yaml"],
            code: 1,
            says: &["missing.yaml: cannot read it"],
        },
        Case {
            name: "image config with the wrong root key",
            test: base().write("core.yaml", "deployments: {}\n"),
            args: &["deploy", "-e", "dev", "-c", "core.yaml"],
            code: 1,
            says: &["core.yaml:1: the root key must be `bitops`"],
        },
        Case {
            name: "empty image config",
            test: base().write("core.yaml", ""),
            args: &["deploy", "-e", "dev", "-c", "core.yaml"],
            code: 1,
            says: &["core.yaml: the file is empty"],
        },
        Case {
            name: "unknown alias in --only",
            test: base(),
            args: &["deploy", "-e", "dev", "--only", "b"],
            code: 1,
            says: &["--only: there is no deployment `b`"],
        },
        Case {
            name: "bad --wait-lock",
            test: base(),
            args: &["deploy", "-e", "dev", "--wait-lock", "soon"],
            code: 2,
            says: &["`soon` is not a duration"],
        },
    ];
    let env_cases: Vec<(
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    )> = vec![
        (
            "BITOPS_FAST_FAIL not a boolean",
            "BITOPS_FAST_FAIL",
            "perhaps",
            &["$BITOPS_FAST_FAIL must be true or false, found `perhaps`"],
        ),
        (
            "BITOPS_TIMEOUT not a duration",
            "BITOPS_TIMEOUT",
            "a while",
            &["`bitops.timeout`: `a while` is not a duration (from $BITOPS_TIMEOUT)"],
        ),
        (
            "a plugin variable of the wrong type",
            "BITOPS_PROBE_FORKS",
            "12x",
            &["`probe.cli.forks`: $BITOPS_PROBE_FORKS must be an integer, found `12x`"],
        ),
        (
            "a plugin variable outside enum",
            "BITOPS_PROBE_MODE",
            "slow",
            &["$BITOPS_PROBE_MODE `slow` is not one of fast, safe"],
        ),
    ];
    for (name, var, value, says) in env_cases {
        more.push(Case {
            name,
            test: base().env(var, value),
            args: &[],
            code: 1,
            says,
        });
    }
    v.extend(more);
    v
}

#[test]
fn every_bad_input_gets_one_clear_error_and_runs_nothing() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for c in cases {
        let args: Vec<&str> = if c.args.is_empty() {
            vec!["deploy", "-e", "dev"]
        } else {
            c.args.to_vec()
        };
        let mut t = c.test.args(&args);
        if !args.contains(&"--ops-repo") {
            t = t.args(&["--ops-repo", "repo"]);
        }
        let run = t
            .args(&["--plugins-dir", "plugins", "--color", "never"])
            .run();
        let stderr = run.stderr();
        let mut wrong = Vec::new();
        let code = run.exit_code();
        if code != c.code {
            wrong.push(format!("exit code {code} (expected {})", c.code));
        }
        if stderr.contains("panicked") {
            wrong.push("it panicked".into());
        }
        let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
        if errors != 1 {
            wrong.push(format!("{errors} error lines (expected one)"));
        }
        for part in c.says {
            if !stderr.contains(part) {
                wrong.push(format!("no {part:?}"));
            }
        }
        if !run.log().is_empty() {
            wrong.push(format!("something ran: {}", run.log()));
        }
        if !run.workspaces().is_empty() {
            wrong.push("a workspace was left".into());
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n--- stderr:\n{stderr}",
                c.name,
                wrong.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
