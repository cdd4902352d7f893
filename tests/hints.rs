//! Mistakes whose cause is known get a hint that names it: habits from `docker run`, one
//! dash for two, the environment as a word, `--only a b`, bitops run inside a tool folder,
//! tool folders at the repo root, `--plugins-dir` at one plugin's folder.

use crate::test::Test;

/// The `tip:` line clap prints for a command line, with its exit code 2.
fn tip(args: &[&str]) -> String {
    let run = Test::new().args(args).run();
    run.code(2).stdout_is("");
    let stderr = run.stderr();
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("  tip: "))
        .unwrap_or_else(|| panic!("no tip in:\n{stderr}"))
        .to_string()
}

#[test]
fn command_line_habits_get_a_tip_naming_the_cause() {
    assert_eq!(
        tip(&["deploy", "-dry-run"]),
        "long flags take two dashes: `--dry-run`"
    );
    assert_eq!(
        tip(&["plan", "-e", "dev", "-ops-repo", "x"]),
        "long flags take two dashes: `--ops-repo`"
    );
    assert_eq!(
        tip(&["deploy", "dev"]),
        "the environment is a flag: `bitops deploy -e dev` (or BITOPS_ENVIRONMENT=dev)"
    );
    for flag in ["-v", "--rm"] {
        assert_eq!(
            tip(&["deploy", flag, "ops:/opt/bitops_deployment"]),
            format!(
                "`{flag}` is a `docker run` flag: it goes before the image name (`docker run --rm -v \"$PWD:/opt/bitops_deployment\" -e BITOPS_ENVIRONMENT=dev IMAGE`); bitops itself takes `--ops-repo DIR` and `-e ENV`"
            )
        );
    }
    assert_eq!(
        tip(&["plan", "-e", "dev", "--only", "network", "app", "web"]),
        "give several deployments as one comma-separated list: `--only network,app,web`"
    );
}

#[test]
fn docker_s_e_name_value_is_not_an_environment() {
    Test::new()
        .mkdir("repo/dev")
        .args(&["plan", "-e", "BITOPS_ENVIRONMENT=dev", "--ops-repo", "repo"])
        .run()
        .code(1)
        .stderr_is("error: `environment`: `BITOPS_ENVIRONMENT=dev` is not an environment name\n  hint: bitops' `-e` takes the environment's name: `-e dev`; `-e BITOPS_ENVIRONMENT=dev` is `docker run`'s way to set a variable, and goes before the image name\n");
}

#[test]
fn run_inside_a_tool_or_environment_folder_the_hint_points_at_the_ops_repo() {
    let repo = || {
        Test::new()
            .write(
                "repo/dev/bitops.config.yaml",
                "bitops:\n  deployments:\n    terraform: {plugin: terraform}\n",
            )
            .write("repo/dev/terraform/bitops.config.yaml", "terraform: {}\n")
            .write("repo/dev/terraform/main.tf", "\n")
            .mkdir("repo/dev/terraform/bitops.before-deploy.d")
    };
    let run = repo().in_dir("repo/dev/terraform").args(&["plan"]).run();
    run.code(1).stderr_is("error: no environment given\n  hint: pass -e ENV or set BITOPS_ENVIRONMENT; <root>/repo/dev/terraform is the tool folder `terraform` of environment `dev`, not an ops repo: run bitops from the ops repo with `-e dev`, or pass `--ops-repo <root>/repo -e dev`\n");
    let run = repo()
        .in_dir("repo/dev")
        .args(&["plan", "-e", "prod"])
        .run();
    run.code(1).stderr_is("error: environment `prod` not found: there is no folder ./prod\n  hint: <root>/repo/dev holds tool folders (terraform), so it is an environment, not an ops repo: pass `--ops-repo <root>/repo -e dev`, or move the tool folders into an environment folder (`dev/terraform`)\n");
    // At the root, hook folders and tool folders are never offered as environments.
    let run = repo()
        .write("repo/ansible/bitops.config.yaml", "ansible: {}\n")
        .mkdir("repo/bitops.before-deploy.d")
        .args(&["plan", "-e", "prod", "--ops-repo", "repo"])
        .run();
    run.code(1).stderr_is("error: environment `prod` not found: there is no folder repo/prod\n  hint: environments in repo: dev (tool folders at the root, which are no environments: ansible, bitops.before-deploy.d)\n");
}

#[test]
fn plugins_dir_at_one_plugin_s_own_folder_is_named_as_the_cause() {
    let run = Test::new()
        .probe_plugin("probe", &crate::test::probe_schema("", ""), &[])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    one: {plugin: probe}\n",
        )
        .write("repo/dev/one/bitops.config.yaml", "probe: {}\n")
        .args(&[
            "plan",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins/probe",
        ])
        .run();
    run.code(1).stderr_is("error: repo/dev/bitops.config.yaml:3: `bitops.deployments.one.plugin`: unknown plugin `probe` for deployment `one`\n  hint: --plugins-dir <root>/plugins/probe is one plugin's own folder (it holds its bitops.schema.yaml): pass the folder that holds the plugins, `--plugins-dir <root>/plugins`\n");
}
