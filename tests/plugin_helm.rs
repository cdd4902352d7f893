//! The built-in helm plugin. Dry runs use the real helm (`.ci/tools.sh`): `helm lint` and
//! `helm template` of a chart whose values come from the default folder and the
//! environment. No Kubernetes API server can run here, so the cluster path runs against
//! recording stand-ins: `helm` and `kubectl` scripts first on PATH that append their
//! argv to the probe log. Each chart's config is resolved by the core (`subfolder_configs`:
//! checked by plan before anything runs, then `bitops resolve` in deploy.sh).

use crate::test::{Test, b64};
use crate::tools;

const DEPLOYMENTS: &str = "bitops:\n  deployments:\n    helm: {plugin: helm}\n";

/// A chart whose ConfigMap shows every value the tests set.
fn chart(t: Test, dir: &str, name: &str) -> Test {
    t.write(
        &format!("{dir}/Chart.yaml"),
        &format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
    )
    .write(
        &format!("{dir}/templates/configmap.yaml"),
        r#"
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}
          namespace: {{ .Release.Namespace }}
        data:
          replicas: {{ .Values.replicas | quote }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          fromFiles: {{ .Values.fromFiles | quote }}
          override: {{ .Values.override | quote }}
          secret: {{ .Values.secret | quote }}
          versions: {{ .Values.versions | quote }}
          extra: {{ .Values.extra | quote }}
        "#,
    )
}

/// The shared chart in `_default/helm/web` (chart, defaults, a values file) and the
/// environment's own values for it: the usual BitOps layout.
fn web_repo(t: Test) -> Test {
    chart(t, "repo/_default/helm/web", "web")
        .write("repo/dev/bitops.config.yaml", DEPLOYMENTS)
        .write(
            "repo/_default/helm/web/values.yaml",
            "
            replicas: 3
            image: {repository: nginx, tag: default}
            fromFiles: none
            override: default-values
            secret: none
            versions: none
            extra: none
            ",
        )
        .write(
            "repo/_default/helm/web/values-files/zz-default.yaml",
            "fromFiles: default-values-file\noverride: default-values-file\n",
        )
        .write("repo/dev/helm/web/values.yaml", "image: {tag: \"1.2.3\"}\n")
        .write(
            "repo/dev/helm/web/values-versions.yaml",
            "versions: from-versions\n",
        )
        .write(
            "repo/dev/helm/web/values-files/a-env.yaml",
            "override: env-values-file\n",
        )
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "
            helm:
              cli:
                namespace: web-ns
                set: [extra=from-set]
              options:
                release-name: web-release
            ",
        )
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn dry_run_lints_and_renders_with_values_in_order() {
    let path = tools::path_with(&["helm"]);
    let run = web_repo(Test::new())
        .hook("repo/dev/helm/web/bitops.before-deploy.d/01.sh")
        .cmd("deploy", "dev")
        .env("PATH", &path)
        .env("BITOPS_DRY_RUN", "true")
        .env("HELM_SECRETS_BASE64", &b64("secret: from-secrets\n"))
        .run();
    run.code(0);
    run.stderr_is(
        "
        [1/1] helm (plugin helm)
          deploy script: bash <builtins>/helm/deploy.sh ''
        [1/1] helm ok in <t>
        Summary for environment `dev` (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks):
          #   deployment  plugin  time      result
          1   helm        helm    <t> ok
          1 ok in <t>
        ",
    );
    // replicas and image.repository from the default chart's values, image.tag from the
    // environment's values.yaml, versions from values-versions.yaml, secret from
    // HELM_SECRETS_BASE64, fromFiles from the default's values-files/; the environment's
    // values-files/a-env.yaml wins over the default's zz-default.yaml although it sorts
    // first, and --set wins over every file.
    run.stdout_has(
        "
---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-release
  namespace: web-ns
data:
  replicas: \"3\"
  image: \"nginx:1.2.3\"
  fromFiles: \"default-values-file\"
  override: \"env-values-file\"
  secret: \"from-secrets\"
  versions: \"from-versions\"
  extra: \"from-set\"
",
    );
    run.stdout_has(
        "helm: chart web: release web-release, namespace web-ns, values files: \
         _default/helm/web/values.yaml dev/helm/web/values.yaml \
         dev/helm/web/values-versions.yaml dev/helm/web/values-secrets.yaml \
         _default/helm/web/values-files/zz-default.yaml dev/helm/web/values-files/a-env.yaml\n",
    );
    let values = "-f <ws>/_default/helm/web/values.yaml -f <ws>/dev/helm/web/values.yaml \
        -f <ws>/dev/helm/web/values-versions.yaml -f <ws>/dev/helm/web/values-secrets.yaml \
        -f <ws>/_default/helm/web/values-files/zz-default.yaml \
        -f <ws>/dev/helm/web/values-files/a-env.yaml";
    run.stdout_has(&format!(
        "+ helm lint <ws>/dev/helm/web --namespace=web-ns --set=extra=from-set {values}\n\
         ==> Linting <ws>/dev/helm/web\n"
    ))
    .stdout_has("1 chart(s) linted, 0 chart(s) failed\n")
    .stdout_has(&format!(
        "+ helm template web-release <ws>/dev/helm/web --namespace=web-ns --set=extra=from-set {values}\n"
    ))
    .stdout_has("helm: chart web: dry run: helm lint and helm template only; no cluster is contacted\n");
    // the chart's hooks are skipped, as bitops skips a tool's hooks in a dry run
    run.stdout_has("helm: chart web: dry run: skipping the hooks in bitops.before-deploy.d (BITOPS_DRY_RUN_HOOKS=true runs them)\n");
    assert_eq!(run.log(), "");
    // lint runs before template
    let out = run.stdout();
    assert!(out.find("+ helm lint").unwrap() < out.find("+ helm template").unwrap());
    assert!(!out.contains("helm upgrade"), "{out}");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn dry_run_fails_on_a_broken_chart_with_helms_message() {
    let path = tools::path_with(&["helm"]);
    let run = web_repo(Test::new())
        .write(
            "repo/dev/helm/web/templates/broken.yaml",
            "kind: ConfigMap\nname: {{ .Values.replicas \n",
        )
        .cmd("deploy", "dev")
        .env("PATH", &path)
        .args(&["--dry-run"])
        .run();
    run.code(1);
    run.stdout_has("[ERROR] templates/: parse error at (web/templates/broken.yaml:3): unclosed action started at web/templates/broken.yaml:2\n")
        .stdout_has("Error: 1 chart(s) linted, 1 chart(s) failed\n")
        .stdout_has("helm: error: chart web: helm lint failed (exit 1)\n");
    assert!(!run.stdout().contains("+ helm template"));
    run.stderr_has("[1/1] helm failed");
}

// --- the cluster path, against recording stand-ins -----------------------------------

/// Records its argv; answers `version`, `history` (FAKE_HISTORY, else "not found") and
/// `upgrade` (exit FAKE_UPGRADE_EXIT); for an upgrade, also records the mode of the
/// `--kubeconfig` file, copies it next to the log, and records KUBECONFIG.
const FAKE_HELM: &str = r#"#!/usr/bin/env bash
echo "helm $*" >> "$PROBE_LOG"
case "$1" in
  version) echo v4.1.4 ;;
  history)
    if [ -n "${FAKE_HISTORY:-}" ]; then echo "$FAKE_HISTORY"; else echo "Error: release: not found" >&2; exit 1; fi ;;
  upgrade)
    for a in "$@"; do case "$a" in --kubeconfig=*) kc="${a#--kubeconfig=}" ;; esac; done
    if [ -n "${kc:-}" ]; then
      echo "  kubeconfig mode $(stat -c %a "$kc"), KUBECONFIG=${KUBECONFIG:-<unset>}" >> "$PROBE_LOG"
      cp "$kc" "$PROBE_LOG.kubeconfig"
    fi
    echo "fake helm: upgrade"
    exit "${FAKE_UPGRADE_EXIT:-0}" ;;
