//! Operator experience: subsets, discovery, validation, reports, CI output.

use crate::test::Test;

const SCHEMA: &str = "
    probe:
      type: object
      properties:
        cli:
          type: object
          properties:
            name: {type: string, parameter: name, description: the name to greet}
            stack-action: {type: string, default: plan}
";

fn three() -> Test {
    Test::new()
        .probe_plugin("probe", SCHEMA, &[])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    net: {plugin: probe}\n    app: {plugin: probe}\n    db: {plugin: probe}\n",
        )
        .write("repo/dev/net/bitops.config.yaml", "probe: {}\n")
        .write("repo/dev/app/bitops.config.yaml", "probe: {}\n")
        .write("repo/dev/db/bitops.config.yaml", "probe: {}\n")
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
    assert_eq!(deployed(&run), ["net", "db"]);
    let run = three().cmd("deploy", "dev").env("BITOPS_SKIP", "app").run();
    run.code(0);
    assert_eq!(deployed(&run), ["net", "db"]);
    let run = three()
        .cmd("deploy", "dev")
        .args(&["--only", "net,app", "--skip", "net"])
        .run();
    run.code(0);
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
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
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
    let v: serde_json::Value = serde_json::from_str(
        &three()
            .args(&["plugins", "--plugins-dir", "plugins", "--format", "json"])
            .run()
            .stdout,
    )
    .unwrap();
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
    for shell in ["bash", "zsh", "fish"] {
        let run = Test::new().args(&["completions", shell]).run();
        run.code(0);
        for word in [
            "deploy", "plan", "install", "list", "plugins", "dry-run", "ops-repo",
        ] {
            run.stdout_has(word);
        }
    }
    Test::new()
        .args(&["completions", "tcsh"])
        .run()
        .code(2)
        .stderr_has("invalid value 'tcsh'");
}
