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