esac
"#;

/// Records its argv; `get namespace` exits FAKE_NAMESPACE_EXISTS (1: missing).
const FAKE_KUBECTL: &str = r#"#!/usr/bin/env bash
echo "kubectl $*" >> "$PROBE_LOG"
case " $* " in *" get namespace "*) exit "${FAKE_NAMESPACE_EXISTS:-1}" ;; esac
"#;

/// Records its argv, answers the aws plugin's credential check as the real CLI does (an
/// identity; keys from the variables), and writes a kubeconfig where `--kubeconfig` points.
const FAKE_AWS: &str = r#"#!/usr/bin/env bash
echo "aws $*" >> "$PROBE_LOG"
case "$*" in
  --version) echo "aws-cli/1.46.3 Python/3.11" ;;
  "sts get-caller-identity"*) printf '123456789012\tarn:aws:iam::123456789012:user/fake\n' ;;
  "configure list") printf '      Name   Value   Type   Location\naccess_key   ****0000   env\n' ;;
esac
while [ $# -gt 0 ]; do
  if [ "$1" = --kubeconfig ]; then printf 'apiVersion: v1\nkind: Config\n' > "$2"; fi
  shift
done
"#;

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://k8s.example.invalid:6443\"}\nusers:\n- name: u\n  user: {token: kube-token-do-not-print}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";

/// An ops repo with the stand-ins first on PATH (no real helm or kubectl on it).
fn cluster() -> Test {
    let t = Test::new();
    let path = format!("{}:/usr/bin:/bin", t.root().join("bin").display());
    t.executable("bin/helm", FAKE_HELM)
        .executable("bin/kubectl", FAKE_KUBECTL)
        .executable("bin/aws", FAKE_AWS)
        .env("PATH", &path)
        .write("repo/dev/bitops.config.yaml", DEPLOYMENTS)
}

#[test]
fn deploy_creates_the_namespace_and_upgrades_with_every_flag_and_values_file() {
    let t = cluster();
    let run = web_repo(t)
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "
            helm:
              cli:
                namespace: web-ns
                timeout: 120
                set: [image.tag=9.9.9, \"replicas=2\"]
                debug: true
                atomic: true
                force: true
              options:
                release-name: web-release
            ",
        )
        .write(
            "repo/dev/helm/web/values-files/b-env.yaml",
            "override: env-b\n",
        )
        .cmd("deploy", "dev")
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .env("HELM_SECRETS_BASE64", &b64("secret: s\n"))
        .run();
    run.code(0);
    let kc = "--kubeconfig=<ws>/.kube/config";
    run.log_is(&format!(
        "
        helm version --template {{{{.Version}}}}
        helm dependency update <ws>/dev/helm/web
        kubectl {kc} get namespace web-ns
        kubectl {kc} create namespace web-ns
        helm upgrade web-release <ws>/dev/helm/web --install --namespace=web-ns --timeout=120s --set=image.tag=9.9.9 --set=replicas=2 --debug --rollback-on-failure --force-replace -f <ws>/_default/helm/web/values.yaml -f <ws>/dev/helm/web/values.yaml -f <ws>/dev/helm/web/values-versions.yaml -f <ws>/dev/helm/web/values-secrets.yaml -f <ws>/_default/helm/web/values-files/zz-default.yaml -f <ws>/dev/helm/web/values-files/a-env.yaml -f <ws>/dev/helm/web/values-files/b-env.yaml {kc}
          kubeconfig mode 600, KUBECONFIG=<unset>
        "
    ));
    let copied = std::fs::read_to_string(run.root.join("log.txt.kubeconfig")).unwrap();
    assert_eq!(copied, KUBECONFIG);
    run.stdout_has("helm: kubeconfig from KUBECONFIG_BASE64 written to .kube/config\n")
        .stdout_has("helm: done: web\n");
    run.output_lacks("kube-token-do-not-print");
    run.output_lacks("k8s.example.invalid");
}

#[test]
fn a_failed_upgrade_rolls_back_to_the_previous_revision_and_fails_the_step() {
    let t = cluster();
    let run = chart(t, "repo/dev/helm/web", "web")
        .write("repo/dev/helm/web/values.yaml", "replicas: 1\n")
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "helm: {cli: {namespace: web}}\n",
        )
        // the next chart is not deployed after a failure
        .write(
            "repo/dev/helm/zz/bitops.config.yaml",
            "helm: {cli: {namespace: zz}}\n",
        )
        .write("repo/dev/helm/zz/Chart.yaml", "apiVersion: v2\nname: zz\nversion: 0.1.0\n")
        .hook("repo/dev/helm/bitops.after-deploy.d/after.sh")
        .cmd("deploy", "dev")
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .env("FAKE_NAMESPACE_EXISTS", "0")
        .env("FAKE_UPGRADE_EXIT", "3")
        .env(
            "FAKE_HISTORY",
            r#"[{"revision":4,"updated":"2025-01-01T00:00:00Z","status":"deployed","chart":"web-0.1.0","app_version":"","description":"Upgrade complete"}]"#,
        )
        .run();
    run.code(3);
    let kc = "--kubeconfig=<ws>/.kube/config";
    run.log_is(&format!(
        "
        helm dependency update <ws>/dev/helm/web
        kubectl {kc} get namespace web
        helm history web --namespace=web --max=1 --output=json {kc}
        helm upgrade web <ws>/dev/helm/web --install --namespace=web --timeout=500s -f <ws>/dev/helm/web/values.yaml {kc}
          kubeconfig mode 600, KUBECONFIG=<unset>
        helm rollback web 4 --namespace=web --timeout=500s {kc}
        "
    ));
    run.stdout_has("helm: chart web: helm upgrade --install failed (exit 3): rolling release web back to revision 4\n")
        .stdout_has("helm: error: chart web: helm upgrade --install failed (exit 3); release web rolled back to revision 4\n");
    run.stderr_has("[1/1] helm failed");
}

