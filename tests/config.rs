//! Core config layers, tool config resolution and the errors bad input gets.

use crate::test::{Test, probe_schema};

fn schema() -> String {
    probe_schema(
        "
        forks: {type: integer, parameter: forks}
        verbose: {type: boolean, parameter: verbose}
        tags: {type: list, parameter: tag}
        ",
        "region: {type: string, export_env: PROBE_REGION}",
    )
}

fn base() -> Test {
    Test::new()
        .probe_plugin("probe", &schema(), &["BITOPS_PROBE_CLI", "PROBE_REGION"])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    one: {plugin: probe}\n",
        )
        .write(
            "repo/dev/one/bitops.config.yaml",
            "probe:\n  cli: {name: one}\n",
        )
}

#[test]
fn missing_environment_is_an_error_listing_the_environments() {
    base()
        .mkdir("repo/prod")
        .mkdir("repo/_default")
        .args(&["deploy", "--ops-repo", "repo", "--plugins-dir", "plugins"])
        .run()
        .code(1)
        .stderr_is(
            "
            error: no environment given
              hint: pass -e ENV or set BITOPS_ENVIRONMENT; environments in repo: dev, prod
            ",
        );
}

#[test]
fn environment_from_bitops_environment_and_deprecated_environment() {
    base()
        .args(&[
            "deploy",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
            "--color",
            "never",
        ])
        .env("BITOPS_ENVIRONMENT", "dev")
        .run()
        .code(0)
        .stdout_is("deployed one\n")
        .stderr_lacks("deprecated");
    let run = base()
        .args(&[
            "deploy",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
            "--color",
            "never",
        ])
        .env("ENVIRONMENT", "dev")
        .run();
    run.code(0)
        .stdout_is("deployed one\n")
        .stderr_has("warning: ENVIRONMENT is deprecated; set BITOPS_ENVIRONMENT instead");
    assert!(run.log().contains("one deploy args=plan"));
}

#[test]
fn unknown_environment_and_default_folder_are_refused() {
    base().cmd("deploy", "qa").run().code(1).stderr_is(
        "
        error: environment `qa` not found: there is no folder repo/qa
          hint: environments in repo: dev
        ",
    );
    base()
        .mkdir("repo/_default")
        .cmd("deploy", "_default")
        .run()
        .code(1)
        .stderr_has("`_default` is not an environment");
    base()
        .cmd("deploy", "../dev")
        .run()
        .code(1)
        .stderr_has("is not a valid name");
}

#[test]
fn image_config_needs_the_bitops_root_key() {
    base()
        .write("core.yaml", "deployments: {}\n")
        .cmd("deploy", "dev")
        .args(&["-c", "core.yaml"])
        .run()
        .code(1)
        .stderr_is(
            "
            error: core.yaml:1: the root key must be `bitops`
              hint: put every core setting under a top-level `bitops:` key
            ",
        );
}

#[test]
fn deployments_come_from_the_environment_file_else_the_image_file() {
    let t = base()
        .write(
            "core.yaml",
            "bitops:\n  deployments:\n    two: {plugin: probe}\n    one: {plugin: probe}\n",
        )
        .write(
            "repo/dev/two/bitops.config.yaml",
            "probe:\n  cli: {name: two}\n",
        );
    // the environment-level file wins
    let run = t.cmd("deploy", "dev").args(&["-c", "core.yaml"]).run();
    run.code(0).stdout_is("deployed one\n").stderr_is(
        "
        warning: repo/dev/two/bitops.config.yaml: tool folder `two` has a bitops.config.yaml but is in none of this environment's deployments, so it will not be deployed
          hint: add `two: {plugin: PLUGIN}` under `bitops.deployments` in dev/bitops.config.yaml
        [1/1] one (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/1] one ok in <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   one         probe   <t> ok
          1 ok in <t>
        ",
    );
    assert!(!run.log().contains("two deploy"), "{}", run.log());
    // without one, the image file's order is kept (BITOPS_BUILD_CONFIG_YAML names it)
    let run = base()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  fail_fast: true\n",
        )
        .write(
            "core.yaml",
            "bitops:\n  deployments:\n    two: {plugin: probe}\n    one: {plugin: probe}\n",
        )
        .write(
            "repo/dev/two/bitops.config.yaml",
            "probe:\n  cli: {name: two}\n",
        )
        .cmd("deploy", "dev")
        .env("BITOPS_BUILD_CONFIG_YAML", "core.yaml")
        .run();
    run.code(0).log_is(
        "
        two deploy args=plan pwd=<ws>/dev/two
        two BITOPS_PROBE_CLI=--name=two plan
        two PROBE_REGION=<unset>
        one deploy args=plan pwd=<ws>/dev/one
        one BITOPS_PROBE_CLI=--name=one plan
        one PROBE_REGION=<unset>
        ",
    );
    run.stdout_is("deployed two\ndeployed one\n").stderr_is(
        "
        [1/2] two (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/2] two ok in <t>
        [2/2] one (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [2/2] one ok in <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   two         probe   <t> ok
          2   one         probe   <t> ok
          2 ok in <t>
        ",
    );
}

