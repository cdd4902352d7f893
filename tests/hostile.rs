//! Hostile and broken input, one test per case: each case gets one clear error naming
//! the file (and line where it applies), the documented exit code, no panic, and nothing
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

/// Runs one case (`deploy -e dev` unless `args` are given) and fails with everything
/// that is wrong with it.
fn check(test: Test, args: &[&str], code: i32, says: &[&str]) {
    let args: Vec<&str> = if args.is_empty() {
        vec!["deploy", "-e", "dev"]
    } else {
        args.to_vec()
    };
    let mut t = test.args(&args);
    if !args.contains(&"--ops-repo") {
        t = t.args(&["--ops-repo", "repo"]);
    }
    let run = t
        .args(&["--plugins-dir", "plugins", "--color", "never"])
        .run();
    let stderr = run.stderr();
    let mut wrong = Vec::new();
    let actual = run.exit_code();
    if actual != code {
        wrong.push(format!("exit code {actual} (expected {code})"));
    }
    if stderr.contains("panicked") {
        wrong.push("it panicked".into());
    }
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    if errors != 1 {
        wrong.push(format!("{errors} error lines (expected one)"));
    }
    for part in says {
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
    assert!(
        wrong.is_empty(),
        "{}\n--- stderr:\n{stderr}",
        wrong.join("\n")
    );
}

/// `case!(name, test, code, says)`: a `#[test]` that runs `deploy -e dev` on `test` and
/// checks the exit `code` and that the one error says each of `says`; with `args` after
/// `says`, those arguments instead of `deploy -e dev`.
macro_rules! case {
    ($name:ident, $test:expr, $code:expr, $says:expr $(,)?) => {
        case!($name, $test, $code, $says, &[]);
    };
    ($name:ident, $test:expr, $code:expr, $says:expr, $args:expr $(,)?) => {
        #[test]
        fn $name() {
            check($test, $args, $code, $says);
        }
    };
}

// --- YAML

case!(
    malformed_tool_config,
    tool("probe:\n  cli: [name\n"),
    1,
    &["repo/dev/a/bitops.config.yaml:2: invalid YAML: this `[` is never closed"]
);

case!(
    malformed_environment_config,
    core("  deployments: {a: \n"),
    1,
    &["repo/dev/bitops.config.yaml:", "invalid YAML"]
);

case!(
    tabs_for_indentation,
    tool("probe:\n\tcli: {}\n"),
    1,
    &["repo/dev/a/bitops.config.yaml:2: invalid YAML"]
);

case!(
    duplicate_keys,
    tool("probe:\n  cli: {}\n  cli: {}\n"),
    1,
    &["repo/dev/a/bitops.config.yaml:3: duplicate key `cli`"]
);

case!(
    binary_file_as_config,
    base().write_raw("repo/dev/a/bitops.config.yaml", b"probe:\x00\x01\x02"),
    1,
    &["repo/dev/a/bitops.config.yaml: it is a binary file"]
);

case!(
    config_that_is_not_utf8,
    base().write_raw(
        "repo/dev/a/bitops.config.yaml",
        b"probe: {cli: {name: \xff\xfe}}\n",
    ),
    1,
    &["repo/dev/a/bitops.config.yaml: it is not UTF-8 text"]
);

case!(
    empty_environment_config,
    base().write("repo/dev/bitops.config.yaml", ""),
    1,
    &["repo/dev/bitops.config.yaml: the file is empty"]
);

case!(
    deeply_nested_yaml,
    tool(&nested(500)),
    1,
    &["repo/dev/a/bitops.config.yaml:3: nesting deeper than 64 levels"]
);

case!(
    alias_bomb,
    tool(&bomb()),
    1,
    &["repo/dev/a/bitops.config.yaml:", "alias bomb"]
);

case!(
    a_50_mb_config,
    base().write_raw(
        "repo/dev/a/bitops.config.yaml",
        &vec![b'#'; 50 * 1024 * 1024],
    ),
    1,
    &[
        "repo/dev/a/bitops.config.yaml: it is 52428800 bytes; config files over 8388608 bytes are refused",
    ]
);

case!(
    config_that_is_a_folder,
    base().mkdir("repo/dev/b/bitops.config.yaml").write(
        "repo/dev/bitops.config.yaml",
        "bitops:\n  deployments:\n    b: {plugin: probe}\n",
    ),
    1,
    &["repo/dev/b/bitops.config.yaml: bitops.config.yaml is not a regular file"]
);

// --- core config

case!(
    wrong_root_key_environment_config,
    base().write("repo/dev/bitops.config.yaml", "bops:\n  deployments: {}\n"),
    1,
    &["repo/dev/bitops.config.yaml:1: the root key must be `bitops`"]
);

case!(
    deployments_is_a_list,
    core("  deployments: [a]\n"),
    1,
    &[
        "repo/dev/bitops.config.yaml:2: `bitops.deployments`: expected a map of deployment alias to settings, found a list",
    ]
);

case!(
    deployments_is_a_string,
    core("  deployments: terraform\n"),
    1,
    &["repo/dev/bitops.config.yaml:2: `bitops.deployments`: expected a map"]
);

case!(
    a_deployment_is_a_number,
    core("  deployments:\n    a: 5\n"),
    1,
    &[
        "repo/dev/bitops.config.yaml:3: `bitops.deployments.a`: expected a map such as `{plugin: NAME}`, found an integer `5`",
    ]
);

case!(
    unknown_plugin,
    core("  deployments:\n    a: {plugin: nope}\n"),
    1,
    &["repo/dev/bitops.config.yaml:3: `bitops.deployments.a.plugin`: unknown plugin `nope`",]
);

case!(
    alias_with_a_slash_out_of_the_environment,
    core("  deployments:\n    a/../../etc: {plugin: probe}\n"),
    1,
    &[
        "repo/dev/bitops.config.yaml:3: `bitops.deployments.a/../../etc`: `a/../../etc` is not a valid deployment name (a path with `..`)"
    ]
);

case!(
    alias_absolute,
    core("  deployments:\n    /etc: {plugin: probe}\n"),
    1,
    &[
        "repo/dev/bitops.config.yaml:3: `bitops.deployments./etc`: `/etc` is not a valid deployment name (an absolute path)"
    ]
);

case!(
    alias_dotdot,
    core("  deployments:\n    ..: {plugin: probe}\n"),
    1,
    &["`..` is not a valid deployment name (a path with `..`)"]
);

case!(
    plugin_name_with_a_slash,
    core("  deployments:\n    a: {plugin: ../../bin}\n"),
    1,
    &[
        "repo/dev/bitops.config.yaml:3: `bitops.deployments.a.plugin`: `../../bin` is not a valid name",
    ]
);

case!(
    plugin_name_dotdot,
    core("  deployments:\n    a: {plugin: ..}\n"),
    1,
    &["`..` is not a valid name"]
);

case!(
    fail_fast_not_a_boolean,
    core("  fail_fast: sometimes\n  deployments: {a: {plugin: probe}}\n"),
    1,
    &[
        "repo/dev/bitops.config.yaml:2: `bitops.fail_fast`: expected true or false, found a string `sometimes`",
    ]
);

case!(
    timeout_not_a_duration,
    core("  timeout: ten\n  deployments: {a: {plugin: probe}}\n"),
    1,
    &["repo/dev/bitops.config.yaml:2: `bitops.timeout`: `ten` is not a duration"]
);

case!(
    deployment_timeout_not_a_duration,
    core("  deployments:\n    a: {plugin: probe, timeout: 5 minutes}\n"),
    1,
    &[
        "repo/dev/bitops.config.yaml:3: `bitops.deployments.a.timeout`: `5 minutes` is not a duration",
    ]
);

case!(
    invalid_mask_regex,
    core(
        "  logging:\n    masks:\n      - {search: '(unclosed'}\n  deployments: {a: {plugin: probe}}\n",
    ),
    1,
    &["repo/dev/bitops.config.yaml:4: `bitops.logging.masks.search`: invalid regex"]
);

case!(
    masks_not_a_list,
    core("  logging: {masks: secret}\n  deployments: {a: {plugin: probe}}\n"),
    1,
    &["`bitops.logging.masks`: expected a list of masks"]
);

case!(
    secret_env_not_a_list,
    core("  logging: {secret_env: {a: 1}}\n  deployments: {a: {plugin: probe}}\n"),
    1,
    &["`bitops.logging.secret_env`: expected a list of variable names"]
);

case!(
    unknown_log_level,
    core("  logging: {level: LOUD}\n  deployments: {a: {plugin: probe}}\n"),
    1,
    &["repo/dev/bitops.config.yaml:2: `bitops.logging.level`: unknown log level `LOUD`"]
);

case!(
    unknown_run_mode,
    core("  run_mode: yolo\n  deployments: {a: {plugin: probe}}\n"),
    1,
    &["repo/dev/bitops.config.yaml:2: `bitops.run_mode`: unknown run mode `yolo`"]
);

// --- tool config against the schema

case!(
    a_map_where_a_string_goes,
    tool("probe:\n  cli:\n    name: {a: 1}\n"),
    1,
    &["repo/dev/a/bitops.config.yaml:3: `probe.cli.name`: must be a single value, found a map",]
);

case!(
    a_word_where_an_integer_goes,
    tool("probe:\n  cli:\n    forks: many\n"),
    1,
    &[
        "repo/dev/a/bitops.config.yaml:3: `probe.cli.forks`: must be an integer, found a string `many`",
    ]
);

case!(
    a_value_outside_enum,
    tool("probe:\n  cli:\n    mode: fsat\n"),
    1,
    &[
        "repo/dev/a/bitops.config.yaml:3: `probe.cli.mode`: `fsat` is not one of fast, safe (did you mean `fast`?)",
    ]
);

case!(
    a_section_that_is_a_scalar,
    tool("probe:\n  cli: yes\n"),
    1,
    &["repo/dev/a/bitops.config.yaml:2: `probe.cli`: must be a map of settings"]
);

// --- plugins

case!(
    unknown_schema_type,
    schema("probe:\n  properties:\n    cli:\n      properties:\n        name: {type: strnig}\n",),
    1,
    &["<root>/plugins/probe/bitops.schema.yaml:5: `cli.name.type`: unknown schema type `strnig`",]
);

case!(
    schema_root_is_not_a_map,
    schema("probe: 5\n"),
    1,
    &["<root>/plugins/probe/bitops.schema.yaml:1: `probe`: the schema of `probe` must be a map",]
);

case!(
    schema_with_the_wrong_root_key,
    schema("other: {}\n"),
    2,
    &[
        "<root>/plugins/probe/bitops.schema.yaml:1: the root key must be the plugin name `probe`, found `other`",
    ]
);

case!(
    export_env_that_is_not_a_variable_name,
    schema(
        "probe:\n  properties:\n    cli:\n      properties:\n        name: {type: string, export_env: 1-BAD}\n",
    ),
    1,
    &[
        "<root>/plugins/probe/bitops.schema.yaml:5: `cli.name.export_env`: `1-BAD` is not a valid environment variable name",
    ]
);

case!(
    malformed_plugin_config_yaml,
    base().write("plugins/probe/plugin.config.yaml", "plugin: [\n"),
    1,
    &["<root>/plugins/probe/plugin.config.yaml:", "invalid YAML"]
);

case!(
    plugin_config_yaml_with_a_wrong_type,
    base().write(
        "plugins/probe/plugin.config.yaml",
        "plugin:\n  deployment:\n    core_schema_parsing: maybe\n",
    ),
    1,
    &[
        "<root>/plugins/probe/plugin.config.yaml:3: `plugin.deployment.core_schema_parsing`: expected true or false",
    ]
);

case!(
    deploy_script_missing,
    base().write(
        "plugins/probe/plugin.config.yaml",
        "plugin:\n  deployment: {deployment_script: run.sh}\n",
    ),
    1,
    &["<root>/plugins/probe/run.sh: the plugin's deploy script `run.sh` is missing"]
);

case!(
    deploy_script_that_is_a_folder,
    base()
        .write(
            "plugins/probe/plugin.config.yaml",
            "plugin:\n  deployment: {deployment_script: bin}\n",
        )
        .mkdir("plugins/probe/bin"),
    1,
    &["the plugin's deploy script `bin` is missing"]
);

case!(
    hook_folder_that_is_a_file,
    base().write("repo/dev/a/bitops.after-deploy.d", "echo hi\n"),
    1,
    &[
        "repo/dev/a/bitops.after-deploy.d: `bitops.after-deploy.d` must be a folder of hook scripts, but it is a file",
    ]
);

// --- the file system

case!(
    symlink_loop,
    link(base(), "repo/dev/a/loop", "loop"),
    1,
    &["repo/dev/a/loop: this link is part of a loop"]
);

case!(
    symlink_out_of_the_repo,
    link(base(), "repo/dev/a/passwd", "/etc/passwd"),
    1,
    &["repo/dev/a/passwd: this link points outside the ops repo, to /etc/passwd"]
);

case!(
    symlink_out_of_the_repo_in_an_underscore_folder,
    link(base().mkdir("repo/_scripts"), "repo/_scripts/home", "/root"),
    1,
    &["repo/_scripts/home: this link points outside the ops repo"]
);

// --- the command line

case!(
    unknown_environment,
    base(),
    1,
    &["environment `qa` not found: there is no folder repo/qa"],
    &["deploy", "-e", "qa"]
);

case!(
    the_default_folder_as_environment,
    base().mkdir("repo/_default"),
    1,
    &["`_default` is not an environment"],
    &["deploy", "-e", "_default"]
);

case!(
    an_environment_name_with_dotdot,
    base(),
    1,
    &["`../dev` is not a valid name"],
    &["deploy", "-e", "../dev"]
);

case!(
    ops_repo_missing,
    base(),
    1,
    &["nowhere: the ops repo folder does not exist"],
    &["deploy", "-e", "dev", "--ops-repo", "nowhere"]
);

case!(
    image_config_missing,
    base(),
    1,
    &["missing.yaml: cannot read it"],
    &["deploy", "-e", "dev", "-c", "missing.yaml"]
);

case!(
    image_config_with_the_wrong_root_key,
    base().write("core.yaml", "deployments: {}\n"),
    1,
    &["core.yaml:1: the root key must be `bitops`"],
    &["deploy", "-e", "dev", "-c", "core.yaml"]
);

case!(
    empty_image_config,
    base().write("core.yaml", ""),
    1,
    &["core.yaml: the file is empty"],
    &["deploy", "-e", "dev", "-c", "core.yaml"]
);

case!(
    unknown_alias_in_only,
    base(),
    1,
    &["--only: there is no deployment `b`"],
    &["deploy", "-e", "dev", "--only", "b"]
);

case!(
    bad_wait_lock,
    base(),
    2,
    &["`soon` is not a duration"],
    &["deploy", "-e", "dev", "--wait-lock", "soon"]
);

// --- the environment

case!(
    bitops_fast_fail_not_a_boolean,
    base().env("BITOPS_FAST_FAIL", "perhaps"),
    1,
    &["$BITOPS_FAST_FAIL must be true or false, found `perhaps`"]
);

case!(
    bitops_timeout_not_a_duration,
    base().env("BITOPS_TIMEOUT", "a while"),
    1,
    &["`bitops.timeout`: `a while` is not a duration (from $BITOPS_TIMEOUT)"]
);

case!(
    a_plugin_variable_of_the_wrong_type,
    base().env("BITOPS_PROBE_FORKS", "12x"),
    1,
    &["`probe.cli.forks`: $BITOPS_PROBE_FORKS must be an integer, found `12x`"]
);

case!(
    a_plugin_variable_outside_enum,
    base().env("BITOPS_PROBE_MODE", "slow"),
    1,
    &["$BITOPS_PROBE_MODE `slow` is not one of fast, safe"]
);

// --- the default folder is a folder of the repo, by name

case!(
    default_folder_outside_the_repo,
    core("  default_folder: ../outside\n  deployments:\n    a: {plugin: probe}\n").write(
        "outside/a/bitops.before-deploy.d/planted.sh",
        "echo planted >> \"$PROBE_LOG\"\n"
    ),
    1,
    &[
        "repo/dev/bitops.config.yaml:2: `bitops.default_folder`: default_folder: `../outside` is not a valid name"
    ]
);

case!(
    default_folder_absolute_from_a_variable,
    base().env("BITOPS_DEFAULT_FOLDER", "/etc"),
    1,
    &[
        "`bitops.default_folder`: default_folder: `/etc` is not a valid name: use letters, digits, `_`, `.` and `-` only (no `/`, not `..`) (from $BITOPS_DEFAULT_FOLDER)"
    ]
);

/// Lines that GitHub Actions' runner would obey: `::…` at a line's start (after blanks),
/// `##[` anywhere.
fn workflow_commands(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
        .collect()
}

#[test]
fn under_github_actions_no_output_or_repo_text_is_obeyed_as_a_workflow_command() {
    let run = base()
        .write(
            "repo/dev/a/bitops.before-deploy.d/01.sh",
            "echo '::add-mask::nothing'\necho '  ::error title=x::pwned'\necho 'a ##[set-output name=x]y'\necho 'plain :: text'\n",
        )
        .env("GITHUB_ACTIONS", "true")
        .cmd("deploy", "dev")
        .args(&["--ci", "github"])
        .run();
    run.code(0).stderr_any("narration is on stdout under CI");
    let stdout = run.stdout();
    let z = '\u{200b}';
    assert!(
        stdout.contains(&format!(":{z}:add-mask::nothing\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  :{z}:error title=x::pwned\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("a #{z}#[set-output name=x]y\n")),
        "{stdout}"
    );
    assert!(stdout.contains("plain :: text\n"), "{stdout}");
    // bitops' own commands are still commands: the step's group, nothing else.
    assert_eq!(
        workflow_commands(&stdout),
        ["::group::[1/1] a (plugin probe)", "::endgroup::"],
        "{stdout}"
    );
}

#[test]
fn validate_and_plan_show_repo_text_inert_on_a_terminal_and_under_github() {
    // A quoted value with a newline and a workflow command, and an OSC 52 clipboard write.
    let t = || {
        tool("probe:\n  cli:\n    forks: \"9\\n::warning::injected\"\n    name: \"\\e]52;c;cHduZWQ=\\a\"\n")
            .env("GITHUB_ACTIONS", "true")
    };
    let run = t().cmd("validate", "dev").args(&["--ci", "github"]).run();
    run.code(1).stderr_any("not examined here");
    let stdout = run.stdout();
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout:?}"
    );
    // the annotation bitops writes, and no other command
    let commands = workflow_commands(&stdout);
    assert_eq!(commands.len(), 1, "{stdout}");
    assert!(
        commands[0].starts_with("::error file=repo/dev/a/bitops.config.yaml,line=3,"),
        "{stdout}"
    );
    // ... whose message carries the value as data, its newline escaped
    assert!(
        commands[0].ends_with("found a string `9%0A::warning::injected`"),
        "{stdout}"
    );
    let run = t()
        .write(
            "repo/dev/a/bitops.config.yaml",
            "probe:\n  cli:\n    name: \"\\e]52;c;cHduZWQ=\\a\"\n",
        )
        .cmd("plan", "dev")
        .run();
    run.code(0).stderr_any("not examined here");
    let stdout = run.stdout();
    assert!(
        stdout.contains("--name=\\u{1b}]52;c;cHduZWQ=\\u{7}"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout:?}"
    );
}

#[test]
fn the_step_summary_quotes_repo_text_as_plain_table_cells() {
    let run = tool("probe:\n  cli:\n    forks: \"9 | x\\n| 2 | injected | row | ok | 1s |\\n![i](https://e.example/i.png)\"\n")
        .env("GITHUB_STEP_SUMMARY", "summary.md")
        .cmd("deploy", "dev")
        .args(&["--ci", "github"])
        .run();
    run.code(1).stdout_any("annotations").stderr_any("errors");
    let summary = std::fs::read_to_string(run.root.join("summary.md")).unwrap();
    let rows: Vec<&str> = summary.lines().filter(|l| l.starts_with('|')).collect();
    // the header, its rule, and one row for the one problem
    assert_eq!(rows.len(), 3, "{summary}");
    assert!(!summary.contains("![i]"), "{summary}");
    assert!(
        rows[2].contains("\\!\\[i\\](https://e.example/i.png)"),
        "{summary}"
    );
}