#[test]
fn a_failed_first_install_has_nothing_to_roll_back() {
    let t = cluster();
    let run = chart(t, "repo/dev/helm/web", "web")
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "helm: {cli: {namespace: web}}\n",
        )
        .cmd("deploy", "dev")
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .env("FAKE_NAMESPACE_EXISTS", "0")
        .env("FAKE_UPGRADE_EXIT", "1")
        .run();
    run.code(1);
    run.stderr_is(
        "
        [1/1] helm (plugin helm)
          deploy script: bash <builtins>/helm/deploy.sh ''
        [1/1] helm failed (deploy script, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   helm        helm    <t> failed (deploy script, exit 1)
          1 failed in <t>
        error: deploy script of `helm` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );
    let log = run.log();
    assert!(log.contains("helm history web"), "{log}");
    assert!(!log.contains("helm rollback"), "{log}");
    run.stdout_has("helm: error: chart web: helm upgrade --install failed (exit 1); release web had no deployed revision to roll back to\n");
}

#[test]
fn uninstall_removes_the_release_and_nothing_else() {
    let t = cluster();
    let run = chart(t, "repo/dev/helm/web", "web")
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "helm: {cli: {namespace: web}, options: {uninstall: true, release-name: web-rel}}\n",
        )
        .cmd("deploy", "dev")
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .run();
    run.code(0);
    run.stderr_is(&crate::test::one_ok_step(
        "helm",
        "helm",
        &["  deploy script: bash <builtins>/helm/deploy.sh ''"],
    ));
    run.log_is(
        "
        helm version --template {{.Version}}
        helm uninstall web-rel --namespace=web --timeout=500s --ignore-not-found --kubeconfig=<ws>/.kube/config
        ",
    );
    run.stdout_has("helm: chart web: uninstalling release web-rel from namespace web\n");
}

/// Three charts, a tool-level config shared by them (namespace, kubeconfig path), a
/// default folder and a hook folder inside the helm folder, and chart hooks.
fn three_charts(t: Test) -> Test {
    chart(t, "repo/dev/helm/b-api", "b-api")
        .write(
            "repo/dev/helm/bitops.config.yaml",
            "helm:\n  cli: {namespace: shared}\n  options: {k8s: {kubeconfigpath: kube/config.yaml}}\n",
        )
        .write("repo/dev/helm/kube/config.yaml", KUBECONFIG)
        .write(
            "repo/dev/helm/b-api/bitops.config.yaml",
            "helm: {options: {release-name: api}}\n",
        )
        .write("repo/dev/helm/a-web/Chart.yaml", "apiVersion: v2\nname: a-web\nversion: 0.1.0\n")
        .write(
            "repo/dev/helm/a-web/bitops.config.yaml",
            "helm: {cli: {namespace: a-ns, timeout: 1m}}\n",
        )
        .write(
            "repo/dev/helm/a-web/bitops.before-deploy.d/01.sh",
            "echo \"a-web before hook: NAMESPACE=$NAMESPACE HELM_RELEASE_NAME=$HELM_RELEASE_NAME KUBECONFIG=$KUBECONFIG pwd=$(pwd)\" >> \"$PROBE_LOG\"\n",
        )
        .write(
            "repo/dev/helm/a-web/bitops.after-deploy.d/01.sh",
            "echo \"a-web after hook\" >> \"$PROBE_LOG\"\n",
        )
        .write("repo/dev/helm/c-off/Chart.yaml", "apiVersion: v2\nname: c-off\nversion: 0.1.0\n")
        .write(
            "repo/dev/helm/c-off/bitops.config.yaml",
            "helm: {options: {skip-deploy: true}}\n",
        )
        .write("repo/dev/helm/_default/Chart.yaml", "apiVersion: v2\nname: nope\nversion: 0.1.0\n")
        .hook("repo/dev/helm/bitops.before-deploy.d/00.sh")
        .write(
            "repo/dev/helm/lib/Chart.yaml",
            "apiVersion: v2\nname: lib\ntype: library\nversion: 0.1.0\n",
        )
}