#[test]
fn no_deployments_at_all_is_an_error() {
    base()
        .write("repo/dev/bitops.config.yaml", "bitops:\n  fail_fast: true\n")
        .write("core.yaml", "bitops:\n  logging: {level: INFO}\n")
        .cmd("deploy", "dev")
        .args(&["-c", "core.yaml"])
        .run()
        .code(1)
        .stderr_is(
            "
            warning: repo/dev/one/bitops.config.yaml: tool folder `one` has a bitops.config.yaml but is in none of this environment's deployments, so it will not be deployed
              hint: add `one: {plugin: PLUGIN}` under `bitops.deployments` in dev/bitops.config.yaml
            error: no deployments are configured
              hint: list them under `bitops.deployments` in repo/dev/bitops.config.yaml or in the image-level config (-c)
            ",
        );
}

#[test]
fn env_values_beat_the_config_and_are_typed() {
    let run = base()
        .write(
            "repo/dev/one/bitops.config.yaml",
            "probe:\n  cli: {name: one, verbose: true, forks: 0}\n  options: {region: eu-west-1}\n",
        )
        .cmd("deploy", "dev")
        .env("BITOPS_PROBE_VERBOSE", "false")
        .env("BITOPS_PROBE_TAGS", "a b")
        .env("BITOPS_PROBE_REGION", "us-east-2")
        .run();
    // `false` from the environment drops the flag (BitOps would pass `--verbose=false`);
    // `0` in the config is a real value (BitOps would fall back to the default).
    run.code(0).log_is(
        "
        one deploy args=plan pwd=<ws>/dev/one
        one BITOPS_PROBE_CLI=--name=one --forks=0 --tag=a --tag=b plan
        one PROBE_REGION=us-east-2
        ",
    );
    run.stdout_is("deployed one\n")
        .stderr_is(&crate::test::one_ok_step(
            "one",
            "probe",
            &["  deploy script: bash <root>/plugins/probe/deploy.sh plan"],
        ));
    base()
        .cmd("deploy", "dev")
        .env("BITOPS_PROBE_FORKS", "many")
        .run()
        .code(1)
        .stderr_is(
            "error: `probe.cli.forks`: $BITOPS_PROBE_FORKS must be an integer, found `many`\n",
        );
}

#[test]
fn missing_tool_config_or_schema_exits_2() {
    let run = base()
        .write("repo/dev/one/main.tf", "\n")
        .cmd("deploy", "dev");
    std::fs::remove_file(run.root().join("repo/dev/one/bitops.config.yaml")).unwrap();
    run.run().code(2).stderr_is(
        "
        error: repo/dev/one/bitops.config.yaml: the tool folder has no bitops.config.yaml
          hint: create it with a `probe:` root key (it may be `probe: {}`)
        ",
    );
    let t = base().cmd("deploy", "dev");
    std::fs::remove_file(t.root().join("plugins/probe/bitops.schema.yaml")).unwrap();
    t.run().code(2).stderr_is(
        "
        error: <root>/plugins/probe/bitops.schema.yaml: plugin `probe` has no bitops.schema.yaml
          hint: reinstall the plugin, or set `core_schema_parsing: false` in its plugin.config.yaml
        ",
    );
}

#[test]
fn missing_deploy_script_exits_1() {
    let t = base().cmd("deploy", "dev");
    std::fs::remove_file(t.root().join("plugins/probe/deploy.sh")).unwrap();
    t.run().code(1).stderr_is(
        "
        error: <root>/plugins/probe/deploy.sh: the plugin's deploy script `deploy.sh` is missing
          hint: reinstall the plugin, or fix `plugin.deployment.deployment_script` in its plugin.config.yaml
        ",
    );
}

