//! No silent no-ops: mistakes that used to pass quietly are reported, each with its
//! file and line, before anything runs.

use crate::test::{PROBE_SCHEMA, Test};

fn base() -> Test {
    Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
}

#[test]
fn a_misspelt_root_key_is_an_error_with_a_suggestion() {
    let run = base()
        .write(
            "repo/dev/a/bitops.config.yaml",
            "# settings\nprobs:\n  cli:\n    name: x\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1).stderr_is(
        "
        error: repo/dev/a/bitops.config.yaml:2: no `probe` root key (found `probs`), so none of this file's values would be used
          hint: did you mean `probe:` instead of `probs:`?
        ",
    );
    run.log_is("");
}

#[test]
fn a_subfolder_configs_tool_folder_is_checked_even_without_chart_configs() {
    let t = Test::new()
        .write(
            "plugins/charts/bitops.schema.yaml",
            "charts:\n  type: object\n  properties:\n    options:\n      type: object\n      properties:\n        namespace: {type: string, required: true}\n        timeout: {type: integer}\n",
        )
        .write("plugins/charts/plugin.config.yaml", "plugin:\n  deployment:\n    subfolder_configs: true\n")
        .write("plugins/charts/deploy.sh", "echo deployed\n")
        .write("repo/dev/bitops.config.yaml", "bitops:\n  deployments:\n    web: {plugin: charts}\n")
        .write("repo/dev/web/bitops.config.yaml", "charts:\n  options:\n    timeout: soon\n")
        .mkdir("repo/dev/web/chart-a");
    let run = t
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
        .stdout_has(
            "repo/dev/web/bitops.config.yaml:3: `charts.options.timeout`: must be an integer",
        )
        .stdout_has("`charts.options.namespace`: required value `options.namespace` is not set");
}

#[test]
fn a_folder_named_almost_like_a_hook_folder_is_a_warning() {
    let run = base()
        .hook("repo/dev/a/bitops.before-deploy/01.sh")
        .cmd("deploy", "dev")
        .run();
    run.code(0).stdout_is("deployed a\n").stderr_has(
        "warning: repo/dev/a/bitops.before-deploy: folder `bitops.before-deploy` is not a hook folder, so its scripts will not run (did you mean `bitops.before-deploy.d`?)",
    );
}

#[test]
fn a_tool_folder_in_no_deployment_is_a_warning_and_its_yaml_is_still_read() {
    let run = base()
        .write(
            "repo/dev/extra/bitops.config.yaml",
            "probe:\n  cli: [unclosed\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0)
        .stdout_is("deployed a\n")
        .stderr_has("warning: repo/dev/extra/bitops.config.yaml: tool folder `extra` has a bitops.config.yaml but is in none of this environment's deployments, so it will not be deployed")
        .stderr_has("warning: repo/dev/extra/bitops.config.yaml:2: invalid YAML: this `[` is never closed");
    // validate treats both as errors
    let run = base()
        .write("repo/dev/extra/bitops.config.yaml", "probe: {}\n")
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
        .stdout_has("error: repo/dev/extra/bitops.config.yaml: tool folder `extra`");
}

#[test]
fn an_environment_given_as_a_folder_path_is_accepted() {
    for name in ["dev/", "./dev", "./dev/"] {
        base()
            .cmd("deploy", name)
            .run()
            .code(0)
            .stdout_is("deployed a\n")
            .stderr_has("Summary for environment `dev`:");
    }
}

#[test]
fn an_unclosed_bracket_is_reported_where_it_opens() {
    let run = base()
        .write(
            "repo/dev/a/bitops.config.yaml",
            "probe:\n  cli:\n    name: [a, b\n  other: 1\nlater: 2\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1).stderr_has(
        "error: repo/dev/a/bitops.config.yaml:3: invalid YAML: this `[` is never closed (the parser noticed at line 4:",
    );
}

#[test]
fn a_hook_whose_interpreter_is_missing_says_so() {
    let run = base()
        .executable(
            "repo/dev/a/bitops.before-deploy.d/check",
            "#!/usr/bin/python9 -u\nprint('hi')\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(127).stdout_is("").stderr_has(
        "error: cannot start `<ws>/dev/a/bitops.before-deploy.d/check`: its interpreter `/usr/bin/python9` (from its #! line) is not installed",
    );
}

/// The quick-start repo without its image-level config (`-c`): the built-in sequence
/// names four tool folders the repo does not have. That run would deploy nothing and be
/// green; it is an error before step 1 that names `-c`, in `deploy` and in `plan`.
#[test]
fn a_run_in_which_every_deployment_would_be_skipped_is_an_error_naming_c() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let repo = examples.join("ops-repo");
    let plugins = examples.join("plugins");
    for command in ["deploy", "plan"] {
        let run = Test::new()
            .args(&[
                command,
                "-e",
                "dev",
                "--ops-repo",
                repo.to_str().unwrap(),
                "--plugins-dir",
                plugins.to_str().unwrap(),
                "--color",
                "never",
            ])
            .run();
        run.code(1).stdout_is("");
        run.stderr_has(
            "error: <built-in config>: `bitops.deployments`: every deployment would be skipped: the built-in config (BitOps' standard order) lists cloudformation, terraform, helm, ansible, and `dev` has none of these tool folders (its folders: app, network)\n  hint: pass the image-level config that lists this repo's deployments with `-c FILE` (or BITOPS_BUILD_CONFIG_YAML), or list them under `bitops.deployments` in dev/bitops.config.yaml\n",
        );
        run.log_is("");
    }
    // With some of the sequence's folders there, the others are skipped as in BitOps.
    let run = base()
        .write(
            "core.yaml",
            "bitops:\n  deployments:\n    a: {plugin: probe}\n    gone: {plugin: probe}\n",
        )
        .cmd("deploy", "dev")
        .args(&["-c", "core.yaml"]);
    std::fs::remove_file(run.root().join("repo/dev/bitops.config.yaml")).unwrap();
    let run = run.run();
    run.code(0).stdout_is("deployed a\n");
    run.stderr_has("  1 ok, 1 skipped in ");
}

/// `validate --all --strict` (the CI recipes' check) passes on a plain BitOps repo: the
/// image-level sequence names four tools, the environment has two of them; the other two
/// are skipped as BitOps skips them, shown as warnings that `--strict` leaves warnings.
#[test]
fn validate_strict_passes_on_a_repo_with_some_of_the_standard_folders() {
    let run = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .write(
            "core.yaml",
            "bitops:\n  deployments:\n    cloudformation: {plugin: probe}\n    terraform: {plugin: probe}\n    helm: {plugin: probe}\n    ansible: {plugin: probe}\n",
        )
        .write("repo/dev/terraform/bitops.config.yaml", "probe: {}\n")
        .write("repo/dev/ansible/bitops.config.yaml", "probe: {}\n")
        .args(&[
            "validate",
            "--all",
            "--strict",
            "-c",
            "core.yaml",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
            "--color",
            "never",
        ])
        .run();
    run.code(0);
    run.stdout_has("0 errors and 2 warnings found in 1 environment (dev)");
    run.stdout_has("warning: core.yaml:3: `bitops.deployments.cloudformation`: deployment `cloudformation`: tool folder dev/cloudformation not found; it will be skipped\n")
        .stdout_has("warning: core.yaml:5: `bitops.deployments.helm`: deployment `helm`: tool folder dev/helm not found; it will be skipped\n")
        .stdout_lacks("error:");
    run.stderr_is("");
}