#[test]
fn charts_deploy_in_alphabetical_order_skipping_the_default_folder() {
    let t = cluster();
    let run = three_charts(t)
        .cmd("deploy", "dev")
        .env("FAKE_NAMESPACE_EXISTS", "0")
        .run();
    run.code(0);
    run.stderr_is(&crate::test::one_ok_step(
        "helm",
        "helm",
        &[
            "  before hook 00.sh: bash <ws>/dev/helm/bitops.before-deploy.d/00.sh",
            "  deploy script: bash <builtins>/helm/deploy.sh ''",
        ],
    ));
    let kc = "--kubeconfig=<ws>/dev/helm/kube/config.yaml";
    run.log_is(&format!(
        "
        helm hook 00.sh
        a-web before hook: NAMESPACE=a-ns HELM_RELEASE_NAME=a-web KUBECONFIG=<ws>/dev/helm/kube/config.yaml pwd=<ws>/dev/helm/a-web
        helm dependency update <ws>/dev/helm/a-web
        kubectl {kc} get namespace a-ns
        helm history a-web --namespace=a-ns --max=1 --output=json {kc}
        helm upgrade a-web <ws>/dev/helm/a-web --install --namespace=a-ns --timeout=1m {kc}
          kubeconfig mode 644, KUBECONFIG=<unset>
        a-web after hook
        helm dependency update <ws>/dev/helm/b-api
        kubectl {kc} get namespace shared
        helm history api --namespace=shared --max=1 --output=json {kc}
        helm upgrade api <ws>/dev/helm/b-api --install --namespace=shared --timeout=500s {kc}
          kubeconfig mode 644, KUBECONFIG=<unset>
        "
    ));
    run.stdout_has("helm: skipping folder kube: no Chart.yaml\n")
        .stdout_has("helm: skipping folder lib: a library chart (a dependency of other charts, not deployable)\n")
        .stdout_has("helm: chart c-off: helm.options.skip-deploy is set: skipping\n")
        .stdout_has("helm: done: a-web b-api c-off\n");
}

#[test]
fn the_helm_subdirectory_variable_deploys_one_chart() {
    let t = cluster();
    let run = three_charts(t)
        .cmd("deploy", "dev")
        .env("FAKE_NAMESPACE_EXISTS", "0")
        .env("BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY", "b-api")
        .run();
    run.code(0);
    run.stderr_is(&crate::test::one_ok_step(
        "helm",
        "helm",
        &[
            "  before hook 00.sh: bash <ws>/dev/helm/bitops.before-deploy.d/00.sh",
            "  deploy script: bash <builtins>/helm/deploy.sh ''",
        ],
    ));
    let kc = "--kubeconfig=<ws>/dev/helm/kube/config.yaml";
    run.log_is(&format!(
        "
        helm hook 00.sh
        helm dependency update <ws>/dev/helm/b-api
        kubectl {kc} get namespace shared
        helm history api --namespace=shared --max=1 --output=json {kc}
        helm upgrade api <ws>/dev/helm/b-api --install --namespace=shared --timeout=500s {kc}
          kubeconfig mode 644, KUBECONFIG=<unset>
        "
    ));
    run.stdout_has("helm: BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY is set: only chart b-api\n");

    let t = cluster();
    let run = three_charts(t)
        .cmd("deploy", "dev")
        .env("BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY", "nope")
        .run();
    run.code(1);
    run.stderr_is(
        "
        [1/1] helm (plugin helm)
          before hook 00.sh: bash <ws>/dev/helm/bitops.before-deploy.d/00.sh
          deploy script: bash <builtins>/helm/deploy.sh ''
        [1/1] helm failed (deploy script, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   helm        helm    <t> failed (deploy script, exit 1)
          1 failed in <t>
        error: deploy script of `helm` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has(
        "helm: error: BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY=nope is not a chart folder of dev/helm\n",
    );
}

#[test]
fn caller_variables_uninstall_or_skip_charts() {
    let t = cluster();
    let run = three_charts(t)
        .cmd("deploy", "dev")
        .env("FAKE_NAMESPACE_EXISTS", "0")
        .env("HELM_UNINSTALL_CHARTS", "x, a-web")
        .run();
    run.code(0);
    run.stdout_is(
        "
        helm: skipping folder kube: no Chart.yaml
        helm: skipping folder lib: a library chart (a dependency of other charts, not deployable)
        helm: chart a-web: kubeconfig dev/helm/kube/config.yaml (helm.options.k8s.kubeconfigpath)
        helm: chart a-web: hook bitops.before-deploy.d/01.sh
        helm: chart a-web: uninstalling release a-web from namespace a-ns
        + helm uninstall a-web --namespace=a-ns --timeout=1m --ignore-not-found --kubeconfig=<ws>/dev/helm/kube/config.yaml
        helm: chart a-web: hook bitops.after-deploy.d/01.sh
        helm: chart b-api: kubeconfig dev/helm/kube/config.yaml (helm.options.k8s.kubeconfigpath)
        helm: chart b-api: release api, namespace shared, values files: none
        + helm dependency update <ws>/dev/helm/b-api
        + kubectl --kubeconfig=<ws>/dev/helm/kube/config.yaml get namespace shared
        + helm history api --namespace=shared --max=1 --output=json --kubeconfig=<ws>/dev/helm/kube/config.yaml
        + helm upgrade api <ws>/dev/helm/b-api --install --namespace=shared --timeout=500s --kubeconfig=<ws>/dev/helm/kube/config.yaml
        fake helm: upgrade
        helm: chart c-off: helm.options.skip-deploy is set: skipping
        helm: done: a-web b-api c-off
        ",
    );
    run.stderr_is(&crate::test::one_ok_step(
        "helm",
        "helm",
        &[
            "  before hook 00.sh: bash <ws>/dev/helm/bitops.before-deploy.d/00.sh",
            "  deploy script: bash <builtins>/helm/deploy.sh ''",
        ],
    ));
    let kc = "--kubeconfig=<ws>/dev/helm/kube/config.yaml";
    run.log_is(&format!(
        "
        helm hook 00.sh
        a-web before hook: NAMESPACE=a-ns HELM_RELEASE_NAME=a-web KUBECONFIG=<ws>/dev/helm/kube/config.yaml pwd=<ws>/dev/helm/a-web
        helm version --template {{{{.Version}}}}
        helm uninstall a-web --namespace=a-ns --timeout=1m --ignore-not-found {kc}
        a-web after hook
        helm dependency update <ws>/dev/helm/b-api
        kubectl {kc} get namespace shared
        helm history api --namespace=shared --max=1 --output=json {kc}
        helm upgrade api <ws>/dev/helm/b-api --install --namespace=shared --timeout=500s {kc}
          kubeconfig mode 644, KUBECONFIG=<unset>
        "
    ));

    let t = cluster();
    let run = three_charts(t)
        .cmd("deploy", "dev")
        .env("HELM_SKIP_DEPLOY", "true")
        .run();
    run.code(0);
    run.stderr_is(&crate::test::one_ok_step(
        "helm",
        "helm",
        &[
            "  before hook 00.sh: bash <ws>/dev/helm/bitops.before-deploy.d/00.sh",
            "  deploy script: bash <builtins>/helm/deploy.sh ''",
        ],
    ));
    run.log_is("helm hook 00.sh\n");
    run.stdout_has("helm: HELM_SKIP_DEPLOY (or SKIP_DEPLOY_HELM) is set: skipping every chart\n");
}

#[test]
fn the_kubeconfig_can_be_fetched_from_eks() {
    let t = cluster();
    let run = chart(t, "repo/dev/helm/web", "web")
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "helm:\n  cli: {namespace: web}\n  options: {k8s: {fetch: {kubeconfig: true, cluster-name: my-cluster}}}\n",
        )
        .cmd("deploy", "dev")
        .env("FAKE_NAMESPACE_EXISTS", "0")
        // what the aws plugin's helper asks the (fake) CLI for first
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
        .env("AWS_SECRET_ACCESS_KEY", "example-secret-access-key")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .run();
    run.code(0);
    run.stdout_is(
        "
        helm: chart web: fetching the kubeconfig of EKS cluster my-cluster
        + bash <builtins>/aws/eks.update-kubeconfig.sh
        aws: credentials: from the variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), region us-east-1 (AWS_DEFAULT_REGION)
        aws: identity: account 123456789012, arn:aws:iam::123456789012:user/fake
        aws: aws eks update-kubeconfig --name my-cluster --kubeconfig <ws>/.kube/config
        helm: chart web: release web, namespace web, values files: none
        + helm dependency update <ws>/dev/helm/web
        + kubectl --kubeconfig=<ws>/.kube/config get namespace web
        + helm history web --namespace=web --max=1 --output=json --kubeconfig=<ws>/.kube/config
        + helm upgrade web <ws>/dev/helm/web --install --namespace=web --timeout=500s --kubeconfig=<ws>/.kube/config
        fake helm: upgrade
        helm: done: web
        ",
    );
    run.stderr_is(&crate::test::one_ok_step(
        "helm",
        "helm",
        &["  deploy script: bash <builtins>/helm/deploy.sh ''"],
    ));
    let log = run.log();
    assert!(
        log.lines()
            .any(|l| l.starts_with("aws eks update-kubeconfig")
                && l.contains("--name my-cluster")
                && l.contains("<ws>/.kube/config")),
        "{log}"
    );
    assert!(
        log.contains("helm upgrade web <ws>/dev/helm/web --install --namespace=web --timeout=500s --kubeconfig=<ws>/.kube/config\n  kubeconfig mode 600,"),
        "{log}"
    );
}