#[test]
fn errors_of_every_step_are_reported_together() {
    let schema = "
        probe:
          properties:
            cli:
              properties:
                stack-action: {type: string, required: true}
                name: {type: string, required: true}
    ";
    let run = Test::new()
        .probe_plugin("probe", schema, &[])
        .write("repo/dev/bitops.config.yaml", "bitops:\n  deployments:\n    one: {plugin: probe}\n    two: {plugin: probe}\n    three: {plugin: nope}\n")
        .write("repo/dev/one/bitops.config.yaml", "probe: {}\n")
        .write("repo/dev/two/bitops.config.yaml", "probe:\n  cli:\n    name: [a, b]\n    stack-action: plan\n")
        .mkdir("repo/dev/three")
        .hook("repo/dev/one/bitops.before-deploy.d/01.sh")
        .cmd("deploy", "dev")
        .run();
    // The hint lists the installed and built-in plugins; the built-in ones vary.
    let hint = regex::Regex::new(
        r"(?m)^  hint: plugins installed in <root>/plugins or built in: .*\bprobe\b.*$",
    )
    .unwrap();
    let stderr = hint
        .replace(
            &run.stderr(),
            "  hint: plugins installed in <root>/plugins or built in: ..., probe, ...",
        )
        .into_owned();
    run.code(1);
    assert_eq!(
        stderr,
        crate::test::unindent(
            "
            error: repo/dev/one/bitops.config.yaml:1: `probe.cli.stack-action`: required value `cli.stack-action` is not set
              hint: set it in the tool's bitops.config.yaml or with $BITOPS_PROBE_STACK_ACTION
            error: repo/dev/one/bitops.config.yaml:1: `probe.cli.name`: required value `cli.name` is not set
              hint: set it in the tool's bitops.config.yaml or with $BITOPS_PROBE_NAME
            error: repo/dev/two/bitops.config.yaml:3: `probe.cli.name`: must be a single value, found a list
            error: repo/dev/bitops.config.yaml:5: `bitops.deployments.three.plugin`: unknown plugin `nope` for deployment `three`
              hint: plugins installed in <root>/plugins or built in: ..., probe, ...
            4 errors found; nothing was run
            "
        )
    );
    assert_eq!(run.log(), "");
}

#[test]
fn unknown_keys_far_from_any_known_key_are_warnings_and_ignored() {
    let run = base()
        .write(
            "repo/dev/one/bitops.config.yaml",
            "probe:\n  cli:\n    name: one\n    colour: true\n  extras: {}\n",
        )
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  notes: hi\n  deployments:\n    one: {plugin: probe, owner: me}\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0)
        .stderr_has("warning: repo/dev/bitops.config.yaml:2: `bitops.notes`: unknown core setting `notes`; it is ignored\n")
        .stderr_has("warning: repo/dev/bitops.config.yaml:4: `bitops.deployments.one.owner`: unknown deployment setting `owner`; it is ignored\n  hint: a deployment takes `plugin`, `timeout` and `depends_on`\n")
        .stderr_has("warning: repo/dev/one/bitops.config.yaml:4: `probe.cli.colour`: unknown key: the plugin's schema does not define it; it is ignored\n")
        .stderr_has("warning: repo/dev/one/bitops.config.yaml:5: `probe.extras`: unknown key")
        .stdout_is("deployed one\n");
    assert!(run.log().contains("one deploy"));
}

#[test]
fn a_close_miss_of_a_known_key_is_an_error_in_every_command() {
    // Each of these, ignored, would run something other than the config says: a plan
    // instead of an apply, no fail_fast, no ordering, a pin not applied.
    let t = || {
        Test::new()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  fail_fsat: false\n  plugins:\n    terraform:\n      source: builtin\n      source_tga: v1\n  deployments:\n    network: {plugin: terraform}\n    app:\n      plugin: terraform\n      dependson: [network]\n",
        )
        .write(
            "repo/dev/network/bitops.config.yaml",
            "terraform:\n  cli:\n    stack_action: apply\n",
        )
        .write("repo/dev/app/bitops.config.yaml", "terraform: {}\n")
    };
    let errors = "\
error: repo/dev/bitops.config.yaml:2: `bitops.fail_fsat`: unknown core setting `fail_fsat`: did you mean `fail_fast`? A misspelt key would be ignored, and the run would not do what the config says
  hint: rename it to `fail_fast`
