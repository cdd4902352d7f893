//! Shell completion that knows the repo: the script of `bitops completions bash`, sourced
//! in a real bash, completes environments, deployment aliases and plugin names from the
//! ops repo and plugins folder of the command line being completed, and still completes
//! subcommands and flags.

use crate::test::{PROBE_SCHEMA, Test};

#[test]
fn environment_names_for_e() {
    Test::new()
        .mkdir("repo/dev")
        .mkdir("repo/prod")
        .mkdir("repo/_default")
        .mkdir("repo/.github")
        .write("repo/README.md", "not an environment\n")
        .complete_bash("bitops deploy --ops-repo repo -e ")
        .code(0)
        .stdout_is(
            "
            dev
            prod
            ",
        )
        .stderr_is("");
}

#[test]
fn deployment_aliases_after_the_last_comma_of_only() {
    Test::new()
        .deployments(&["a", "b", "c"])
        .mkdir("repo/prod")
        .complete_bash("bitops deploy --ops-repo repo -e dev --only a,")
        .code(0)
        .stdout_is(
            "
            a,b
            a,c
            ",
        )
        .stderr_is("");
}

#[test]
fn plugin_names_for_plugins_show() {
    // The positional slot also offers the flags, as it always has.
    Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .complete_bash("bitops plugins --plugins-dir plugins show ")
        .code(0)
        .stdout_is(
            "
            ansible
            aws
            cloudformation
            helm
            kubectl
            probe
            terraform
            --plugins-dir
            --format
            --help
            --version
            ",
        )
        .stderr_is("");
}

#[test]
fn the_ops_repo_and_environment_from_the_variables_when_not_typed() {
    Test::new()
        .deployments(&["net", "app"])
        .env("BITOPS_OPS_REPO", "repo")
        .env("BITOPS_ENVIRONMENT", "dev")
        .complete_bash("bitops plan --skip ")
        .code(0)
        .stdout_is(
            "
            net
            app
            ",
        )
        .stderr_is("");
}

#[test]
fn a_repo_that_cannot_be_read_offers_nothing_quietly() {
    for line in [
        "bitops deploy --ops-repo missing -e ",
        "bitops deploy --ops-repo repo -e nope --only ",
        "bitops deploy --ops-repo repo -e broken --skip ",
        "bitops deploy --ops-repo repo -e dev -c missing.yaml --only ",
    ] {
        Test::new()
            .deployments(&["a"])
            .write("repo/broken/bitops.config.yaml", "bitops: [\n")
            .complete_bash(line)
            .code(0)
            .stdout_is("")
            .stderr_is("");
    }
}

#[test]
fn subcommands_and_flags_still_complete() {
    Test::new()
        .complete_bash("bitops ")
        .code(0)
        .stdout_is(
            "
            deploy
            plan
            validate
            install
            doctor
            list
            plugins
            resolve
            schema
            agent
            hub
            completions
            help
            --help
            --version
            ",
        )
        .stderr_is("");
    Test::new()
        .complete_bash("bitops deploy --dry")
        .code(0)
        .stdout_is(
            "
            --dry-run
            --dry-run-hooks
            ",
        );
    Test::new()
        .complete_bash("bitops deploy --ops-repo rep")
        .code(0)
        .stdout_is("repo/\n");
}

#[test]
fn the_variable_alone_changes_nothing() {
    // Only `bitops -- WORDS…`, what the scripts run, is a request for candidates.
    Test::new()
        .mkdir("repo/dev")
        .env("BITOPS_COMPLETE", "bash")
        .args(&["list", "--ops-repo", "repo", "--format", "json"])
        .run()
        .code(0)
        .stdout_has("\"name\": \"dev\"");
}
