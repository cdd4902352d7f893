//! BitOps compatibility: small plugins that behave like the public BitOps plugins in
//! what they rely on — `$1` read under `set -u`, hyphenated variables read with
//! `printenv`, `BITOPS_PLUGIN_DIR`, `BITOPS_FAIL_FAST` as written — and the calls bitops
//! makes, compared with what BitOps v2 makes.

use crate::test::{PROBE_SCHEMA, Test};

/// A plugin whose schema has no stack-action, and whose deploy script reads `$1` under
/// `set -u`, as the public plugins do.
fn strict_plugin(name: &str) -> Test {
    Test::new()
        .write(
            &format!("plugins/{name}/bitops.schema.yaml"),
            &format!("{name}:\n  type: object\n  properties:\n    cli:\n      type: object\n      properties:\n        verbose: {{type: boolean, parameter: verbose}}\n"),
        )
        .write(
            &format!("plugins/{name}/deploy.sh"),
            "set -euo pipefail\necho \"action=[$1] args=$#\"\n",
        )
        .write(
            "repo/dev/bitops.config.yaml",
            &format!("bitops:\n  deployments:\n    a: {{plugin: {name}}}\n"),
        )
        .write(
            "repo/dev/a/bitops.config.yaml",
            &format!("{name}:\n  cli:\n    verbose: true\n"),
        )
}

#[test]
fn a_plugin_without_stack_action_gets_an_empty_first_argument() {
    let run = strict_plugin("probe").cmd("deploy", "dev").run();
    run.code(0)
        .stdout_is("action=[] args=1\n")
        .stderr_has("  deploy script: bash <root>/plugins/probe/deploy.sh ''\n");
}

#[test]
fn a_hyphenated_plugin_reads_its_cli_variable_with_the_hyphen_kept() {
    let run = strict_plugin("example-plugin")
        .write(
            "plugins/example-plugin/deploy.sh",
            "set -euo pipefail\necho \"hyphen=[$(printenv 'BITOPS_EXAMPLE-PLUGIN_CLI')] underscore=[$BITOPS_EXAMPLE_PLUGIN_CLI]\"\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0)
        .stdout_is("hyphen=[--verbose] underscore=[--verbose]\n")
        .stderr_has("[1/1] a ok in");
}

fn env_probe(vars: &[&str]) -> Test {
    Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, vars)
        .deployments(&["a"])
}

#[test]
fn bitops_plugin_dir_has_bitops_meaning() {
    let run = env_probe(&["BITOPS_PLUGIN_DIR"]).cmd("deploy", "dev").run();
    run.code(0)
        .stdout_is("deployed a\n")
        .stderr_has("[1/1] a ok in")
        .log_is(
            "
        a deploy args=plan pwd=<ws>/dev/a
        a BITOPS_PLUGIN_DIR=/opt/bitops/scripts/plugins/
        ",
        );
    let run = env_probe(&["BITOPS_PLUGIN_DIR"])
        .env("BITOPS_PLUGIN_DIR", "/srv/bitops/plugins/")
        .cmd("deploy", "dev")
        .run();
    run.code(0)
        .stdout_is("deployed a\n")
        .stderr_has("[1/1] a ok in")
        .log_is(
            "
        a deploy args=plan pwd=<ws>/dev/a
        a BITOPS_PLUGIN_DIR=/srv/bitops/plugins/
        ",
        );
}

#[test]
fn bitops_fail_fast_is_exported_as_bitops_exports_it() {
    // A YAML boolean as Python prints it (`str(False)`), a variable as written.
    for (how, value, exported) in [
        ("file", "false", "False"),
        ("variable", "False", "False"),
        ("variable", "yes", "yes"),
    ] {
        let mut t = env_probe(&["BITOPS_FAIL_FAST"]);
        if how == "file" {
            t = t.write(
                "repo/dev/bitops.config.yaml",
                &format!(
                    "bitops:\n  fail_fast: {value}\n  deployments:\n    a: {{plugin: probe}}\n"
                ),
            );
        } else {
            t = t.env("BITOPS_FAIL_FAST", value);
        }
        let run = t.cmd("deploy", "dev").run();
        run.code(0)
            .stdout_is("deployed a\n")
            .stderr_has("[1/1] a ok in")
            .log_is(&format!(
                "
            a deploy args=plan pwd=<ws>/dev/a
            a BITOPS_FAIL_FAST={exported}
            "
            ));
    }
}

#[test]
fn bitops_builtin_plugins_dir_is_unset_when_no_built_in_plugin_runs() {
    let run = env_probe(&["BITOPS_BUILTIN_PLUGINS_DIR"])
        .cmd("deploy", "dev")
        .run();
    run.code(0)
        .stdout_is("deployed a\n")
        .stderr_has("[1/1] a ok in")
        .log_is(
            "
        a deploy args=plan pwd=<ws>/dev/a
        a BITOPS_BUILTIN_PLUGINS_DIR=<unset>
        ",
        );
    let run = env_probe(&[]).cmd("plan", "dev").run();
    run.code(0).stderr_is("");
    assert!(
        !run.stdout_text().contains("BITOPS_BUILTIN_PLUGINS_DIR"),
        "{}",
        run.stdout_text()
    );
    assert!(
        !run.stdout_text().contains("<built"),
        "{}",
        run.stdout_text()
    );
}

