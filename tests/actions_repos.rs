//! Ops repos shaped like the ones bitovi's GitHub Actions (github-actions-commons) generate
//! and hand to BitOps: the environment `deployment`, deployment names with `/`
//! (`terraform/aws`, `ansible/clone_repo`), a Terraform target applied on every run, hooks
//! that pass files from the Terraform step to the Ansible steps, `shyaml` in hooks, and
//! the settings given as variables (what `docker run --env-file` hands BitOps).

use std::path::Path;

use crate::test::Test;

/// `deployment/bitops.config.yaml` as the actions write it: block maps, one key per line.
const CORE: &str = "bitops:
  deployments:
    terraform/aws:
      plugin: terraform
    ansible/clone_repo:
      plugin: ansible
    ansible/docker:
      plugin: ansible
";

const MAIN_TF: &str = r#"
terraform {
  backend "local" {
    path = "STATE/terraform.tfstate"
  }
}

# Picked first, on every run (the actions list it in `targets`).
resource "terraform_data" "az_select" {
  input = "us-east-1a"
}

resource "terraform_data" "ec2" {
  input = "10.0.0.7 in ${terraform_data.az_select.output}"
}

resource "terraform_data" "sg" {
  input = "sg-1"
}

output "instance_public_ip" {
  value = "10.0.0.7"
}
"#;

/// The Terraform step's after-hook: what the actions' hooks do — read the tool config with
/// `shyaml`, write a dotenv of Terraform's outputs and an inventory into the Ansible folders.
const TF_AFTER_HOOK: &str = r#"set -euo pipefail
action=$(shyaml get-value terraform.cli.stack-action < bitops.config.yaml)
echo "after-hook: stack-action $action (read with shyaml)"
if [[ ${BITOPS_TERRAFORM_COMMAND:-$action} == destroy ]]; then
  echo "after-hook: destroy, removing the state bucket"
  rm -rf "$STATE_BUCKET"
  exit 0
fi
ip=$(terraform output -raw instance_public_ip)
printf 'EC2_IP=%s\n' "$ip" > "$BITOPS_ENVROOT/terraform/aws/ec2.env"
for dir in clone_repo docker; do
  printf 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n      ec2_ip: "%s"\n' "$ip" \
    > "$BITOPS_ENVROOT/ansible/$dir/inventory.yaml"
done
"#;

/// `ansible/clone_repo`'s before-hook: merges the Terraform dotenv into the app's.
const MERGE_ENV_HOOK: &str = r#"set -euo pipefail
ENV_OUT_FILE="${BITOPS_ENVROOT}/ansible/clone_repo/app.env"
cat "${BITOPS_ENVROOT}/terraform/aws/ec2.env" >> "$ENV_OUT_FILE"
echo "merged $(wc -l < "$ENV_OUT_FILE") lines into app.env"
"#;

const PLAYBOOK: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: copy the app's env file
      ansible.builtin.copy:
        src: app.env
        dest: "{{ out_dir }}/{{ step }}.env"
    - name: record the host Terraform made
      ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ step }}.host"
        content: "{{ ec2_ip }}\n"
"#;

struct Repo {
    t: Test,
}

impl Repo {
    fn new(stack_action: &str) -> Repo {
        let t = Test::new();
        let state = t.root().join("state");
        let out = t.root().join("out");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        let ansible_config = |step: &str| {
            format!(
                "ansible:\n  cli:\n    main-playbook: playbook.yml\n    inventory: inventory.yaml\n    extra-vars: \"out_dir={} step={step}\"\n  options: {{}}\n",
                out.display()
            )
        };
        let path = crate::tools::path_with(&["terraform", "ansible-playbook", "shyaml"]);
        let t = t
            .write("operations/deployment/bitops.config.yaml", CORE)
            .write(
                "operations/deployment/terraform/aws/bitops.config.yaml",
                &format!(
                    "terraform:\n  cli:\n    stack-action: {stack_action}\n    targets:\n      - terraform_data.az_select\n  options: {{}}\n"
                ),
            )
            .write_raw(
                "operations/deployment/terraform/aws/main.tf",
                MAIN_TF
                    .replace("STATE", &state.display().to_string())
                    .as_bytes(),
            )
            .write(
                "operations/deployment/terraform/aws/bitops.after-deploy.d/generate-ansible.sh",
                TF_AFTER_HOOK,
            )
            .write(
                "operations/deployment/ansible/clone_repo/bitops.config.yaml",
                &ansible_config("clone_repo"),
            )
            .write(
                "operations/deployment/ansible/clone_repo/bitops.before-deploy.d/merge-env.sh",
                MERGE_ENV_HOOK,
            )
            .write(
                "operations/deployment/ansible/clone_repo/app.env",
                "APP_PORT=3000\n",
            )
            .write(
                "operations/deployment/ansible/clone_repo/playbook.yml",
                PLAYBOOK,
            )
            .write(
                "operations/deployment/ansible/docker/bitops.config.yaml",
                &ansible_config("docker"),
            )
            .write(
                "operations/deployment/ansible/docker/app.env",
                "DOCKER=1\n",
            )
            .write("operations/deployment/ansible/docker/playbook.yml", PLAYBOOK)
            // What `docker run --env-file` hands BitOps in the actions.
            .env("PATH", &path)
            .env("BITOPS_ENVIRONMENT", "deployment")
            .env("STATE_BUCKET", &state.display().to_string())
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("CHECKPOINT_DISABLE", "1")
            .args(&[
                "deploy",
                "--ops-repo",
                "operations",
                "--color",
                "never",
                "--report",
                "report.json",
            ]);
        Repo { t }
    }

