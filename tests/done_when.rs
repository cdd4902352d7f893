//! The acceptance scenario of the core engine: three deployments with hooks, a list
//! parameter, a `false` over a `true` default, a nested option and every kind of
//! default-folder clash.

use crate::test::Test;

const SCHEMA: &str = "
    probe:
      type: object
      properties:
        cli:
          type: object
          properties:
            name: {type: string, parameter: name, export_env: PROBE_NAME}
            targets: {type: list, parameter: target, export_env: PROBE_TARGETS}
            verbose: {type: boolean, parameter: verbose, default: true}
            stack-action: {type: string, export_env: PROBE_ACTION, default: plan}
        options:
          type: object
          properties:
            skip-deploy: {type: boolean, export_env: PROBE_SKIP, default: true}
            k8s:
              type: object
              properties:
                kubeconfig: {type: string, export_env: KUBE_CONFIG_PATH}
";

fn scenario() -> Test {
    Test::new()
        .probe_plugin(
            "probe",
            SCHEMA,
            &[
                "BITOPS_PROBE_CLI",
                "PROBE_NAME",
                "PROBE_TARGETS",
                "PROBE_SKIP",
                "KUBE_CONFIG_PATH",
                "BITOPS_KUBE_CONFIG_PATH",
                "PROBE_ACTION",
            ],
        )
        .write(
            "repo/dev/bitops.config.yaml",
            "
            bitops:
              deployments:
                alpha: {plugin: probe}
                beta: {plugin: probe}
                gamma: {plugin: probe}
            ",
        )
        .write(
            "repo/dev/alpha/bitops.config.yaml",
            "
            probe:
              cli:
                name: alpha
                targets: [module.a, module.b]
                verbose: false
              options:
                k8s:
                  kubeconfig: ./kube.yaml
            ",
        )
        .hook("repo/dev/alpha/bitops.before-deploy.d/01.sh")
        .hook("repo/dev/alpha/bitops.before-deploy.d/10.sh")
        .hook("repo/dev/alpha/bitops.before-deploy.d/2.sh")
        .write(
            "repo/dev/alpha/bitops.before-deploy.d/notes.txt",
            "not a script\n",
        )
        .hook("repo/dev/alpha/bitops.after-deploy.d/after.sh")
        .write(
            "repo/dev/beta/bitops.config.yaml",
            "probe:\n  cli: {stack-action: apply}\n",
        )
        // every kind of clash with the default folder
        .write("repo/dev/beta/main.tf", "# env main\n")
        .write("repo/_default/beta/main.tf", "# default main\n")
        .write(
            "repo/dev/beta/bitops.before-deploy.d/x.sh",
            "echo \"$BITOPS_DEPLOYMENT_ALIAS hook env-x\" >> \"$PROBE_LOG\"\n",
        )
        .write(
            "repo/_default/beta/bitops.before-deploy.d/x.sh",
            "echo \"$BITOPS_DEPLOYMENT_ALIAS hook default-x\" >> \"$PROBE_LOG\"\n",
        )
        .write(
            "repo/_default/beta/bitops.before-deploy.d/y.sh",
            "echo \"$BITOPS_DEPLOYMENT_ALIAS hook default-y\" >> \"$PROBE_LOG\"\n",
        )
        .write("repo/dev/beta/values.yaml", "a: {x: env}\nc: env\n")
        .write(
            "repo/_default/beta/values.yaml",
            "a: {x: default, y: default}\nb: default\n",
        )
        .write("repo/dev/beta/notes.txt", "env notes\n")
        .write("repo/_default/beta/notes.txt", "default notes\n")
        .write("repo/_default/beta/only-default.txt", "from default\n")
        .write(
            "repo/_default/beta/bitops.config.yaml",
            "probe:\n  cli: {name: from-default}\n  options: {skip-deploy: false}\n",
        )
        .write(
            "repo/dev/gamma/bitops.config.yaml",
            "probe:\n  cli: {name: gamma}\n",
        )
        // another environment and .git are not staged
        .write("repo/prod/alpha/bitops.config.yaml", "probe: {}\n")
        .write("repo/.git/HEAD", "ref: refs/heads/main\n")
        .write("repo/README.md", "root file\n")
        .write("repo/_scripts/tool.sh", "echo tool\n")
}