error: repo/dev/bitops.config.yaml:6: `bitops.plugins.terraform.source_tga`: unknown plugin setting `source_tga`: did you mean `source_tag`? A misspelt key would be ignored, and the run would not do what the config says
  hint: rename it to `source_tag`
error: repo/dev/bitops.config.yaml:11: `bitops.deployments.app.dependson`: unknown deployment setting `dependson`: did you mean `depends_on`? A misspelt key would be ignored, and the run would not do what the config says
  hint: rename it to `depends_on`
error: repo/dev/network/bitops.config.yaml:3: `terraform.cli.stack_action`: unknown key: the plugin's schema does not define it: did you mean `stack-action`? A misspelt key would be ignored, and the run would not do what the config says
  hint: rename it to `stack-action`
";
    for command in ["deploy", "plan"] {
        let run = t().cmd(command, "dev").run();
        run.code(1)
            .stdout_is("")
            .stderr_is(&format!("{errors}4 errors found; nothing was run\n"));
    }
    let run = t().cmd("validate", "dev").run();
    run.code(1).stdout_is(&format!(
        "{errors}4 errors and 0 warnings found in 1 environment (dev)\n"
    ));
}

#[test]
fn yaml_syntax_errors_name_file_and_line() {
    base()
        .write(
            "repo/dev/one/bitops.config.yaml",
            "probe:\n  cli:\n    name: [one\n",
        )
        .cmd("deploy", "dev")
        .run()
        .code(1)
        .stderr_has(
            "error: repo/dev/one/bitops.config.yaml:3: invalid YAML: this `[` is never closed",
        );
}

#[test]
fn bad_names_in_deployments_are_refused() {
    base()
        .write("repo/dev/bitops.config.yaml", "bitops:\n  deployments:\n    ../etc: {plugin: probe}\n    ok: {plugin: a/b}\n")
        .cmd("deploy", "dev")
        .run()
        .code(1)
        .stderr_is(
            "
            warning: repo/dev/one/bitops.config.yaml: tool folder `one` has a bitops.config.yaml but is in none of this environment's deployments, so it will not be deployed
              hint: add `one: {plugin: PLUGIN}` under `bitops.deployments` in dev/bitops.config.yaml
            error: repo/dev/bitops.config.yaml:3: `bitops.deployments.../etc`: `../etc` is not a valid deployment name (a path with `..`): use a folder of the environment, such as `terraform` or `terraform/aws`: letters, digits, `_`, `.` and `-` in each part, parts joined by `/`, no `..`
            error: repo/dev/bitops.config.yaml:4: `bitops.deployments.ok.plugin`: `a/b` is not a valid name: use letters, digits, `_`, `.` and `-` only (no `/`, not `..`)
            2 errors found; nothing was run
            ",
        );
}

#[test]
fn validate_config_run_mode_runs_nothing() {
    let run = base()
        .cmd("deploy", "dev")
        .env("BITOPS_MODE", "validate_config")
        .run();
    run.code(0)
        .stderr_is("run_mode validate_config: the configuration is valid; nothing was run\n");
    assert_eq!(run.log(), "");
}

#[test]
fn the_summary_lists_every_step() {
    // The image-level sequence lists `missing`, which this environment lacks: skipped.
    let t = base().write(
        "core.yaml",
        "bitops:\n  deployments:\n    one: {plugin: probe}\n    missing: {plugin: probe}\n",
    );
    std::fs::remove_file(t.root().join("repo/dev/bitops.config.yaml")).unwrap();
    t.cmd("deploy", "dev")
        .args(&["-c", "core.yaml"])
        .run()
        .code(0)
        .stdout_is("deployed one\n")
        .stderr_is(
            "
            [1/2] one (plugin probe)
              deploy script: bash <root>/plugins/probe/deploy.sh plan
            [1/2] one ok in <t>
            [2/2] missing (plugin probe)
            warning: core.yaml:4: `bitops.deployments.missing`: tool folder dev/missing not found; skipping `missing`
            [2/2] missing skipped
            Summary for environment `dev`:
              #   deployment  plugin  time      result
              1   one         probe   <t> ok
              2   missing     probe   <t> skipped (tool folder dev/missing not found)
              1 ok, 1 skipped in <t>
            ",
        );
}

