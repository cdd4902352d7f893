//! The built-in kubectl plugin with the real kubectl (`.ci/tools.sh`), which checks the
//! kubeconfig offline: KUBECONFIG_BASE64 is decoded into `$BITOPS_KUBE_CONFIG_FILE` for
//! the steps after it, mode 600, and never printed.

use std::os::unix::fs::PermissionsExt;

use crate::test::{Test, b64};
use crate::tools;

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://k8s.example.invalid:6443\"}\nusers:\n- name: u\n  user: {token: kube-token-do-not-print}\ncontexts:\n- name: dev-context\n  context: {cluster: c, user: u}\ncurrent-context: dev-context\n";

/// An ops repo with a `kubectl` deployment, then a `reader` step whose plugin reads the
/// file the kubectl step wrote (the workspace outlives the steps of one run).
fn test(path: &str) -> Test {
    Test::new()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    kubectl: {plugin: kubectl}\n    reader: {plugin: reader}\n",
        )
        .write("repo/dev/kubectl/bitops.config.yaml", "kubectl: {}\n")
        .write("repo/dev/reader/bitops.config.yaml", "reader: {}\n")
        .write("plugins/reader/bitops.schema.yaml", "reader: {type: object}\n")
        .write(
            "plugins/reader/deploy.sh",
            "f=$BITOPS_KUBE_CONFIG_FILE\n\
             echo \"mode $(stat -c %a \"$f\") folder $(stat -c %a \"$(dirname \"$f\")\") at ${f#$BITOPS_TEMPDIR/}\" >> \"$PROBE_LOG\"\n\
             cat \"$f\" >> \"$PROBE_LOG\"\n",
        )
        .env("PATH", path)
        .cmd("deploy", "dev")
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_kubeconfig_is_written_for_the_next_steps_with_mode_600_and_never_printed() {
    let path = tools::path_with(&["kubectl"]);
    let run = test(&path)
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .args(&["--keep-workspace"])
        .run();
    run.code(0);
    run.log_is(&format!(
        "mode 600 folder 700 at .kube/config\n{KUBECONFIG}"
    ));
    run.stdout_is(
        "
        kubectl: kubeconfig from KUBECONFIG_BASE64 written to .kube/config (mode 600)
        kubectl: contexts: dev-context
        ",
    );
    run.output_lacks("kube-token-do-not-print");
    run.output_lacks("k8s.example.invalid");
    // the kept workspace holds it too
    let ws = &run.workspaces()[0];
    let file = ws.join(".kube/config");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), KUBECONFIG);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // no temporary file is left next to it
    let names: Vec<_> = std::fs::read_dir(ws.join(".kube"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["config"]);
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_dry_run_writes_the_file_into_the_workspace_only() {
    let path = tools::path_with(&["kubectl"]);
    let run = test(&path)
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .args(&["--dry-run"])
        .run();
    run.code(0);
    run.stderr_is(
        "
        [1/2] kubectl (plugin kubectl)
          deploy script: bash <builtins>/kubectl/deploy.sh ''
        [1/2] kubectl ok in <t>
        [2/2] reader (plugin reader)
          deploy script: bash <root>/plugins/reader/deploy.sh ''
        [2/2] reader ok in <t>
        Summary for environment `dev` (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks):
          #   deployment  plugin   time      result
          1   kubectl     kubectl  <t> ok
          2   reader      reader   <t> ok
          2 ok in <t>
        ",
    );
    run.stdout_has(
        "kubectl: dry run: the kubeconfig is written into the private workspace only; no cluster is contacted\n",
    );
    assert!(
        run.log()
            .starts_with("mode 600 folder 700 at .kube/config\n")
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_missing_or_bad_variable_is_a_clear_error() {
    let path = tools::path_with(&["kubectl"]);
    let run = test(&path).run();
    run.code(1);
    run.stdout_is(
        "kubectl: error: KUBECONFIG_BASE64 is not set: set it to the base64 of a kubeconfig file (`base64 -w0 ~/.kube/config`)\n",
    );
    run.stderr_is(
        "
        [1/2] kubectl (plugin kubectl)
          deploy script: bash <builtins>/kubectl/deploy.sh ''
        [1/2] kubectl failed (deploy script, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin   time      result
          1   kubectl     kubectl  <t> failed (deploy script, exit 1)
          2   reader      reader   -         not run
          1 failed, 1 not run in <t>
        error: deploy script of `kubectl` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );
    assert_eq!(run.log(), "", "the next step ran");

    let run = test(&path)
        .env("KUBECONFIG_BASE64", "this is not base64!")
        .run();
    run.code(1);
    run.stdout_is("kubectl: error: KUBECONFIG_BASE64 is not valid base64; encode the kubeconfig with `base64 -w0 kubeconfig`\n");
    run.stderr_is(
        "
        [1/2] kubectl (plugin kubectl)
          deploy script: bash <builtins>/kubectl/deploy.sh ''
        [1/2] kubectl failed (deploy script, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin   time      result
          1   kubectl     kubectl  <t> failed (deploy script, exit 1)
          2   reader      reader   -         not run
          1 failed, 1 not run in <t>
        error: deploy script of `kubectl` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );

    let run = test(&path)
        .env(
            "KUBECONFIG_BASE64",
            &b64("token: kube-token-do-not-print\n["),
        )
        .run();
    run.code(1);
    run.stdout_is(
        "kubectl: error: KUBECONFIG_BASE64 does not decode to a kubeconfig that kubectl can read\n",
    );
    run.output_lacks("kube-token-do-not-print");

    // the BitOps helm plugin's name for it works too
    let run = test(&path)
        .env("BITOPS_KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .run();
    run.code(0);
    run.stdout_is(
        "
        kubectl: kubeconfig from KUBECONFIG_BASE64 written to .kube/config (mode 600)
        kubectl: contexts: dev-context
        ",
    );
    run.stderr_is(
        "
        [1/2] kubectl (plugin kubectl)
          deploy script: bash <builtins>/kubectl/deploy.sh ''
        [1/2] kubectl ok in <t>
        [2/2] reader (plugin reader)
          deploy script: bash <root>/plugins/reader/deploy.sh ''
        [2/2] reader ok in <t>
        Summary for environment `dev`:
          #   deployment  plugin   time      result
          1   kubectl     kubectl  <t> ok
          2   reader      reader   <t> ok
          2 ok in <t>
        ",
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn skip_deploy_writes_nothing() {
    let path = tools::path_with(&["kubectl"]);
    let run = test(&path)
        .write(
            "repo/dev/kubectl/bitops.config.yaml",
            "kubectl: {options: {skip-deploy: true}}\n",
        )
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .run();
    // the reader step finds no file
    run.code(1);
    run.stderr_is(
        "
        [1/2] kubectl (plugin kubectl)
          deploy script: bash <builtins>/kubectl/deploy.sh ''
        [1/2] kubectl ok in <t>
        [2/2] reader (plugin reader)
          deploy script: bash <root>/plugins/reader/deploy.sh ''
        [2/2] reader failed (deploy script, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin   time      result
          1   kubectl     kubectl  <t> ok
          2   reader      reader   <t> failed (deploy script, exit 1)
          1 ok, 1 failed in <t>
        error: deploy script of `reader` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("kubectl: skip-deploy is set: nothing to do\n");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn install_checks_that_kubectl_is_on_path() {
    let path = tools::path_with(&["kubectl"]);
    let install = |t: Test, path: &str| t.install_builtin("kubectl").env("PATH", path).run();
    let run = install(Test::new(), &path);
    run.code(0).stderr_is(
        "
        [1/1] fetching kubectl (built in)
          install script: bash install.sh
          installed kubectl into <root>/installed/kubectl
        installed 1 plugin into <root>/installed
        ",
    );
    run.stdout_has(&format!(
        "kubectl: found {}/kubectl\nClient Version: v1.",
        tools::tools_bin().display()
    ));

    let t = Test::new();
    let only_bash = t.root().join("only-bash");
    std::fs::create_dir_all(&only_bash).unwrap();
    std::os::unix::fs::symlink("/bin/bash", only_bash.join("bash")).unwrap();
    let run = install(t, only_bash.to_str().unwrap());
    run.code(127).stderr_is(
        "
        [1/1] fetching kubectl (built in)
          install script: bash install.sh
        error: the install script of `kubectl` failed (exit code 127)
        error: install script of plugin `kubectl` failed with exit code 127; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("kubectl: error: kubectl not found on PATH; install it (https://kubernetes.io/docs/tasks/tools/) and put it on PATH\n");
}
