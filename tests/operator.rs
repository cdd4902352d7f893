//! Operator experience: subsets, discovery, validation, reports, CI output.

use crate::test::{PROBE_SCHEMA, Test, probe_schema, unindent};

/// `PROBE_SCHEMA` with a description of `name`.
fn schema() -> String {
    unindent(PROBE_SCHEMA).replace(
        "parameter: name}",
        "parameter: name, description: the name to greet}",
    )
}

fn three() -> Test {
    Test::new()
        .probe_plugin("probe", &schema(), &[])
        .deployments(&["net", "app", "db"])
}

fn deployed(run: &crate::test::Run) -> Vec<String> {
    run.log()
        .lines()
        .filter(|l| l.contains(" deploy args="))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

#[test]
fn only_and_skip_select_deployments_in_the_configured_order() {
    let run = three()
        .cmd("deploy", "dev")
        .args(&["--only", "db,net"])
        .run();
    run.code(0);
    run.stdout_is(
        "
        deployed net
        deployed db
        ",
    );
    run.stderr_is(
        "
        [1/2] net (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/2] net ok in <t>
        [2/2] db (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [2/2] db ok in <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   net         probe   <t> ok
          2   db          probe   <t> ok
          2 ok in <t>
        ",
    );
    assert_eq!(deployed(&run), ["net", "db"]);
    let run = three().cmd("deploy", "dev").env("BITOPS_SKIP", "app").run();
    run.code(0);
    run.stdout_is(
        "
        deployed net
        deployed db
        ",
    );
    run.stderr_is(
        "
        [1/2] net (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/2] net ok in <t>
        [2/2] db (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [2/2] db ok in <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   net         probe   <t> ok
          2   db          probe   <t> ok
          2 ok in <t>
        ",
    );
    assert_eq!(deployed(&run), ["net", "db"]);
    let run = three()
        .cmd("deploy", "dev")
        .args(&["--only", "net,app", "--skip", "net"])
        .run();
    run.code(0);
    run.stdout_is("deployed app\n");
    run.stderr_is(&crate::test::one_ok_step(
        "app",
        "probe",
        &["  deploy script: bash <root>/plugins/probe/deploy.sh plan"],
    ));
    assert_eq!(deployed(&run), ["app"]);
}

#[test]
fn an_unknown_alias_in_a_subset_lists_the_valid_ones() {
    let run = three()
        .cmd("deploy", "dev")
        .args(&["--only", "apps", "--skip", "cache"])
        .run();
    run.code(1).stderr_is(
        "
        error: --only: there is no deployment `apps`
          hint: did you mean `app`? deployments: net, app, db
        error: --skip: there is no deployment `cache`
          hint: deployments: net, app, db
        2 errors found; nothing was run
        ",
    );
    assert_eq!(run.log(), "");
}

#[test]
fn list_shows_environments_then_one_environments_deployments() {
    let t = || {
        three()
            .mkdir("repo/prod/app")
            .mkdir("repo/_default/app")
            .write("repo/.git/HEAD", "x\n")
    };
    t().args(&["list", "--ops-repo", "repo"])
        .run()
        .code(0)
        .stdout_is(
            "
        Environments in repo:
          ENVIRONMENT TOOL FOLDERS
          dev         app, db, net
          prod        app
        ",
        );
    let run = t()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    net: {plugin: probe}\n    cache: {plugin: probe}\n",
        )
        .args(&[
            "list",
            "--ops-repo",
            "repo",
            "-e",
            "dev",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    run.code(0).stdout_is(
        "
        Deployments of `dev` (from repo/dev/bitops.config.yaml), in order:
          # DEPLOYMENT PLUGIN FOLDER           PLUGIN SOURCE
          1 net        probe  present          installed in <root>/plugins/probe
          2 cache      probe  missing: skipped installed in <root>/plugins/probe
        ",
    );
    let json = t()
        .args(&["list", "--ops-repo", "repo", "--format", "json"])
        .run();
    json.code(0);
    let v: serde_json::Value = serde_json::from_str(json.stdout_text()).unwrap();
    assert_eq!(v[1]["name"], "prod");
    assert_eq!(
        v[0]["tool_folders"],
        serde_json::json!(["app", "db", "net"])
    );
}

#[test]
fn plugins_lists_installed_and_built_in_ones() {
    let run = three().args(&["plugins", "--plugins-dir", "plugins"]).run();
    run.code(0);
    // column widths depend on which built-in plugins exist
    let rows: Vec<Vec<String>> = run
        .stdout()
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(rows[0], ["PLUGIN", "SOURCE"]);
    assert!(
        rows.contains(&vec![
            "probe".into(),
            "installed".into(),
            "in".into(),
            "<root>/plugins/probe".into()
        ]),
        "{rows:?}"
    );
    // every built-in plugin is listed as such
    let run = three()
        .args(&["plugins", "--plugins-dir", "plugins", "--format", "json"])
        .run();
    run.code(0);
    let v: serde_json::Value = serde_json::from_str(run.stdout_text()).unwrap();
    let probe = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "probe")
        .unwrap();
    assert_eq!(probe["overrides_builtin"], false);
    // an installed plugin named like a built-in one replaces it, and says so
    let run = three()
        .write("plugins/terraform/deploy.sh", "true\n")
        .args(&["plugins", "--plugins-dir", "plugins"])
        .run();
    run.code(0)
        .stdout_has(" installed in <root>/plugins/terraform (replaces the built-in one)\n");
}

#[test]
fn plugins_show_gives_the_settings_table() {
    three().args(&["plugins", "show", "probe", "--plugins-dir", "plugins"]).run().code(0).stdout_is(
        "
        Plugin `probe` (installed in <root>/plugins/probe); settings of its tool config, in schema order:
          KEY              TYPE   ENV VAR                              CLI FLAG     DEFAULT REQUIRED DESCRIPTION
          cli.name         string (set with BITOPS_PROBE_NAME)         --name=VALUE -       no       the name to greet
          cli.stack-action string (set with BITOPS_PROBE_STACK_ACTION) positional   plan    no
        ",
    );
    three().args(&["plugins", "show", "probe", "--plugins-dir", "plugins", "--format", "markdown"]).run().code(0).stdout_is(
        "
        | KEY | TYPE | ENV VAR | CLI FLAG | DEFAULT | REQUIRED | DESCRIPTION |
        |---|---|---|---|---|---|---|
        | cli.name | string | (set with BITOPS_PROBE_NAME) | --name=VALUE | - | no | the name to greet |
        | cli.stack-action | string | (set with BITOPS_PROBE_STACK_ACTION) | positional | plan | no |  |
        ",
    );
    three()
        .args(&["plugins", "show", "nope", "--plugins-dir", "plugins"])
        .run()
        .code(1)
        .stderr_has("error: unknown plugin `nope`\n  hint: plugins: ");
}

#[test]
fn completions_for_each_shell() {
    // Each script asks the binary that printed it for the candidates (what they are is
    // tests/completion.rs); zsh's also completes on the first TAB when installed in $fpath.
    let bin = env!("CARGO_BIN_EXE_bitops");
    for (shell, registers, asks) in [
        (
            "bash",
            "-F _clap_complete_bitops bitops",
            "BITOPS_COMPLETE=\"bash\"",
        ),
        ("zsh", "#compdef bitops", "BITOPS_COMPLETE=\"zsh\""),
        ("fish", "--command bitops", "BITOPS_COMPLETE=fish "),
        (
            "elvish",
            "arg-completer[bitops]",
            "BITOPS_COMPLETE=\"elvish\"",
        ),
        (
            "powershell",
            "Register-ArgumentCompleter",
            "$env:BITOPS_COMPLETE = \"powershell\"",
        ),
    ] {
        Test::new()
            .args(&["completions", shell])
            .run()
            .code(0)
            .stdout_has(registers)
            .stdout_has(asks)
            .stdout_has(bin);
    }
    Test::new()
        .args(&["completions", "zsh"])
        .run()
        .code(0)
        .stdout_has("[[ ${funcstack[1]} = _bitops ]] && _clap_dynamic_completer_bitops \"$@\"\n");
    Test::new()
        .args(&["completions", "tcsh"])
        .run()
        .code(2)
        .stderr_has("invalid value 'tcsh'");
}

/// `PROBE_SCHEMA` with `forks` and a required `options.region`.
fn strict_schema() -> String {
    probe_schema(
        "forks: {type: integer, parameter: forks}",
        "region: {type: string, required: true, export_env: REGION}",
    )
}

/// Three environments with five distinct mistakes between them.
fn five_mistakes() -> Test {
    let deployments = "bitops:\n  deployments:\n    app: {plugin: probe}\n";
    Test::new()
        .probe_plugin("probe", &strict_schema(), &[])
        // dev: a YAML syntax error, and a misspelt key in another tool
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    app: {plugin: probe}\n    db: {plugin: probe}\n",
        )
        .write(
            "repo/dev/app/bitops.config.yaml",
            "probe:\n  options:\n    region: [eu\n",
        )
        .write(
            "repo/dev/db/bitops.config.yaml",
            "probe:\n  cli:\n    nmae: db\n  options: {region: eu}\n",
        )
        // staging: a wrong type and a missing required value
        .write("repo/staging/bitops.config.yaml", deployments)
        .write(
            "repo/staging/app/bitops.config.yaml",
            "probe:\n  cli:\n    forks: many\n",
        )
        // prod: an unknown plugin (and a clean tool folder)
        .write(
            "repo/prod/bitops.config.yaml",
            "bitops:\n  deployments:\n    app: {plugin: probe}\n    web:\n      plugin: prbe\n",
        )
        .write(
            "repo/prod/app/bitops.config.yaml",
            "probe:\n  options: {region: us}\n",
        )
        .mkdir("repo/prod/web")
        .hook("repo/prod/app/bitops.before-deploy.d/01.sh")
}

#[test]
fn validate_all_reports_every_mistake_of_every_environment() {
    let run = five_mistakes()
        .args(&[
            "validate",
            "--all",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    run.code(1);
    let stdout = run.stdout();
    for expected in [
        "error: repo/dev/app/bitops.config.yaml:3: invalid YAML: this `[` is never closed",
        "error: repo/dev/db/bitops.config.yaml:3: `probe.cli.nmae`: unknown key: the plugin's schema does not define it: did you mean `name`? A misspelt key would be ignored, and the run would not do what the config says\n  hint: rename it to `name`\n  in: dev\n",
        "error: repo/staging/app/bitops.config.yaml:3: `probe.cli.forks`: must be an integer, found a string `many`\n  in: staging\n",
        "error: repo/staging/app/bitops.config.yaml:1: `probe.options.region`: required value `options.region` is not set\n",
        "error: repo/prod/bitops.config.yaml:5: `bitops.deployments.web.plugin`: unknown plugin `prbe` for deployment `web`\n  hint: did you mean `probe`? plugins installed in <root>/plugins or built in: ",
        "5 errors and 0 warnings found in 3 environments (dev, prod, staging)\n",
    ] {
        assert!(
            stdout.contains(expected),
            "stdout lacks {expected:?}:\n{stdout}"
        );
    }
    assert_eq!(stdout.matches("error: ").count(), 5, "{stdout}");
    assert_eq!(run.log(), "", "validate ran something");
    assert!(run.workspaces().is_empty(), "validate staged a workspace");
    // the same as JSON, for machines
    let run = five_mistakes()
        .args(&[
            "validate",
            "--all",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
            "--format",
            "json",
        ])
        .run();
    run.code(1);
    let report: serde_json::Value = serde_json::from_str(run.stdout_text()).unwrap();
    assert_eq!(report["errors"], 5);
    let problems = report["problems"].as_array().unwrap();
    let forks = problems
        .iter()
        .find(|p| p["key"] == "probe.cli.forks")
        .unwrap();
    assert_eq!(forks["line"], 3);
    assert_eq!(forks["severity"], "error");
    assert_eq!(forks["environments"], serde_json::json!(["staging"]));
    // under GitHub Actions, each error is also an annotation on its file and line
    let run = five_mistakes()
        .args(&[
            "validate",
            "--all",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ])
        .env("GITHUB_ACTIONS", "true")
        .run();
    run.code(1).stdout_has(
        "::error file=repo/staging/app/bitops.config.yaml,line=3,title=bitops%3A probe.cli.forks::must be an integer, found a string `many`\n",
    );
    assert_eq!(run.stdout().matches("::error ").count(), 5);
}

#[test]
fn validate_one_environment_clean_and_with_warnings() {
    let run = five_mistakes()
        .args(&[
            "validate",
            "-e",
            "prod",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    run.code(1)
        .stdout_has("1 error and 0 warnings found in 1 environment (prod)\n");
    // skipped hooks, missing folders of an environment's own deployments and unknown keys fail validation;
    // a default-folder file hidden by the environment is a warning unless --strict
    let t = || {
        Test::new()
            .probe_plugin("probe", &strict_schema(), &[])
            .write(
                "repo/dev/bitops.config.yaml",
                "bitops:\n  deployments:\n    app: {plugin: probe}\n",
            )
            .write(
                "repo/dev/app/bitops.config.yaml",
                "probe:\n  options: {region: eu}\n",
            )
            .write("repo/dev/app/notes.txt", "env\n")
            .write("repo/_default/app/notes.txt", "default\n")
            .write("repo/dev/app/bitops.before-deploy.d/.gitkeep", "")
    };
    let run = t()
        .args(&[
            "validate",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    run.code(0).stdout_is(
        "
        warning: repo/dev/app/notes.txt: hides repo/_default/app/notes.txt
          hint: a clash: the environment's file is used; the default folder's file is not used
        0 errors and 1 warning found in 1 environment (dev)
        ",
    );
    t().args(&[
        "validate",
        "-e",
        "dev",
        "--strict",
        "--ops-repo",
        "repo",
        "--plugins-dir",
        "plugins",
    ])
    .run()
    .code(1)
    .stdout_is(
        "
        error: repo/dev/app/notes.txt: hides repo/_default/app/notes.txt
          hint: a clash: the environment's file is used; the default folder's file is not used
        1 error and 0 warnings found in 1 environment (dev)
        ",
    );
    let run = t()
        .write(
            "repo/dev/app/bitops.before-deploy.d/check",
            "echo not executable\n",
        )
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    app: {plugin: probe}\n    gone: {plugin: probe}\n",
        )
        .args(&[
            "validate",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    run.code(1)
        .stdout_has("error: repo/dev/bitops.config.yaml:4: `bitops.deployments.gone`: deployment `gone` is listed here but its tool folder dev/gone does not exist\n")
        .stdout_has("error: repo/dev/app/bitops.before-deploy.d/check: this hook will be skipped: not a .sh file and not executable\n");
    let clean = Test::new()
        .probe_plugin("probe", &strict_schema(), &[])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    app: {plugin: probe}\n",
        )
        .write(
            "repo/dev/app/bitops.config.yaml",
            "probe:\n  options: {region: eu}\n",
        )
        .args(&[
            "validate",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    clean
        .code(0)
        .stdout_is("no problems found in 1 environment (dev)\n");
}

#[test]
fn markdown_works_wherever_it_is_accepted() {
    let t = || {
        Test::new()
            .probe_plugin("probe", PROBE_SCHEMA, &[])
            .deployments(&["a"])
    };
    let run = t()
        .args(&["list", "--ops-repo", "repo", "--format", "markdown"])
        .run();
    run.code(0)
        .stderr_is("")
        .stdout_has("| ENVIRONMENT | TOOL FOLDERS |\n|---|---|\n| dev | a |\n");
    let run = t()
        .args(&[
            "list",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
            "--format",
            "markdown",
        ])
        .run();
    run.code(0)
        .stderr_is("")
        .stdout_has("| # | DEPLOYMENT | PLUGIN | FOLDER | PLUGIN SOURCE |\n");
    let run = t()
        .args(&[
            "plugins",
            "--plugins-dir",
            "plugins",
            "--format",
            "markdown",
        ])
        .run();
    run.code(0)
        .stderr_is("")
        .stdout_has("| PLUGIN | SOURCE |\n|---|---|\n");
    // formats that have no markdown form do not accept it
    let run = t()
        .args(&["plan", "-e", "dev", "--format", "markdown"])
        .run();
    run.code(2)
        .stdout_is("")
        .stderr_has("invalid value 'markdown' for '--format <FORMAT>'");
}

#[test]
fn a_settings_table_wraps_its_description_to_the_terminal_width() {
    let run = Test::new()
        .args(&[
            "plugins",
            "show",
            "terraform",
            "--plugins-dir",
            "/nonexistent",
        ])
        .env("COLUMNS", "200")
        .run();
    run.code(0).stderr_is("");
    let lines: Vec<String> = run.stdout().lines().map(String::from).collect();
    for line in &lines {
        assert!(line.chars().count() <= 200, "too wide: {line}");
    }
    // continuation lines start under the description column; keys are never cut
    assert!(
        lines.iter().any(|l| l.starts_with(&" ".repeat(40))),
        "nothing wrapped:\n{}",
        run.stdout()
    );
    assert!(
        lines
            .iter()
            .any(|l| l.trim_start().starts_with("cli.var-file "))
    );
}