#[test]
fn deploy_produces_the_cli_variables_hook_order_and_merged_files() {
    let run = scenario()
        .cmd("deploy", "dev")
        .args(&["--keep-workspace"])
        .run();
    run.code(0);
    run.stdout_is(
        "
        deployed alpha
        deployed beta
        deployed gamma
        ",
    );
    run.log_is(
        "
        alpha hook 01.sh
        alpha hook 10.sh
        alpha hook 2.sh
        alpha deploy args=plan pwd=<ws>/dev/alpha
        alpha BITOPS_PROBE_CLI=--name=alpha --target=module.a --target=module.b plan
        alpha PROBE_NAME=alpha
        alpha PROBE_TARGETS=module.a module.b
        alpha PROBE_SKIP=true
        alpha KUBE_CONFIG_PATH=./kube.yaml
        alpha BITOPS_KUBE_CONFIG_PATH=./kube.yaml
        alpha PROBE_ACTION=plan
        alpha hook after.sh
        beta hook env-x
        beta hook default-y
        beta deploy args=apply pwd=<ws>/dev/beta
        beta BITOPS_PROBE_CLI=--name=from-default --verbose apply
        beta PROBE_NAME=from-default
        beta PROBE_TARGETS=<unset>
        beta PROBE_SKIP=false
        beta KUBE_CONFIG_PATH=<unset>
        beta BITOPS_KUBE_CONFIG_PATH=<unset>
        beta PROBE_ACTION=apply
        gamma deploy args=plan pwd=<ws>/dev/gamma
        gamma BITOPS_PROBE_CLI=--name=gamma --verbose plan
        gamma PROBE_NAME=gamma
        gamma PROBE_TARGETS=<unset>
        gamma PROBE_SKIP=true
        gamma KUBE_CONFIG_PATH=<unset>
        gamma BITOPS_KUBE_CONFIG_PATH=<unset>
        gamma PROBE_ACTION=plan
        ",
    );
    run.stderr_has("skipping before hook notes.txt: not a .sh file and not executable");
    // the kept workspace holds the merged environment, and only what a run can use
    let ws = run.workspaces();
    assert_eq!(ws.len(), 1, "{ws:?}");
    let ws = &ws[0];
    run.stderr_has("workspace kept at <ws>\n");
    let read =
        |rel: &str| std::fs::read_to_string(ws.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(read("dev/beta/main.tf"), "# default main\n");
    assert_eq!(read("dev/beta/main.tf.dev.tf"), "# env main\n");
    assert_eq!(
        read("dev/beta/bitops.before-deploy.d/x.sh"),
        "echo \"$BITOPS_DEPLOYMENT_ALIAS hook env-x\" >> \"$PROBE_LOG\"\n"
    );
    let yaml = |text: &str| yaml_rust2::YamlLoader::load_from_str(text).unwrap();
    assert_eq!(
        yaml(&read("dev/beta/values.yaml")),
        yaml("a: {x: env, y: default}\nb: default\nc: env\n")
    );
    assert_eq!(read("dev/beta/notes.txt"), "env notes\n");
    assert_eq!(read("dev/beta/only-default.txt"), "from default\n");
    assert_eq!(read("README.md"), "root file\n");
    assert_eq!(read("_scripts/tool.sh"), "echo tool\n");
    assert_eq!(read("_default/beta/main.tf"), "# default main\n");
    assert!(!ws.join("prod").exists(), "another environment was staged");
    assert!(!ws.join(".git").exists(), ".git was staged");
}

#[test]
fn a_type_error_in_the_third_tool_stops_everything_before_anything_runs() {
    let run = scenario()
        .write(
            "repo/dev/gamma/bitops.config.yaml",
            "probe:\n  cli:\n    name: gamma\n    verbose: sometimes\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1);
    run.stderr_is(
        "
        error: repo/dev/gamma/bitops.config.yaml:4: `probe.cli.verbose`: must be true or false, found a string `sometimes`
        ",
    );
    assert_eq!(run.log(), "", "a hook or plugin ran");
    run.stdout_is("");
    assert!(run.workspaces().is_empty(), "a workspace was staged");
}

#[test]
fn plan_shows_every_step_and_runs_nothing() {
    let run = scenario().cmd("plan", "dev").run();
    run.code(0);
    run.stdout_is(
        "
        Plan for environment `dev` of repo: 3 deployments, fail_fast on

        [1/3] alpha (plugin probe)
          folder        dev/alpha
          plugin        <root>/plugins/probe
          before hooks  01.sh (with bash)
                        10.sh (with bash)
                        2.sh (with bash)
                        notes.txt skipped: not a .sh file and not executable
          deploy        bash <root>/plugins/probe/deploy.sh plan
          after hooks   after.sh (with bash)
          variables     BITOPS_PROBE_CLI=--name=alpha --target=module.a --target=module.b plan
                        BITOPS_PROBE_NAME=alpha
                        PROBE_NAME=alpha
                        BITOPS_PROBE_TARGETS=module.a module.b
                        PROBE_TARGETS=module.a module.b
                        BITOPS_PROBE_ACTION=plan
                        PROBE_ACTION=plan
                        BITOPS_PROBE_SKIP=true
                        PROBE_SKIP=true
                        BITOPS_KUBE_CONFIG_PATH=./kube.yaml
                        KUBE_CONFIG_PATH=./kube.yaml

        [2/3] beta (plugin probe)
          folder        dev/beta
          plugin        <root>/plugins/probe
          before hooks  x.sh (with bash)
                        y.sh (with bash)
          deploy        bash <root>/plugins/probe/deploy.sh apply
          after hooks   none
          variables     BITOPS_PROBE_CLI=--name=from-default --verbose apply
                        BITOPS_PROBE_NAME=from-default
                        PROBE_NAME=from-default
                        BITOPS_PROBE_ACTION=apply
                        PROBE_ACTION=apply
                        BITOPS_PROBE_SKIP=false
                        PROBE_SKIP=false

        [3/3] gamma (plugin probe)
          folder        dev/gamma
          plugin        <root>/plugins/probe
          before hooks  none
          deploy        bash <root>/plugins/probe/deploy.sh plan
          after hooks   none
          variables     BITOPS_PROBE_CLI=--name=gamma --verbose plan
                        BITOPS_PROBE_NAME=gamma
                        PROBE_NAME=gamma
                        BITOPS_PROBE_ACTION=plan
                        PROBE_ACTION=plan
                        BITOPS_PROBE_SKIP=true
                        PROBE_SKIP=true

        Each step also gets the standard BITOPS_* variables (see --format json). Nothing was run.
        ",
    );
    assert_eq!(run.log(), "", "plan ran a hook or plugin");
    assert!(run.workspaces().is_empty(), "plan staged a workspace");
}

#[test]
fn plan_json_is_machine_readable() {
    let run = scenario()
        .cmd("plan", "dev")
        .args(&["--format", "json"])
        .run();
    run.code(0);
    let plan: serde_json::Value = serde_json::from_str(run.stdout_text()).unwrap();
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0]["alias"], "alpha");
    assert_eq!(
        steps[0]["env"]["BITOPS_PROBE_CLI"],
        "--name=alpha --target=module.a --target=module.b plan"
    );
    assert_eq!(steps[0]["env"]["BITOPS_ENVIRONMENT"], "dev");
    assert_eq!(
        steps[0]["before_hooks"][3]["skip_reason"],
        "not a .sh file and not executable"
    );
    assert_eq!(steps[1]["deploy"][2], "apply");
    assert_eq!(run.log(), "");
}