    /// The resources in the state bucket (none when there is no state).
    fn state_resources(root: &Path) -> Vec<String> {
        crate::plugin_terraform::resources(&root.join("state/terraform.tfstate"))
            .unwrap_or_default()
    }
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn an_ec2_repo_deploys_its_targets_then_the_stack_and_its_hooks_pass_files_to_ansible() {
    let repo = Repo::new("apply");
    let root = repo.t.root().to_path_buf();
    let before = crate::test::snapshot(&root.join("operations"));
    let run = repo.t.run();
    run.code(0);
    run.stdout_has(
        "terraform: apply: each target first (terraform_data.az_select), then the whole stack",
    )
    .stdout_has("after-hook: stack-action apply (read with shyaml)")
    .stdout_has("merged 2 lines into app.env");
    run.stderr_has("  1   terraform/aws       terraform  ")
        .stderr_has("  2   ansible/clone_repo  ansible    ")
        .stderr_has("  3   ansible/docker      ansible    ")
        .stderr_has("  3 ok in ");
    assert_eq!(
        Repo::state_resources(&root),
        [
            "terraform_data.az_select",
            "terraform_data.ec2",
            "terraform_data.sg"
        ]
    );
    let read = |name: &str| std::fs::read_to_string(root.join("out").join(name)).unwrap();
    assert_eq!(read("clone_repo.env"), "APP_PORT=3000\nEC2_IP=10.0.0.7\n");
    assert_eq!(read("clone_repo.host"), "10.0.0.7\n");
    assert_eq!(read("docker.env"), "DOCKER=1\n");
    assert_eq!(read("docker.host"), "10.0.0.7\n");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("report.json")).unwrap()).unwrap();
    let steps: Vec<(&str, &str)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["alias"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("terraform/aws", "ok"),
            ("ansible/clone_repo", "ok"),
            ("ansible/docker", "ok")
        ]
    );
    assert_eq!(
        crate::test::snapshot(&root.join("operations")),
        before,
        "the ops repo changed"
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn destroying_an_ec2_repo_with_a_target_destroys_every_resource_before_the_state_goes() {
    let t = Repo::new("apply").t.args(&["--only", "terraform/aws"]);
    let root = t.root().to_path_buf();
    crate::test::succeeded(t.command(&[]).output().unwrap());
    assert_eq!(Repo::state_resources(&root).len(), 3);

    // The action's destroy: the same repo with stack-action destroy; a hook before the
    // one that removes the state bucket keeps a copy of what the state holds then.
    let tool = root.join("operations/deployment/terraform/aws");
    let config = std::fs::read_to_string(tool.join("bitops.config.yaml")).unwrap();
    std::fs::write(
        tool.join("bitops.config.yaml"),
        config.replace("stack-action: apply", "stack-action: destroy"),
    )
    .unwrap();
    let seen = root.join("seen.tfstate");
    let t = t.write(
        "operations/deployment/terraform/aws/bitops.after-deploy.d/00-keep-state.sh",
        &format!(
            "cp \"$STATE_BUCKET/terraform.tfstate\" {}\n",
            seen.display()
        ),
    );
    let run = t.run();
    run.code(0);
    run.stdout_has("terraform: destroy: the whole stack; the targets (terraform_data.az_select) are for plan and apply only")
        .stdout_has("Apply complete! Resources: 0 added, 0 changed, 3 destroyed.")
        .stdout_has("after-hook: stack-action destroy (read with shyaml)")
        .stdout_has("after-hook: destroy, removing the state bucket")
        .stdout_lacks("-target=");
    run.stderr_has("1 ok in ");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(
        state["resources"],
        serde_json::json!([]),
        "resources left behind"
    );
    assert!(
        !root.join("state").exists(),
        "the after-hook removes the state bucket"
    );
}

/// The probe plugin's deploy script publishes an output; the aliases have `/`.
fn slash_repo(core: &str) -> Test {
    Test::new()
        .probe_plugin("probe", "probe:\n  type: object\n  properties:\n    cli:\n      type: object\n      properties:\n        stack-action: {type: string, default: apply}\n", &[])
        .write(
            "plugins/probe/deploy.sh",
            "echo \"deploy $BITOPS_DEPLOYMENT_ALIAS in ${PWD#\"$BITOPS_TEMPDIR\"/} with $1\"\n[ -z \"${BITOPS_OUTPUTS:-}\" ] || echo ip=10.0.0.7 >> \"$BITOPS_OUTPUTS\"\nenv | grep '^BITOPS_OUT_' || true\n",
        )
        .write("repo/deployment/bitops.config.yaml", core)
        .write("repo/deployment/terraform/aws/bitops.config.yaml", "probe: {}\n")
        .write(
            "repo/deployment/ansible/clone_repo/bitops.config.yaml",
            "probe:\n  cli:\n    stack-action: \"${{ outputs.terraform/aws.ip }}\"\n",
        )
}

#[test]
fn deployment_names_with_a_slash_are_folders_of_the_environment() {
    let run = slash_repo(
        "bitops:\n  deployments:\n    terraform/aws:\n      plugin: probe\n    ansible/clone_repo:\n      plugin: probe\n      depends_on: [terraform/aws]\n",
    )
    .cmd("deploy", "deployment")
    .args(&["--junit", "junit.xml"])
    .run();
    run.code(0);
    run.stdout_is(
        "
        deploy terraform/aws in deployment/terraform/aws with apply
        deploy ansible/clone_repo in deployment/ansible/clone_repo with 10.0.0.7
        BITOPS_OUT_TERRAFORM_AWS_IP=10.0.0.7
        ",
    );
    run.stderr_has("[1/2] terraform/aws (plugin probe)")
        .stderr_has("[2/2] ansible/clone_repo ok in ")
        .stderr_has("  2 ok in ");
    let junit = std::fs::read_to_string(run.root.join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"terraform/aws (probe)\""), "{junit}");
    assert!(
        junit.contains("name=\"ansible/clone_repo (probe)\""),
        "{junit}"
    );

    // --only takes the name as written; no `terraform` folder warning (it holds a deployment)
    let run = slash_repo(
        "bitops:\n  deployments:\n    terraform/aws:\n      plugin: probe\n    ansible/clone_repo:\n      plugin: probe\n",
    )
    .cmd("plan", "deployment")
    .args(&["--only", "terraform/aws"])
    .run();
    run.code(0);
    run.stdout_has("[1/1] terraform/aws (plugin probe)")
        .stdout_has("  folder        deployment/terraform/aws\n");
    run.stderr_lacks("warning");
}

#[test]
fn a_bad_deployment_name_is_reported_at_its_own_line() {
    let run = slash_repo(
        "bitops:\n  deployments:\n    terraform/../aws:\n      plugin: probe\n    /abs:\n      plugin: probe\n    ansible//x: {plugin: probe}\n",
    )
    .cmd("deploy", "deployment")
    .run();
    run.code(1);
    run.stdout_is("");
    let hint = "use a folder of the environment, such as `terraform` or `terraform/aws`: letters, digits, `_`, `.` and `-` in each part, parts joined by `/`, no `..`";
    run.stderr_is(&format!(
        "
        error: repo/deployment/bitops.config.yaml:3: `bitops.deployments.terraform/../aws`: `terraform/../aws` is not a valid deployment name (a path with `..`): {hint}
        error: repo/deployment/bitops.config.yaml:5: `bitops.deployments./abs`: `/abs` is not a valid deployment name (an absolute path): {hint}
        error: repo/deployment/bitops.config.yaml:7: `bitops.deployments.ansible//x`: `ansible//x` is not a valid deployment name (a path with an empty component (`//` or a trailing `/`)): {hint}
        3 errors found; nothing was run
        "
    ));
}