#[test]
fn config_mistakes_are_found_by_the_core_before_anything_runs() {
    let base = |config: &str| {
        chart(cluster(), "repo/dev/helm/web", "web")
            .write("repo/dev/helm/web/bitops.config.yaml", config)
            .hook("repo/dev/helm/bitops.before-deploy.d/00.sh")
            .cmd("deploy", "dev")
            .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
    };
    let run = base("helm: {options: {release-name: x}}\n").run();
    run.code(1);
    run.stderr_has(
        "error: repo/dev/helm/web/bitops.config.yaml:1: `helm.cli.namespace`: required value `cli.namespace` is not set\n",
    );
    // not even the helm step's hooks, and the plugin never started
    assert_eq!(run.log(), "");
    run.stdout_is("");

    let run =
        base("helm:\n  cli:\n    namespace: web\n    debug: sometimes\n    colour: red\n").run();
    run.code(1);
    run.stderr_has("warning: repo/dev/helm/web/bitops.config.yaml:5: `helm.cli.colour`: unknown key")
        .stderr_has("error: repo/dev/helm/web/bitops.config.yaml:4: `helm.cli.debug`: must be true or false, found a string `sometimes`\n");
    assert_eq!(run.log(), "");
    run.stdout_is("");

    // a BITOPS_HELM_<KEY> variable is checked too
    let run = base("helm: {cli: {namespace: web}}\n")
        .env("BITOPS_HELM_ATOMIC", "maybe")
        .run();
    run.code(1);
    run.stderr_has("$BITOPS_HELM_ATOMIC must be true or false, found `maybe`");
    assert_eq!(run.log(), "");

    // BITOPS_HELM_<KEY> wins over the config
    let run = base("helm: {cli: {namespace: web}}\n")
        .env("BITOPS_HELM_NAMESPACE", "from-env")
        .env("FAKE_NAMESPACE_EXISTS", "0")
        .run();
    run.code(0);
    run.stderr_is(&crate::test::one_ok_step(
        "helm",
        "helm",
        &[
            "  before hook 00.sh: bash <ws>/dev/helm/bitops.before-deploy.d/00.sh",
            "  deploy script: bash <builtins>/helm/deploy.sh ''",
        ],
    ));
    run.stdout_has("namespace from-env");

    // an empty namespace passes the schema (it is set), not the plugin
    let run = base("helm: {cli: {namespace: \"\"}}\n").run();
    run.code(1);
    run.stderr_is(
        "
        [1/1] helm (plugin helm)
          before hook 00.sh: bash <ws>/dev/helm/bitops.before-deploy.d/00.sh
          deploy script: bash <builtins>/helm/deploy.sh ''
        [1/1] helm failed (deploy script, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   helm        helm    <t> failed (deploy script, exit 1)
          1 failed in <t>
        error: deploy script of `helm` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("helm: error: chart web: helm.cli.namespace is empty: set it in dev/helm/web/bitops.config.yaml (or in dev/helm/bitops.config.yaml for every chart), or set BITOPS_HELM_NAMESPACE\n");
    assert_eq!(run.log(), "helm hook 00.sh\n");

    let run = base("helm: {cli: {namespace: web}}\n")
        .env("KUBECONFIG_BASE64", "not base64!")
        .run();
    run.code(1);
    run.stderr_is(
        "
        [1/1] helm (plugin helm)
          before hook 00.sh: bash <ws>/dev/helm/bitops.before-deploy.d/00.sh
          deploy script: bash <builtins>/helm/deploy.sh ''
        [1/1] helm failed (deploy script, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   helm        helm    <t> failed (deploy script, exit 1)
          1 failed in <t>
        error: deploy script of `helm` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("helm: error: KUBECONFIG_BASE64 is not valid base64 (or decodes to nothing); encode the kubeconfig with `base64 -w0 kubeconfig`\n");

    let run = chart(cluster(), "repo/dev/helm/web", "web")
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "helm: {cli: {namespace: web}}\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1);
    run.stderr_is(
        "
        [1/1] helm (plugin helm)
          deploy script: bash <builtins>/helm/deploy.sh ''
        [1/1] helm failed (deploy script, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   helm        helm    <t> failed (deploy script, exit 1)
          1 failed in <t>
        error: deploy script of `helm` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("helm: error: chart web: no kubeconfig: set KUBECONFIG_BASE64, helm.options.k8s.kubeconfigpath, or helm.options.k8s.fetch.cluster-name (EKS)\n");
}

/// YAML 1.2 (the core's): `no`, `on` are strings; booleans accept true/false, yes/no...
#[test]
fn yaml_1_2_strings_and_the_cores_booleans() {
    let run = chart(cluster(), "repo/dev/helm/web", "web")
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "helm: {cli: {namespace: no, debug: yes}, options: {release-name: on}}\n",
        )
        .cmd("deploy", "dev")
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .env("FAKE_NAMESPACE_EXISTS", "0")
        .run();
    run.code(0);
    run.stdout_is(
        "
        helm: kubeconfig from KUBECONFIG_BASE64 written to .kube/config
        helm: chart web: release on, namespace no, values files: none
        + helm dependency update <ws>/dev/helm/web
        + kubectl --kubeconfig=<ws>/.kube/config get namespace no
        + helm history on --namespace=no --max=1 --output=json --kubeconfig=<ws>/.kube/config
        + helm upgrade on <ws>/dev/helm/web --install --namespace=no --timeout=500s --debug --kubeconfig=<ws>/.kube/config
        fake helm: upgrade
        helm: done: web
        ",
    );
    run.stderr_is(&crate::test::one_ok_step(
        "helm",
        "helm",
        &["  deploy script: bash <builtins>/helm/deploy.sh ''"],
    ));
    assert!(
        run.log().contains(
            "helm upgrade on <ws>/dev/helm/web --install --namespace=no --timeout=500s --debug "
        ),
        "{}",
        run.log()
    );
}

/// A chart folder without a `bitops.config.yaml` of its own is deployed with the helm
/// folder's config alone: checked so before anything runs, so a missing `namespace` for
/// it stops the run before the charts before it are deployed.
#[test]
fn a_chart_without_its_own_config_is_checked_before_anything_runs() {
    let run = chart(cluster(), "repo/dev/helm/a-web", "a-web")
        .write(
            "repo/dev/helm/a-web/bitops.config.yaml",
            "helm: {cli: {namespace: web}}\n",
        )
        .write(
            "repo/dev/helm/b-api/Chart.yaml",
            "apiVersion: v2\nname: b-api\nversion: 0.1.0\n",
        )
        .write(
            "repo/dev/helm/c-last/Chart.yaml",
            "apiVersion: v2\nname: c-last\nversion: 0.1.0\n",
        )
        .write(
            "repo/dev/helm/c-last/bitops.config.yaml",
            "helm: {cli: {namespace: last}}\n",
        )
        .write(
            "repo/dev/helm/bitops.config.yaml",
            "helm:\n  cli: {timeout: 1m}\n  extra: 1\n",
        )
        .cmd("deploy", "dev")
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .env("FAKE_NAMESPACE_EXISTS", "0")
        .run();
    run.code(1).stdout_is("");
    assert_eq!(run.log(), "", "nothing ran");
    run.stderr_has(
        "error: repo/dev/helm/bitops.config.yaml:2: `helm.cli.namespace`: required value `cli.namespace` is not set (for b-api in dev/helm, which has no bitops.config.yaml of its own)\n",
    )
    .stderr_has("warning: repo/dev/helm/bitops.config.yaml:3: `helm.extra`: unknown key");
    // A helm folder without any chart folder deploys nothing: said before step 1.
    let run = Test::new()
        .write("repo/dev/bitops.config.yaml", DEPLOYMENTS)
        .write(
            "repo/dev/helm/bitops.config.yaml",
            "helm: {cli: {namespace: web}}\n",
        )
        .write("repo/dev/helm/kube/config.yaml", "x: 1\n")
        .cmd("validate", "dev")
        .args(&["--strict"])
        .run();
    run.code(1).stderr_any("not examined").stdout_has(
        "error: repo/dev/helm: no folder of dev/helm holds a Chart.yaml: the helm plugin would deploy nothing\n",
    );
}

#[test]
fn one_charts_values_never_reach_the_next() {
    let run = chart(cluster(), "repo/dev/helm/a-first", "a-first")
        .write("repo/dev/helm/kube/config.yaml", KUBECONFIG)
        .write(
            "repo/dev/helm/a-first/bitops.config.yaml",
            "
            helm:
              cli: {namespace: first, timeout: 30, set: [x=1], debug: true, atomic: true, force: true}
              options:
                release-name: first-release
                k8s: {kubeconfigpath: kube/config.yaml}
            ",
        )
        .write("repo/dev/helm/b-second/Chart.yaml", "apiVersion: v2\nname: b-second\nversion: 0.1.0\n")
        .write(
            "repo/dev/helm/b-second/bitops.config.yaml",
            "helm: {cli: {namespace: second}, options: {uninstall: true}}\n",
        )
        .write("repo/dev/helm/c-third/Chart.yaml", "apiVersion: v2\nname: c-third\nversion: 0.1.0\n")
        .write(
            "repo/dev/helm/c-third/bitops.config.yaml",
            "helm: {cli: {namespace: third}}\n",
        )
        .write(
            "repo/dev/helm/c-third/bitops.before-deploy.d/01.sh",
            "echo \"c-third hook: HELM_DEBUG=${HELM_DEBUG-} HELM_RELEASE_NAME=$HELM_RELEASE_NAME HELM_UNINSTALL=$HELM_UNINSTALL KUBE_CONFIG_PATH=${KUBE_CONFIG_PATH-<unset>} CLUSTER_NAME=${CLUSTER_NAME-<unset>} BITOPS_HELM_CLI=$BITOPS_HELM_CLI\" >> \"$PROBE_LOG\"\n",
        )
        .cmd("deploy", "dev")
        .env("FAKE_NAMESPACE_EXISTS", "0")
        // the caller's variables of the schema's names are not chart values
        .env("KUBE_CONFIG_PATH", "/nonexistent/for-terraform")
        .env("CLUSTER_NAME", "not-this-one")
        .env("HELM_RELEASE_NAME", "not-this-one")
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .run();
    run.code(0);
    run.stdout_is(
        "
        helm: skipping folder kube: no Chart.yaml
        helm: kubeconfig from KUBECONFIG_BASE64 written to .kube/config
        helm: chart a-first: release first-release, namespace first, values files: none
        + helm dependency update <ws>/dev/helm/a-first
        + kubectl --kubeconfig=<ws>/.kube/config get namespace first
        + helm upgrade first-release <ws>/dev/helm/a-first --install --namespace=first --timeout=30s --set=x=1 --debug --rollback-on-failure --force-replace --kubeconfig=<ws>/.kube/config
        fake helm: upgrade
        helm: chart b-second: uninstalling release b-second from namespace second
        + helm uninstall b-second --namespace=second --timeout=500s --ignore-not-found --kubeconfig=<ws>/.kube/config
        helm: chart c-third: hook bitops.before-deploy.d/01.sh
        helm: chart c-third: release c-third, namespace third, values files: none
        + helm dependency update <ws>/dev/helm/c-third
        + kubectl --kubeconfig=<ws>/.kube/config get namespace third
        + helm history c-third --namespace=third --max=1 --output=json --kubeconfig=<ws>/.kube/config
        + helm upgrade c-third <ws>/dev/helm/c-third --install --namespace=third --timeout=500s --kubeconfig=<ws>/.kube/config
        fake helm: upgrade
        helm: done: a-first b-second c-third
        ",
    );
    run.stderr_is(&crate::test::one_ok_step(
        "helm",
        "helm",
        &["  deploy script: bash <builtins>/helm/deploy.sh ''"],
    ));
    let kc = "--kubeconfig=<ws>/.kube/config";
    run.log_is(&format!(
        "
        helm version --template {{{{.Version}}}}
        helm dependency update <ws>/dev/helm/a-first
        kubectl {kc} get namespace first
        helm upgrade first-release <ws>/dev/helm/a-first --install --namespace=first --timeout=30s --set=x=1 --debug --rollback-on-failure --force-replace {kc}
          kubeconfig mode 600, KUBECONFIG=<unset>
        helm version --template {{{{.Version}}}}
        helm uninstall b-second --namespace=second --timeout=500s --ignore-not-found {kc}
        c-third hook: HELM_DEBUG=false HELM_RELEASE_NAME=c-third HELM_UNINSTALL=false KUBE_CONFIG_PATH=<unset> CLUSTER_NAME=<unset> BITOPS_HELM_CLI=--namespace=third --timeout=500s
        helm dependency update <ws>/dev/helm/c-third
        kubectl {kc} get namespace third
        helm history c-third --namespace=third --max=1 --output=json {kc}
        helm upgrade c-third <ws>/dev/helm/c-third --install --namespace=third --timeout=500s {kc}
          kubeconfig mode 600, KUBECONFIG=<unset>
        "
    ));
}

/// `--dry-run --dry-run-hooks` (BITOPS_DRY_RUN_HOOKS, exported by the core) runs the
/// charts' own hooks too, as it runs the tool folder's.
#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn dry_run_hooks_run_the_charts_hooks() {
    let path = tools::path_with(&["helm"]);
    let run = web_repo(Test::new())
        .hook("repo/dev/helm/bitops.before-deploy.d/00.sh")
        .write(
            "repo/dev/helm/web/bitops.before-deploy.d/01.sh",
            "echo \"web before hook: BITOPS_DRY_RUN=$BITOPS_DRY_RUN NAMESPACE=$NAMESPACE HELM_RELEASE_NAME=$HELM_RELEASE_NAME\" >> \"$PROBE_LOG\"\n",
        )
        .write(
            "repo/dev/helm/web/bitops.after-deploy.d/01.sh",
            "echo \"web after hook\" >> \"$PROBE_LOG\"\n",
        )
        .cmd("deploy", "dev")
        .args(&["--dry-run", "--dry-run-hooks"])
        .env("PATH", &path)
        .run();
    run.code(0);
    run.stderr_is(
        "
        [1/1] helm (plugin helm)
          before hook 00.sh: bash <ws>/dev/helm/bitops.before-deploy.d/00.sh
          deploy script: bash <builtins>/helm/deploy.sh ''
        [1/1] helm ok in <t>
        Summary for environment `dev` (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks):
          #   deployment  plugin  time      result
          1   helm        helm    <t> ok
          1 ok in <t>
        ",
    );
    run.log_is(
        "
        helm hook 00.sh
        web before hook: BITOPS_DRY_RUN=true NAMESPACE=web-ns HELM_RELEASE_NAME=web-release
        web after hook
        ",
    );
    run.stdout_has("+ helm template web-release <ws>/dev/helm/web");
}

/// A config whose root key is the deployment alias (`apps:` for `apps: {plugin: helm}`):
/// `bitops plan` accepts it, but `bitops resolve` knows only the plugin name's root.
#[test]
fn the_deployment_alias_is_accepted_as_root_key() {
    let run = chart(cluster(), "repo/dev/apps/web", "web")
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    apps: {plugin: helm}\n",
        )
        .write(
            "repo/dev/apps/web/bitops.config.yaml",
            "apps: {cli: {namespace: web}}\n",
        )
        .cmd("deploy", "dev")
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .env("FAKE_NAMESPACE_EXISTS", "0")
        .run();
    run.code(0);
    run.stdout_is(
        "
        helm: kubeconfig from KUBECONFIG_BASE64 written to .kube/config
        helm: chart web: release web, namespace web, values files: none
        + helm dependency update <ws>/dev/apps/web
        + kubectl --kubeconfig=<ws>/.kube/config get namespace web
        + helm history web --namespace=web --max=1 --output=json --kubeconfig=<ws>/.kube/config
        + helm upgrade web <ws>/dev/apps/web --install --namespace=web --timeout=500s --kubeconfig=<ws>/.kube/config
        fake helm: upgrade
        helm: done: web
        ",
    );
    run.stderr_is(
        "
        warning: repo/dev/apps/web/bitops.config.yaml:1: the root key is the deployment alias `apps`, not the plugin name `helm`: bitops reads these values; BitOps v2 ignored them
          hint: rename the key to `helm:` to keep the file working the same under BitOps v2
        [1/1] apps (plugin helm)
          deploy script: bash <builtins>/helm/deploy.sh ''
        [1/1] apps ok in <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   apps        helm    <t> ok
          1 ok in <t>
        ",
    );
    assert!(
        run.log()
            .contains("helm upgrade web <ws>/dev/apps/web --install --namespace=web ")
    );
}

/// The schema is valid for the core, and its keys export the public plugin's names.
#[test]
fn the_schema_is_valid_for_the_core() {
    let schema = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/helm/bitops.schema.yaml"),
    )
    .unwrap();
    let run = Test::new()
        .write_raw("plugins/helm/bitops.schema.yaml", schema.as_bytes())
        .write("plugins/helm/deploy.sh", "true\n")
        .write("repo/dev/bitops.config.yaml", DEPLOYMENTS)
        .write(
            "repo/dev/helm/bitops.config.yaml",
            "
            helm:
              cli: {namespace: ns, set: [a=1, b=2], debug: true, atomic: true, force: true, dry-run: true}
              options:
                skip-deploy: false
                release-name: rel
                uninstall: false
                k8s: {kubeconfigpath: kc.yaml, fetch: {kubeconfig: true, cluster-name: c}}
                default-root-dir: _default
                default-dir-flag: true
                default-sub-dir: values
                uninstall-charts: a,b
              plugins: {s3: {region: r, bucket: b}}
            ",
        )
        .cmd("plan", "dev")
        .args(&["--format", "json"])
        .run();
    run.code(0);
    let plan: serde_json::Value = serde_json::from_str(run.stdout_text()).unwrap();
    let env = &plan["steps"][0]["env"];
    assert_eq!(
        env["BITOPS_HELM_CLI"],
        "--namespace=ns --timeout=500s --set=a=1 --set=b=2 --debug --atomic --force --dry-run"
    );
    for (name, value) in [
        ("NAMESPACE", "ns"),
        ("TIMEOUT", "500s"),
        ("HELM_SET_FLAG", "a=1 b=2"),
        ("HELM_DEBUG", "true"),
        ("HELM_SKIP_DEPLOY", "false"),
        ("HELM_RELEASE_NAME", "rel"),
        ("HELM_UNINSTALL", "false"),
        ("KUBE_CONFIG_PATH", "kc.yaml"),
        ("FETCH_KUBECONFIG", "true"),
        ("CLUSTER_NAME", "c"),
    ] {
        assert_eq!(env[name], value, "{name}");
    }
    assert_eq!(run.stderr_text(), "", "the schema or config drew warnings");
}

/// The keys of the public BitOps helm plugin that this one does not use are in the
/// schema (accepted and ignored), so an existing BitOps repo draws no warnings; a key
/// no BitOps version knew still does.
#[test]
fn bitops_keys_without_a_use_here_are_accepted_without_warnings() {
    let run = chart(Test::new(), "repo/dev/helm/web", "web")
        .write("repo/dev/bitops.config.yaml", DEPLOYMENTS)
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "
            helm:
              cli: {namespace: web}
              options:
                release-name: web
                default-root-dir: _default
                default-dir-flag: true
                default-sub-dir: values
                uninstall-charts: \"a,b\"
              plugins:
                s3: {region: us-east-1, bucket: charts}
            ",
        )
        .write("repo/dev/helm/bitops.config.yaml", "helm:\n  plugins:\n")
        // a helm on PATH: a missing tool is a warning, which --strict fails on
        .executable("bin/helm", "#!/bin/sh\necho helm\n")
        .args(&[
            "validate",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
            "--strict",
        ]);
    let bin = run.root().join("bin");
    let run = run
        .env(
            "PATH",
            &format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .run();
    run.code(0);
    run.stdout_is("no problems found in 1 environment (dev)\n");
    run.stderr_lacks("warning");

    // A close miss of a key is an error in every command: ignored, it would deploy
    // under another release name.
    let run = chart(Test::new(), "repo/dev/helm/web", "web")
        .write("repo/dev/bitops.config.yaml", DEPLOYMENTS)
        .write(
            "repo/dev/helm/web/bitops.config.yaml",
            "helm:\n  cli: {namespace: web}\n  options: {relase-name: web}\n",
        )
        .cmd("plan", "dev")
        .run();
    run.code(1).stdout_is("").stderr_is(
        "error: repo/dev/helm/web/bitops.config.yaml:3: `helm.options.relase-name`: unknown key: the plugin's schema does not define it: did you mean `release-name`? A misspelt key would be ignored, and the run would not do what the config says\n  hint: rename it to `release-name`\n",
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn install_checks_that_helm_is_on_path() {
    let path = tools::path_with(&["helm"]);
    let install = |t: Test, path: &str| t.install_builtin("helm").env("PATH", path).run();
    let run = install(Test::new(), &path);
    run.code(0).stderr_is(
        "
        [1/1] fetching helm (built in)
          install script: bash install.sh
          installed helm into <root>/installed/helm
        installed 1 plugin into <root>/installed
        ",
    );
    run.stdout_has(&format!(
        "helm: found {}/helm (v4.",
        tools::tools_bin().display()
    ));

    // a PATH with bash only
    let t = Test::new();
    let only_bash = t.root().join("only-bash");
    std::fs::create_dir_all(&only_bash).unwrap();
    std::os::unix::fs::symlink("/bin/bash", only_bash.join("bash")).unwrap();
    let run = install(t, only_bash.to_str().unwrap());
    run.code(127).stderr_is(
        "
        [1/1] fetching helm (built in)
          install script: bash install.sh
        error: the install script of `helm` failed (exit code 127)
        error: install script of plugin `helm` failed with exit code 127; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("helm: error: helm not found on PATH; install Helm 3 or 4 (https://helm.sh/docs/intro/install/) and put it on PATH\n");
}