#[test]
fn help_shows_realistic_examples() {
    for command in ["deploy", "plan"] {
        let run = Test::new().args(&[command, "--help"]).run();
        run.code(0)
            .stdout_has("Examples:")
            .stdout_has(&format!("bitops {command} -e dev"));
        for flag in [
            "--environment",
            "--ops-repo",
            "--config",
            "--plugins-dir",
            "--log-level",
            "--color",
        ] {
            run.stdout_has(flag);
        }
    }
    Test::new()
        .args(&["deploy", "--help"])
        .run()
        .code(0)
        .stdout_has("--keep-workspace");
}

/// Each command's help starts with what the command does (its first line is the
/// command's own description, not that of a group of flags it shares).
#[test]
fn each_commands_help_starts_with_what_it_does() {
    for (command, first) in [
        ("deploy", "Run the deployments of one environment"),
        ("plan", "Show what `deploy` would run"),
        (
            "validate",
            "Check the configuration of one or every environment",
        ),
        (
            "install",
            "Install the plugins listed under `bitops.plugins`",
        ),
        ("list", "List the environments of the ops repo"),
        ("agent", "Take jobs from a hub"),
    ] {
        let run = Test::new().args(&[command, "--help"]).run();
        run.code(0);
        let text = run.stdout();
        assert!(
            text.lines().next().unwrap_or_default().starts_with(first),
            "`bitops {command} --help` starts with:\n{}",
            text.lines().next().unwrap_or_default()
        );
    }
}

#[test]
fn without_an_image_config_the_built_in_one_deploys_the_standard_tools() {
    let run = base()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  fail_fast: true\n",
        )
        .write("repo/dev/terraform/bitops.config.yaml", "terraform: {}\n")
        .cmd("plan", "dev")
        .run();
    run.code(0).stderr_is(
        "
        warning: repo/dev/one/bitops.config.yaml: tool folder `one` has a bitops.config.yaml but is in none of this environment's deployments, so it will not be deployed
          hint: add `one: {plugin: PLUGIN}` under `bitops.deployments` in dev/bitops.config.yaml
        ",
    );
    for (i, tool) in [(1, "cloudformation"), (3, "helm"), (4, "ansible")] {
        run.stdout_has(&format!(
            "[{i}/4] {tool} (plugin {tool})\n  skipped: tool folder dev/{tool} not found"
        ));
    }
    run.stdout_has("[2/4] terraform (plugin terraform)\n  folder        dev/terraform\n");
}

#[test]
fn dry_run_exports_the_flag_and_skips_hooks_unless_asked() {
    let t = || {
        Test::new()
            .probe_plugin("probe", &schema(), &["BITOPS_DRY_RUN"])
            .write(
                "repo/dev/bitops.config.yaml",
                "bitops:\n  deployments:\n    one: {plugin: probe}\n",
            )
            .write("repo/dev/one/bitops.config.yaml", "probe: {}\n")
            .hook("repo/dev/one/bitops.before-deploy.d/01.sh")
            .hook("repo/dev/one/bitops.after-deploy.d/02.sh")
    };
    let run = t().cmd("deploy", "dev").args(&["--dry-run"]).run();
    run.code(0).stdout_is("deployed one\n").log_is(
        "
        one deploy args=plan pwd=<ws>/dev/one
        one BITOPS_DRY_RUN=true
        ",
    );
    run.stderr_has("  skipping before hook 01.sh: dry run (--dry-run-hooks runs hooks)\n")
        .stderr_has("  skipping after hook 02.sh: dry run (--dry-run-hooks runs hooks)\n")
        .stderr_has("Summary for environment `dev` (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks):");
    t().cmd("deploy", "dev")
        .env("BITOPS_DRY_RUN", "true")
        .args(&["--dry-run-hooks"])
        .run()
        .code(0)
        .log_is(
            "
        one hook 01.sh
        one deploy args=plan pwd=<ws>/dev/one
        one BITOPS_DRY_RUN=true
        one hook 02.sh
        ",
        )
        .stdout_is("deployed one\n")
        .stderr_is(
            "
            [1/1] one (plugin probe)
              before hook 01.sh: bash <ws>/dev/one/bitops.before-deploy.d/01.sh
              deploy script: bash <root>/plugins/probe/deploy.sh plan
              after hook 02.sh: bash <ws>/dev/one/bitops.after-deploy.d/02.sh
            [1/1] one ok in <t>
            Summary for environment `dev` (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks):
              #   deployment  plugin  time      result
              1   one         probe   <t> ok
              1 ok in <t>
            ",
        );
    // without it, nothing says dry run
    t().cmd("deploy", "dev")
        .run()
        .code(0)
        .log_is(
            "
            one hook 01.sh
            one deploy args=plan pwd=<ws>/dev/one
            one BITOPS_DRY_RUN=<unset>
            one hook 02.sh
            ",
        )
        .stdout_is("deployed one\n")
        .stderr_is(&crate::test::one_ok_step(
            "one",
            "probe",
            &[
                "  before hook 01.sh: bash <ws>/dev/one/bitops.before-deploy.d/01.sh",
                "  deploy script: bash <root>/plugins/probe/deploy.sh plan",
                "  after hook 02.sh: bash <ws>/dev/one/bitops.after-deploy.d/02.sh",
            ],
        ));
    let plan = t().cmd("plan", "dev").args(&["--dry-run"]).run();
    plan.code(0)
        .stdout_has(
            "Dry run: every step gets BITOPS_DRY_RUN=true and takes its plugin's no-change path.\n",
        )
        .stdout_has("before hooks  01.sh skipped: dry run (--dry-run-hooks runs hooks)\n");
}