#[test]
fn an_empty_override_is_an_empty_value_not_unset() {
    let t = || {
        env_probe(&[]).write(
            "repo/dev/a/bitops.config.yaml",
            "probe:\n  cli:\n    stack-action: apply\n",
        )
    };
    let run = t()
        .env("BITOPS_PROBE_STACK_ACTION", "")
        .cmd("deploy", "dev")
        .run();
    run.code(0)
        .stdout_is("deployed a\n")
        .stderr_has("  deploy script: bash <root>/plugins/probe/deploy.sh ''\n")
        .log_is("a deploy args= pwd=<ws>/dev/a\n");
    let run = t()
        .env("BITOPS_PROBE_STACK_ACTION", "")
        .cmd("plan", "dev")
        .run();
    run.code(0)
        .stderr_is("")
        .stdout_has("bash <root>/plugins/probe/deploy.sh ''");
    let run = t()
        .write(
            "plugins/probe/bitops.schema.yaml",
            "probe:\n  type: object\n  properties:\n    cli:\n      type: object\n      properties:\n        name: {type: string, parameter: name, required: true}\n",
        )
        .write("repo/dev/a/bitops.config.yaml", "probe:\n  cli:\n    name: from-config\n")
        .env("BITOPS_PROBE_NAME", "")
        .cmd("deploy", "dev")
        .run();
    run.code(1)
        .stdout_is("")
        .stderr_has(
            "`probe.cli.name`: $BITOPS_PROBE_NAME is set but empty, and `cli.name` needs a value",
        )
        .log_is("");
}

#[test]
fn a_config_keyed_by_the_alias_is_used_and_plan_and_validate_say_bitops_ignored_it() {
    let t = || {
        Test::new()
            .probe_plugin("probe", PROBE_SCHEMA, &["BITOPS_PROBE_CLI"])
            .write(
                "repo/dev/bitops.config.yaml",
                "bitops:\n  deployments:\n    network: {plugin: probe}\n",
            )
            .write(
                "repo/dev/network/bitops.config.yaml",
                "# the network stack\nnetwork:\n  cli:\n    name: vpc\n",
            )
    };
    let note = "warning: repo/dev/network/bitops.config.yaml:2: the root key is the deployment alias `network`, not the plugin name `probe`: bitops reads these values; BitOps v2 ignored them";
    t().cmd("plan", "dev")
        .run()
        .code(0)
        .stderr_has(note)
        .stdout_has("variables     BITOPS_PROBE_CLI=--name=vpc plan");
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
    run.code(0)
        .stdout_has("the root key is the deployment alias `network`");
    let run = t().cmd("deploy", "dev").run();
    run.code(0).stdout_is("deployed network\n").stderr_has(note);
    assert!(
        run.log()
            .contains("network BITOPS_PROBE_CLI=--name=vpc plan"),
        "{}",
        run.log()
    );
}

#[test]
fn plan_shows_bash_as_written_not_its_path() {
    let run = env_probe(&[])
        .hook("repo/dev/a/bitops.before-deploy.d/01.sh")
        .cmd("plan", "dev")
        .run();
    run.code(0)
        .stderr_is("")
        .stdout_has("before hooks  01.sh (with bash)")
        .stdout_has("deploy        bash <root>/plugins/probe/deploy.sh plan");
}

/// A schema in the short form (no `type: object` / `properties:` levels, at the root or
/// below) exports its settings exactly as the full form does, as BitOps reads both.
#[test]
fn a_short_form_schema_exports_its_settings() {
    let vars = [
        "BITOPS_PROBE_CLI",
        "GREETING",
        "BITOPS_GREETING",
        "SKIP",
        "KUBE_PATH",
    ];
    let short = "
        probe:
          cli:
            name: {type: string, parameter: name}
            stack-action: {type: string, default: plan}
          options:
            greeting:
              type: string
              export_env: GREETING
              default: hello
            skip: {type: boolean, export_env: SKIP}
            k8s:
              kubeconfig: {type: string, export_env: KUBE_PATH}
        ";
    let half = "
        probe:
          cli:
            type: object
            properties:
              name: {type: string, parameter: name}
              stack-action: {type: string, default: plan}
          options:
            greeting: {type: string, export_env: GREETING, default: hello}
            skip: {type: boolean, export_env: SKIP}
            k8s:
              type: object
              properties:
                kubeconfig: {type: string, export_env: KUBE_PATH}
        ";
    for schema in [short, half] {
        let run = Test::new()
            .probe_plugin("probe", schema, &vars)
            .deployments(&["a"])
            .write(
                "repo/dev/a/bitops.config.yaml",
                "probe:\n  cli: {name: web, stack-action: apply}\n  options: {skip: false, k8s: {kubeconfig: ./kc}}\n",
            )
            .cmd("deploy", "dev")
            .run();
        run.code(0)
            .stdout_is("deployed a\n")
            .stderr_has("[1/1] a ok in")
            .log_is(
                "
            a deploy args=apply pwd=<ws>/dev/a
            a BITOPS_PROBE_CLI=--name=web apply
            a GREETING=hello
            a BITOPS_GREETING=hello
            a SKIP=false
            a KUBE_PATH=./kc
            ",
            );
    }
}