#[test]
fn subfolder_configs_are_checked_by_plan_and_resolved_by_the_plugin() {
    let t = || {
        Test::new()
            .write("plugins/charts/bitops.schema.yaml", &schema().replace("probe:", "charts:"))
            .write("plugins/charts/plugin.config.yaml", "plugin:\n  deployment: {subfolder_configs: true}\n")
            .write(
                "plugins/charts/deploy.sh",
                "for d in */; do\n  eval \"$(\"$BITOPS_BIN\" resolve --config \"$d/bitops.config.yaml\" --config bitops.config.yaml)\"\n  echo \"${d%/}: $BITOPS_CHARTS_CLI region=${PROBE_REGION:-none}\"\ndone\n",
            )
            .write("repo/dev/bitops.config.yaml", "bitops:\n  deployments:\n    charts: {}\n")
            .write("repo/dev/charts/bitops.config.yaml", "charts:\n  options: {region: eu}\n")
            .write("repo/dev/charts/api/bitops.config.yaml", "charts:\n  cli: {name: api, tags: [x]}\n")
            .write("repo/dev/charts/web/bitops.config.yaml", "charts:\n  cli: {name: web}\n  options: {region: us}\n")
    };
    let run = t().cmd("deploy", "dev").run();
    run.code(0).stdout_is(
        "
        api: --name=api --tag=x plan region=eu
        web: --name=web plan region=us
        ",
    );
    run.stderr_is(&crate::test::one_ok_step(
        "charts",
        "charts",
        &["  deploy script: bash <root>/plugins/charts/deploy.sh ''"],
    ));
    // a mistake in one chart's config is found before anything runs, with its line
    let run = t()
        .write(
            "repo/dev/charts/web/bitops.config.yaml",
            "charts:\n  cli:\n    forks: lots\n",
        )
        .cmd("plan", "dev")
        .run();
    run.code(1).stderr_is("error: repo/dev/charts/web/bitops.config.yaml:3: `charts.cli.forks`: must be an integer, found a string `lots`\n");
}

#[test]
fn files_a_built_in_plugin_reads_are_looked_up_before_step_1() {
    let run = Test::new()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    stack: {plugin: cloudformation}\n    configure: {plugin: ansible}\n",
        )
        .write(
            "repo/dev/stack/bitops.config.yaml",
            "cloudformation:\n  options:\n    cfn-stack-name: web\n    cfn-files:\n      template-file: template.yml\n      parameters:\n        template-param-file: params.json\n",
        )
        .write("repo/dev/stack/template.yaml", "Resources: {}\n")
        // an inventory that an earlier step may write: left to the run
        .write(
            "repo/dev/configure/bitops.config.yaml",
            "ansible:\n  cli:\n    inventory: inventory.yaml\n",
        )
        .write("repo/dev/configure/playbook.yaml", "[]\n")
        .cmd("validate", "dev")
        .run();
    run.code(1)
        .stdout_has("error: repo/dev/stack/bitops.config.yaml:5: `cloudformation.options.cfn-files.template-file`: `template.yml` is not in dev/stack, but `template.yaml` is: the cloudformation plugin would fail on it\n  hint: set `template-file: template.yaml` in the tool's bitops.config.yaml, or rename the file\n")
        .stdout_has("error: repo/dev/stack/bitops.config.yaml:7: `cloudformation.options.cfn-files.parameters.template-param-file`: `params.json` is not in dev/stack, and no hook or earlier step writes it first: the cloudformation plugin would fail on it\n")
        .stdout_lacks("inventory.yaml")
        .stdout_has("2 errors and ");
}

#[test]
fn an_output_read_from_a_step_that_will_publish_none_is_an_error_at_the_reference() {
    let run = Test::new()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    network: {plugin: terraform, depends_on: []}\n    old: {plugin: terraform, depends_on: []}\n    configure:\n      plugin: ansible\n      depends_on: [network, old]\n",
        )
        .write("repo/dev/network/bitops.config.yaml", "terraform:\n  cli: {stack-action: plan}\n")
        .write("repo/dev/network/main.tf", "output \"subnet\" { value = \"10.0.1.0/24\" }\n")
        .write("repo/dev/old/bitops.config.yaml", "terraform:\n  cli: {stack-action: destroy}\n")
        .write(
            "repo/dev/old/main.tf",
            "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n}\n",
        )
        .write(
            "repo/dev/configure/bitops.config.yaml",
            "ansible:\n  cli:\n    extra-vars: >-\n      subnet=${{ outputs.network.subnet }}\n      old=${{ outputs.old.id }}\n",
        )
        .write("repo/dev/configure/playbook.yaml", "[]\n")
        .cmd("validate", "dev")
        .run();
    run.code(1)
        .stdout_has("error: repo/dev/configure/bitops.config.yaml:4: ${{ outputs.network.subnet }} reads an output of `network`, which will publish none in this run: its stack-action is `plan` and its state starts empty in bitops' private copy of the folder (no backend block in its .tf files), so `terraform output` has nothing\n  hint: run `network` with a stack-action that publishes its outputs, or take the value from elsewhere\n")
        .stdout_has("${{ outputs.old.id }} reads an output of `old`, which will publish none in this run: terraform publishes no outputs after `destroy`\n")
        .stdout_has("2 errors and ");
}

#[test]
fn under_github_actions_every_warning_is_an_annotation_with_its_file_and_line() {
    let t = base()
        .write(
            "core.yaml",
            "bitops:\n  deployments:\n    one: {plugin: probe}\n    missing: {plugin: probe}\n",
        )
        .write("repo/_default/one/notes.txt", "default\n")
        .write("repo/dev/one/notes.txt", "dev\n");
    std::fs::remove_file(t.root().join("repo/dev/bitops.config.yaml")).unwrap();
    let run = t
        .env("GITHUB_ACTIONS", "true")
        .cmd("deploy", "dev")
        .args(&["-c", "core.yaml"])
        .run();
    run.code(0).stderr_is("");
    run.stdout_has("::warning file=core.yaml,line=4,title=bitops%3A bitops.deployments.missing::tool folder dev/missing not found; skipping `missing`\n");
    let run = base()
        .write("repo/_default/one/notes.txt", "default\n")
        .write("repo/dev/one/notes.txt", "dev\n")
        .env("GITHUB_ACTIONS", "true")
        .cmd("validate", "dev")
        .run();
    run.code(0);
    run.stdout_has("::warning file=repo/dev/one/notes.txt,title=bitops%3A configuration::hides repo/_default/one/notes.txt%0A");
    // The built-in config is no file on disk: the annotation names none (nor a line).
    let run = Test::new()
        .write("repo/dev/terraform/bitops.config.yaml", "terraform: {}\n")
        .write("repo/dev/terraform/main.tf", "\n")
        .env("GITHUB_ACTIONS", "true")
        .cmd("validate", "dev")
        .run();
    run.code(0).stderr_any("not examined");
    run.stdout_has("::warning title=bitops%3A bitops.deployments.helm::deployment `helm`: tool folder dev/helm not found; it will be skipped%0A");
}
