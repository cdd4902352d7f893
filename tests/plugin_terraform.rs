//! The built-in terraform plugin against the real terraform (`.ci/tools.sh`):
//! `terraform_data` resources and outputs with the local backend. The workspace is
//! deleted after each run, so the state lives in a folder of its own that outlives the
//! runs, and each test runs `bitops deploy` once or more against it.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::outputs::{copying, outputs, plain, published, secret, with_outputs};
use crate::test::Test;

/// A state folder shared by the runs of one test, and the PATH holding terraform.
struct Tf {
    state: TempDir,
    path: String,
}

const RESOURCES: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "first" {
  input = var.greeting
}

resource "terraform_data" "second" {
  input = "second"
}

output "greeting" {
  value = terraform_data.first.output
}
"#;

impl Tf {
    fn new() -> Tf {
        let path = crate::tools::path_with(&["terraform"]);
        let state = tempfile::Builder::new()
            .prefix("bitops-tf-state-")
            .tempdir()
            .unwrap();
        Tf { state, path }
    }

    fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// The default workspace's state file, as configured in `main.tf`.
    fn state_file(&self) -> PathBuf {
        self.state_dir().join("terraform.tfstate")
    }

    /// `main.tf` with the local backend writing into the state folder; `backend_extra`
    /// goes inside the backend block.
    fn main_tf(&self, backend_extra: &str, resources: &str) -> String {
        format!(
            "terraform {{\n  backend \"local\" {{\n    path = \"{}\"\n{backend_extra}  }}\n}}\n{resources}",
            self.state_file().display()
        )
    }

    /// An ops repo with one `terraform` deployment: `config` is the tool's
    /// bitops.config.yaml, and the default `main.tf`.
    fn test(&self, config: &str) -> Test {
        self.test_with(config, &self.main_tf("", RESOURCES))
    }

    fn test_with(&self, config: &str, main_tf: &str) -> Test {
        self.repo(config, main_tf).cmd("deploy", "dev")
    }

    /// `bitops plan` of the default configuration with `config`.
    fn plan(&self, config: &str) -> Test {
        self.repo(config, &self.main_tf("", RESOURCES))
            .cmd("plan", "dev")
    }

    fn repo(&self, config: &str, main_tf: &str) -> Test {
        Test::new()
            .write(
                "repo/dev/bitops.config.yaml",
                "bitops:\n  deployments:\n    terraform: {plugin: terraform}\n",
            )
            .write("repo/dev/terraform/bitops.config.yaml", config)
            .write_raw("repo/dev/terraform/main.tf", main_tf.as_bytes())
            .env("PATH", &self.path)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("CHECKPOINT_DISABLE", "1")
    }

    /// `stack-action: apply` of the default configuration, checked.
    fn apply(&self) {
        let run = self.test("terraform: {cli: {stack-action: apply}}\n").run();
        run.code(0)
            .stdout_has("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.")
            .stderr_is(&ok("apply"));
        assert_eq!(
            resources(&self.state_file()),
            Some(vec![
                "terraform_data.first".to_string(),
                "terraform_data.second".to_string()
            ])
        );
    }
}

/// `type.name` of every resource in a state file; `None` when there is no state file.
pub fn resources(state: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(state).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out: Vec<String> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}.{}",
                r["type"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    Some(out)
}

fn output(state: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(state).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["outputs"][name]["value"].clone()
}

/// What bitops prints on stderr for a successful run of the `terraform` step whose
/// deploy script gets `action`.
fn ok(action: &str) -> String {
    ok_summary(action, "")
}

/// `ok` for a dry run, whose summary says so.
fn dry_run_ok(action: &str) -> String {
    ok_summary(
        action,
        " (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks)",
    )
}

fn ok_summary(action: &str, note: &str) -> String {
    format!(
        "[1/1] terraform (plugin terraform)
  deploy script: bash <builtins>/terraform/deploy.sh {action}
[1/1] terraform ok in <t>
Summary for environment `dev`{note}:
  #   deployment  plugin     time      result
  1   terraform   terraform  <t> ok
  1 ok in <t>
"
    )
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn plan_is_the_default_and_writes_no_state() {
    let tf = Tf::new();
    let run = tf.test("terraform: {}\n").run();
    run.code(0);
    run.stderr_is(&ok("plan"));
    run.stdout_has("terraform: running: terraform init -input=false -no-color\n")
        .stdout_has("Terraform has been successfully initialized!")
        .stdout_has("# terraform_data.first will be created")
        .stdout_has("Plan: 2 to add, 0 to change, 0 to destroy.")
        .stdout_has("terraform: plan: changes pending (stack-action is plan: nothing applied)");
    run.stdout_lacks("Apply complete");
    assert_eq!(resources(&tf.state_file()), None, "plan wrote a state");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn apply_writes_the_state_and_shows_the_outputs() {
    let tf = Tf::new();
    let run = tf.test("terraform: {cli: {stack-action: apply}}\n").run();
    run.code(0);
    run.stderr_is(&ok("apply"));
    run.stdout_has("terraform: terraform 1.")
        .stdout_has(", stack-action apply\n")
        .stdout_has("Plan: 2 to add, 0 to change, 0 to destroy.")
        .stdout_has("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.")
        .stdout_has("Outputs:\n\ngreeting = \"hello\"\n")
        .stdout_has("terraform: apply complete\n");
    assert_eq!(
        resources(&tf.state_file()).unwrap(),
        ["terraform_data.first", "terraform_data.second"]
    );
    assert_eq!(output(&tf.state_file(), "greeting"), "hello");

    // a second apply finds nothing to do, and still shows the outputs
    let run = tf.test("terraform: {cli: {stack-action: apply}}\n").run();
    run.code(0);
    run.stderr_is(&ok("apply"));
    run.stdout_has("terraform: apply: no changes to apply\n")
        .stdout_has("greeting = \"hello\"");
    run.stdout_lacks("Apply complete");
    // the saved plan is removed
    let left: Vec<_> = std::fs::read_dir(run.root.join("tmp"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("terraform-plan."))
        .collect();
    assert!(left.is_empty(), "plan files left behind: {left:?}");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn terraform_apply_true_forces_an_apply() {
    let tf = Tf::new();
    const WARNING: &str = "warning: repo/dev/terraform/bitops.config.yaml:1: `terraform.cli.stack-action`: TERRAFORM_APPLY=true in the environment makes it `apply`, not `plan` as set here\n  hint: unset TERRAFORM_APPLY to run as the config says, or set `stack-action: apply` to say it there\n";
    // `plan` shows what `deploy` does with the same environment: an apply, and why.
    let run = tf
        .plan("terraform: {cli: {stack-action: plan}}\n")
        .env("TERRAFORM_APPLY", "true")
        .run();
    run.code(0)
        .stderr_is(WARNING)
        .stdout_has("  deploy        bash <built-in>/terraform/deploy.sh apply\n")
        .stdout_has("TERRAFORM_COMMAND=apply\n");
    // ... and `validate --strict` makes that an error.
    let run = tf
        .repo(
            "terraform: {cli: {stack-action: plan}}\n",
            &tf.main_tf("", RESOURCES),
        )
        .env("TERRAFORM_APPLY", "true")
        .cmd("validate", "dev")
        .args(&["--strict"])
        .run();
    run.code(1)
        .stdout_has(&WARNING.replacen("warning:", "error:", 1));
    assert_eq!(resources(&tf.state_file()), None);
    let run = tf
        .test("terraform: {cli: {stack-action: plan}}\n")
        .env("TERRAFORM_APPLY", "true")
        .run();
    run.code(0);
    run.stderr_is(&format!("{WARNING}{}", ok("apply")));
    run.stdout_has("Apply complete! Resources: 2 added");
    assert_eq!(resources(&tf.state_file()).unwrap().len(), 2);
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn destroy_plans_the_destruction_then_removes_everything() {
    let tf = Tf::new();
    tf.apply();
    let run = tf.test("terraform: {cli: {stack-action: destroy}}\n").run();
    run.code(0);
    run.stderr_is(&ok("destroy"));
    run.stdout_has("terraform: running: terraform plan -input=false -detailed-exitcode -no-color -destroy -out=<root>/tmp/terraform-plan.")
        .stdout_has("# terraform_data.first will be destroyed")
        .stdout_has("Plan: 0 to add, 0 to change, 2 to destroy.")
        .stdout_has("Resources: 0 added, 0 changed, 2 destroyed.")
        .stdout_has("terraform: destroy complete\n");
    assert_eq!(resources(&tf.state_file()).unwrap(), Vec::<String>::new());
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn terraform_destroy_true_forces_a_destroy() {
    let tf = Tf::new();
    tf.apply();
    let run = tf
        .test("terraform: {cli: {stack-action: apply}}\n")
        .env("TERRAFORM_DESTROY", "true")
        .run();
    run.code(0);
    run.stderr_is(&format!("warning: repo/dev/terraform/bitops.config.yaml:1: `terraform.cli.stack-action`: TERRAFORM_DESTROY=true in the environment makes it `destroy`, not `apply` as set here\n  hint: unset TERRAFORM_DESTROY to run as the config says, or set `stack-action: destroy` to say it there\n{}", ok("destroy")));
    run.stdout_has("2 destroyed.");
    assert_eq!(resources(&tf.state_file()).unwrap(), Vec::<String>::new());
    // TERRAFORM_APPLY never turns a destroy into an apply, and says so.
    let run = tf
        .plan("terraform: {cli: {stack-action: destroy}}\n")
        .env("TERRAFORM_APPLY", "true")
        .run();
    run.code(0)
        .stderr_is("warning: repo/dev/terraform/bitops.config.yaml:1: `terraform.cli.stack-action`: TERRAFORM_APPLY=true is ignored: it stays `destroy` as set here\n  hint: unset TERRAFORM_APPLY to silence this\n")
        .stdout_has("  deploy        bash <built-in>/terraform/deploy.sh destroy\n");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn dry_run_reports_no_changes_or_pending_changes_and_applies_nothing() {
    let tf = Tf::new();
    tf.apply();
    let before = std::fs::read(tf.state_file()).unwrap();

    // the same configuration: nothing to do
    let run = tf
        .test("terraform: {cli: {stack-action: apply}}\n")
        .env("BITOPS_DRY_RUN", "true")
        .run();
    run.code(0);
    run.stderr_is(&dry_run_ok("apply"));
    run.stdout_has(", stack-action apply, dry run\n")
        .stdout_has(
            "terraform: running: terraform plan -input=false -detailed-exitcode -no-color\n",
        )
        .stdout_has("No changes.")
        .stdout_has("terraform: dry run: no changes (stack-action apply)\n");
    run.stdout_lacks("Apply complete");

    // a changed configuration: the plan shows the change, nothing is applied
    let changed = tf.main_tf("", &RESOURCES.replace("\"hello\"", "\"changed\""));
    let run = tf
        .test_with("terraform: {cli: {stack-action: apply}}\n", &changed)
        .env("BITOPS_DRY_RUN", "true")
        .run();
    run.code(0);
    run.stderr_is(&dry_run_ok("apply"));
    run.stdout_has("# terraform_data.first will be updated in-place")
        .stdout_has("terraform: dry run: changes pending (stack-action apply): see the plan above; nothing was applied\n");
    run.stdout_lacks("Apply complete");
    assert!(
        std::fs::read(tf.state_file()).unwrap() == before,
        "a dry run changed the state"
    );

    // a dry run of a destroy plans the destruction only
    let run = tf
        .test("terraform: {cli: {stack-action: destroy}}\n")
        .args(&["--dry-run"])
        .run();
    run.code(0);
    run.stderr_is(&dry_run_ok("destroy"));
    run.stdout_has(
        "terraform: running: terraform plan -input=false -detailed-exitcode -no-color -destroy\n",
    )
    .stdout_has("Plan: 0 to add, 0 to change, 2 to destroy.")
    .stdout_has("terraform: dry run: changes pending (stack-action destroy): see the plan above; nothing was applied\n");
    assert!(
        std::fs::read(tf.state_file()).unwrap() == before,
        "a dry run changed the state"
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn var_file_values_reach_the_outputs() {
    let tf = Tf::new();
    let run = tf
        .test("terraform: {cli: {var-file: dev.tfvars, stack-action: apply}}\n")
        .write(
            "repo/dev/terraform/dev.tfvars",
            "greeting = \"hello from dev.tfvars\"\n",
        )
        .run();
    run.code(0);
    run.stderr_is(&ok("apply"));
    run.stdout_has("-no-color -var-file=dev.tfvars -out=<root>/tmp/terraform-plan.")
        .stdout_has("greeting = \"hello from dev.tfvars\"\n");
    assert_eq!(
        output(&tf.state_file(), "greeting"),
        "hello from dev.tfvars"
    );
}

/// Three resources, `third` depending on `second`: a targeted run of `second` alone leaves
/// `first` out; a targeted destroy of `second` takes `third` with it but not `first`.
const CHAIN: &str = r#"
resource "terraform_data" "first" {
  input = "first"
}

resource "terraform_data" "second" {
  input = "second"
}

resource "terraform_data" "third" {
  input = terraform_data.second.output
}
"#;

/// Position of each part in `text`, in order; panics naming the first one missing or
/// out of order.
fn in_order(text: &str, parts: &[&str]) {
    let mut from = 0;
    for part in parts {
        match text[from..].find(part) {
            Some(at) => from += at + part.len(),
            None => panic!("`{part}` not found (in this order) in:\n{text}"),
        }
    }
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn apply_with_targets_applies_each_target_then_the_whole_stack() {
    let tf = Tf::new();
    let main_tf = tf.main_tf("", CHAIN);
    let run = tf
        .test_with(
            "terraform:\n  cli:\n    targets: [terraform_data.second]\n    stack-action: apply\n",
            &main_tf,
        )
        .run();
    run.code(0);
    run.stderr_is(&ok("apply"));
    let out = run.stdout();
    in_order(
        &out,
        &[
            "terraform: apply: each target first (terraform_data.second), then the whole stack, as in BitOps (options.targets-only: true limits it to the targets)",
            "terraform: plan of target terraform_data.second",
            "-target=terraform_data.second -out=<root>/tmp/terraform-plan.",
            "Apply complete! Resources: 1 added",
            "terraform: plan of the whole stack",
            "-no-color -out=<root>/tmp/terraform-plan.",
            "Apply complete! Resources: 2 added",
            "terraform: apply complete",
        ],
    );
    assert_eq!(
        resources(&tf.state_file()).unwrap(),
        [
            "terraform_data.first",
            "terraform_data.second",
            "terraform_data.third"
        ]
    );

    // `target` (a single address), as in older BitOps configs: the same sequence, and a
    // second apply has nothing left to do.
    let run = tf
        .test_with(
            "terraform: {cli: {target: terraform_data.first, stack-action: apply}}\n",
            &main_tf,
        )
        .run();
    run.code(0);
    run.stderr_is(&ok("apply"));
    run.stdout_has("-target=terraform_data.first -out=<root>/tmp/terraform-plan.")
        .stdout_has("terraform: apply of target terraform_data.first: no changes to apply")
        .stdout_has("terraform: apply of the whole stack: no changes to apply");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn destroy_with_targets_destroys_the_whole_stack() {
    let tf = Tf::new();
    let main_tf = tf.main_tf("", CHAIN);
    let config = |action: &str| {
        format!(
            "terraform:\n  cli:\n    targets: [terraform_data.second]\n    stack-action: {action}\n"
        )
    };
    tf.test_with(&config("apply"), &main_tf)
        .run()
        .code(0)
        .stdout_has("Apply complete! Resources: 2 added")
        .stderr_is(&ok("apply"));
    assert_eq!(resources(&tf.state_file()).unwrap().len(), 3);

    // The dry run shows the destroy that would run: the whole stack.
    let run = tf
        .test_with(&config("destroy"), &main_tf)
        .args(&["--dry-run"])
        .run();
    run.code(0);
    run.stderr_is(&dry_run_ok("destroy"));
    run.stdout_has("terraform: destroy: the whole stack; the targets (terraform_data.second) are for plan and apply only, as in BitOps (options.targets-only: true destroys only them)")
        .stdout_has("Plan: 0 to add, 0 to change, 3 to destroy.")
        .stdout_lacks("-target=");
    assert_eq!(resources(&tf.state_file()).unwrap().len(), 3);

    let run = tf.test_with(&config("destroy"), &main_tf).run();
    run.code(0);
    run.stderr_is(&ok("destroy"));
    run.stdout_has("terraform: destroy: the whole stack;")
        .stdout_has("Apply complete! Resources: 0 added, 0 changed, 3 destroyed.")
        .stdout_lacks("-target=");
    assert_eq!(resources(&tf.state_file()).unwrap(), Vec::<String>::new());
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn targets_only_limits_apply_and_destroy_to_the_targets_and_says_so() {
    let tf = Tf::new();
    let main_tf = tf.main_tf("", CHAIN);
    let config = |action: &str| {
        format!(
            "terraform:\n  cli:\n    targets: [terraform_data.third]\n    stack-action: {action}\n  options:\n    targets-only: true\n"
        )
    };
    let run = tf.test_with(&config("apply"), &main_tf).run();
    run.code(0);
    run.stderr_is(&ok("apply"));
    run.stdout_has("terraform: options.targets-only is set: apply limited to the targets (terraform_data.third), the rest of the stack is left as it is")
        .stdout_lacks("plan of the whole stack");
    // `third` and what it depends on; `first` is left out.
    assert_eq!(
        resources(&tf.state_file()).unwrap(),
        ["terraform_data.second", "terraform_data.third"]
    );
    tf.test_with("terraform: {cli: {stack-action: apply}}\n", &main_tf)
        .run()
        .code(0)
        .stdout_has("Apply complete! Resources: 1 added")
        .stderr_is(&ok("apply"));
    let run = tf.test_with(&config("destroy"), &main_tf).run();
    run.code(0);
    run.stderr_is(&ok("destroy"));
    run.stdout_has("terraform: options.targets-only is set: destroy limited to the targets (terraform_data.third)")
        .stdout_has("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.");
    assert_eq!(
        resources(&tf.state_file()).unwrap(),
        ["terraform_data.first", "terraform_data.second"]
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn dry_run_with_targets_shows_the_plans_an_apply_would_make() {
    let tf = Tf::new();
    let main_tf = tf.main_tf("", CHAIN);
    let run = tf
        .test_with(
            "terraform:\n  cli:\n    targets: [terraform_data.first, terraform_data.third]\n    stack-action: apply\n",
            &main_tf,
        )
        .args(&["--dry-run"])
        .run();
    run.code(0);
    run.stderr_is(&dry_run_ok("apply"));
    in_order(
        &run.stdout(),
        &[
            "terraform: apply (dry run): each target first (terraform_data.first, terraform_data.third), then the whole stack",
            "terraform: plan of target terraform_data.first",
            "Plan: 1 to add, 0 to change, 0 to destroy.",
            "terraform: plan of target terraform_data.third",
            "Plan: 2 to add, 0 to change, 0 to destroy.",
            "terraform: plan of the whole stack",
            "Plan: 3 to add, 0 to change, 0 to destroy.",
            "terraform: dry run: changes pending (stack-action apply)",
        ],
    );
    assert_eq!(resources(&tf.state_file()), None);
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn backend_config_and_init_upgrade_go_to_init() {
    let tf = Tf::new();
    let other = tf.state_dir().join("from-backend-config.tfstate");
    let config = format!(
        "terraform:\n  cli:\n    backend-config: [\"path={}\"]\n    stack-action: apply\n  options:\n    init-upgrade: true\n",
        other.display()
    );
    let run = tf.test(&config).run();
    run.code(0);
    run.stderr_is(&ok("apply"));
    run.stdout_has(&format!(
        "terraform: running: terraform init -input=false -no-color -upgrade -backend-config=path={}\n",
        other.display()
    ));
    assert_eq!(resources(&other).unwrap().len(), 2);
    assert_eq!(resources(&tf.state_file()), None);
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_workspace_is_created_then_selected() {
    let tf = Tf::new();
    // The local backend keeps a workspace's state in `terraform.tfstate.d/<name>/` under the
    // working folder, which is the staged tool folder: gone after the run.
    let run = tf
        .test("terraform: {cli: {stack-action: apply}, options: {workspace: staging}}\n")
        .args(&["--keep-workspace"])
        .run();
    run.code(0);
    run.stderr_is(
        "
        [1/1] terraform (plugin terraform)
          deploy script: bash <builtins>/terraform/deploy.sh apply
        [1/1] terraform ok in <t>
        workspace kept at <ws> (built-in plugins at <builtins>)
        Summary for environment `dev`:
          #   deployment  plugin     time      result
          1   terraform   terraform  <t> ok
          1 ok in <t>
        ",
    );
    run.stdout_has("terraform: running: terraform workspace new -no-color staging\n")
        .stdout_has("Created and switched to workspace \"staging\"!")
        .stdout_has("Apply complete! Resources: 2 added");
    let ws = run.workspaces();
    assert_eq!(ws.len(), 1, "{ws:?}");
    let staged = ws[0].join("dev/terraform/terraform.tfstate.d/staging/terraform.tfstate");
    assert_eq!(resources(&staged).unwrap().len(), 2);
    assert_eq!(
        resources(&tf.state_file()),
        None,
        "default workspace touched"
    );

    // With `workspace_dir` in the backend the workspaces outlive the run: the first
    // run creates `staging`, the next ones select it.
    let workspaces = tf.state_dir().join("workspaces");
    let main_tf = tf.main_tf(
        &format!("    workspace_dir = \"{}\"\n", workspaces.display()),
        RESOURCES,
    );
    let config = "terraform: {cli: {stack-action: apply}, options: {workspace: staging}}\n";
    // a dry run does not create a missing workspace
    let run = tf
        .test_with(config, &main_tf)
        .env("BITOPS_DRY_RUN", "true")
        .run();
    run.code(0);
    run.stderr_is(&dry_run_ok("apply"));
    run.stdout_has("terraform: dry run: changes pending: workspace `staging` does not exist yet and would be created; no plan was made (creating it is a change)\n");
    assert!(!workspaces.exists(), "a dry run created the workspace");

    let run = tf.test_with(config, &main_tf).run();
    run.code(0);
    run.stderr_is(&ok("apply"));
    run.stdout_has("terraform workspace new -no-color staging");
    let staging = workspaces.join("staging/terraform.tfstate");
    assert_eq!(resources(&staging).unwrap().len(), 2);

    // options.workspace wins over TF_WORKSPACE
    let run = tf
        .test_with(config, &main_tf)
        .env("BITOPS_DRY_RUN", "true")
        .env("TF_WORKSPACE", "other")
        .run();
    run.code(0);
    run.stderr_is(&dry_run_ok("apply"));
    run.stdout_has("terraform: TF_WORKSPACE=other is ignored: options.workspace is staging\n")
        .stdout_has("terraform: running: terraform workspace select -no-color staging\n")
        .stdout_has("terraform: dry run: no changes (stack-action apply)\n");
    assert_eq!(
        resources(&tf.state_file()),
        None,
        "default workspace touched"
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn skip_deploy_runs_nothing() {
    let tf = Tf::new();
    let run = tf
        .test("terraform: {cli: {stack-action: apply}, options: {skip-deploy: true}}\n")
        .run();
    run.code(0);
    run.stdout_is("terraform: skip-deploy is set: nothing to do\n");
    run.stderr_is(&ok("apply"));
    assert_eq!(resources(&tf.state_file()), None);
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_pinned_version_is_found_or_warned_about_or_with_strict_required() {
    let tf = Tf::new();
    let have_of = |run: &crate::test::Run| {
        regex::Regex::new(r"which is (\d+\.\d+\.\d+) ")
            .unwrap()
            .captures(run.stdout_text())
            .unwrap_or_else(|| panic!("no version in:\n{}", run.stdout_text()))[1]
            .to_string()
    };
    // not installed: a warning, and the terraform on PATH runs
    let run = tf
        .test("terraform: {cli: {stack-action: apply}, options: {version: 0.12.31}}\n")
        .run();
    run.code(0);
    let have = have_of(&run);
    run.stdout_has(&format!(
        "terraform: warning: options.version asks for terraform 0.12.31, not found (terraform-0.12.31, terraform0.12.31, tfenv); using {}/terraform, which is {have} (set options.version-strict: true to make this an error)\n",
        crate::tools::tools_bin().display()
    ));
    run.stderr_is(&ok("apply"));

    // version-strict: an error, nothing runs
    let tf = Tf::new();
    let run = tf
        .test("terraform: {cli: {stack-action: apply}, options: {version: 0.12.31, version-strict: true}}\n")
        .run();
    run.code(1);
    run.stdout_has("terraform: error: options.version requires terraform 0.12.31, but ");
    run.stdout_lacks("running: terraform init");
    run.stderr_has("[1/1] terraform failed (deploy script, exit 1)");
    assert_eq!(resources(&tf.state_file()), None);

    // terraform-VERSION on PATH is used (here a wrapper that reports 0.12.31)
    let t = tf.test("terraform: {cli: {stack-action: plan}, options: {version: 0.12.31, version-strict: true}}\n");
    let bin = t.root().join("bin");
    let t = t.executable(
        "bin/terraform-0.12.31",
        &format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo 'Terraform v0.12.31'; exit 0; fi\nexec {}/terraform \"$@\"\n",
            crate::tools::tools_bin().display()
        ),
    );
    let run = t
        .env("PATH", &format!("{}:{}", bin.display(), tf.path))
        .run();
    run.code(0);
    run.stdout_has(
        "terraform: terraform 0.12.31 (<root>/bin/terraform-0.12.31), stack-action plan\n",
    );
    run.stderr_has("[1/1] terraform ok in");

    // the exact version, or a prefix of it, passes
    let minor = have.rsplit_once('.').unwrap().0.to_string();
    for pin in [have.as_str(), &format!("v{have}"), &minor] {
        let run = tf
            .test(&format!(
                "terraform: {{options: {{version: \"{pin}\", version-strict: true}}}}\n"
            ))
            .run();
        run.code(0);
        run.stderr_is(&ok("plan"));
        run.stdout_has(&format!("terraform: terraform {have} ("));
    }
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn errors_are_clear_and_terraform_exit_codes_are_passed_on() {
    let tf = Tf::new();
    // the schema's `enum` stops an unknown stack-action before anything runs
    let run = tf.test("terraform: {cli: {stack-action: aply}}\n").run();
    run.code(1);
    run.stderr_has("`terraform.cli.stack-action`: `aply` is not one of plan, apply, destroy (did you mean `apply`?)\n");
    run.stdout_is("");

    let run = tf
        .test_with(
            "terraform: {cli: {stack-action: apply}}\n",
            &tf.main_tf(
                "",
                "resource \"terraform_data\" \"broken\" {\n  input = var.missing\n}\n",
            ),
        )
        .run();
    run.code(1);
    run.stderr_is(
        "
        [1/1] terraform (plugin terraform)
          deploy script: bash <builtins>/terraform/deploy.sh apply
        [1/1] terraform failed (deploy script, exit 1) after <t>
        Summary for environment `dev`:
          #   deployment  plugin     time      result
          1   terraform   terraform  <t> failed (deploy script, exit 1)
          1 failed in <t>
        error: deploy script of `terraform` failed with exit code 1; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("Reference to undeclared input variable")
        .stdout_has("terraform: error: `terraform plan` failed (exit 1)\n");
    run.stdout_lacks("terraform apply");
    assert_eq!(resources(&tf.state_file()), None);

    let run = tf
        .test("terraform: {cli: {stack-action: apply}}\n")
        .env("PATH", "/usr/bin:/bin")
        .run();
    // the core's preflight finds it missing before step 1
    run.code(127);
    run.stdout_is("");
    run.stderr_has("`terraform` (needed by terraform; get it: https://developer.hashicorp.com/terraform/install)");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn install_checks_that_terraform_is_on_path() {
    let tf = Tf::new();
    let install = |path: &str| {
        Test::new()
            .install_builtin("terraform")
            .env("PATH", path)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .run()
    };
    let run = install(&tf.path);
    run.code(0).stderr_is(
        "
        [1/1] fetching terraform (built in)
          install script: bash install.sh
          installed terraform into <root>/installed/terraform
        installed 1 plugin into <root>/installed
        ",
    );
    run.stdout_has(&format!(
        "terraform: found {}/terraform\nTerraform v1.",
        crate::tools::tools_bin().display()
    ));

    let run = install("/usr/bin:/bin");
    run.code(127).stderr_is(
        "
        [1/1] fetching terraform (built in)
          install script: bash install.sh
        error: the install script of `terraform` failed (exit code 127)
        error: install script of plugin `terraform` failed with exit code 127; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("terraform: error: terraform not found on PATH; install Terraform (https://developer.hashicorp.com/terraform/install) and put it on PATH\n");
}

/// A sensitive output next to `greeting`; its value must never be printed.
const TOKEN: &str = "tf-token-5e1f0c9a";

fn resources_with_token() -> String {
    format!(
        "{RESOURCES}
output \"token\" {{
  value     = \"{TOKEN}\"
  sensitive = true
}}
"
    )
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn outputs_of_plan_apply_and_dry_run_are_published_never_those_of_destroy() {
    let tf = Tf::new();
    let main_tf = tf.main_tf("", &resources_with_token());
    let step = |config: &str| with_outputs(tf.test_with(config, &main_tf), "terraform");
    let expected = vec![outputs(&[
        ("greeting", plain("hello")),
        ("token", secret(TOKEN)),
    ])];
    const PUBLISHED: &str =
        "terraform: outputs published to BITOPS_OUTPUTS (terraform output -json)\n";

    // plan before anything exists: the state has no outputs, nothing is published
    let run = step("terraform: {}\n").run();
    run.code(0);
    run.stderr_is(&copying(&ok("plan"), "terraform"));
    run.stdout_has("terraform: plan: changes pending (stack-action is plan: nothing applied)\nterraform: no outputs to publish\n");
    assert_eq!(published(&run), Vec::new());

    // apply: the outputs, the sensitive one marked, its value in no output
    let run = step("terraform: {cli: {stack-action: apply}}\n").run();
    run.code(0);
    run.stderr_is(&copying(&ok("apply"), "terraform"));
    run.stdout_has("Apply complete! Resources: 2 added")
        .stdout_has("token = <sensitive>")
        .stdout_has(&format!("terraform: apply complete\n{PUBLISHED}"));
    run.output_lacks(TOKEN);
    assert_eq!(published(&run), expected);

    // apply again, nothing to change: the same outputs
    let run = step("terraform: {cli: {stack-action: apply}}\n").run();
    run.code(0);
    run.stderr_is(&copying(&ok("apply"), "terraform"));
    run.stdout_has("terraform: apply: no changes to apply\n")
        .stdout_has(PUBLISHED);
    run.output_lacks(TOKEN);
    assert_eq!(published(&run), expected);

    // plan: the state's current outputs, for dependents that only read them
    let run = step("terraform: {cli: {stack-action: plan}}\n").run();
    run.code(0);
    run.stderr_is(&copying(&ok("plan"), "terraform"));
    run.stdout_has(&format!("terraform: plan: no changes\n{PUBLISHED}"));
    run.output_lacks(TOKEN);
    assert_eq!(published(&run), expected);

    // a dry run of an apply with pending changes: the current outputs, not the planned ones
    let changed = tf.main_tf(
        "",
        &resources_with_token().replace("\"hello\"", "\"changed\""),
    );
    let run = with_outputs(
        tf.test_with("terraform: {cli: {stack-action: apply}}\n", &changed),
        "terraform",
    )
    .args(&["--dry-run"])
    .run();
    run.code(0);
    run.stderr_is(&copying(&dry_run_ok("apply"), "terraform"));
    run.stdout_has(&format!(
        "terraform: dry run: changes pending (stack-action apply): see the plan above; nothing was applied\n{PUBLISHED}"
    ));
    run.output_lacks(TOKEN);
    assert_eq!(published(&run), expected);

    // destroy, in a dry run and for real: nothing published
    let run = step("terraform: {cli: {stack-action: destroy}}\n")
        .args(&["--dry-run"])
        .run();
    run.code(0);
    run.stderr_is(&copying(&dry_run_ok("destroy"), "terraform"));
    run.stdout_has("terraform: dry run: changes pending (stack-action destroy)")
        .stdout_lacks("publish");
    assert_eq!(published(&run), Vec::new());
    let run = step("terraform: {cli: {stack-action: destroy}}\n").run();
    run.code(0);
    run.stderr_is(&copying(&ok("destroy"), "terraform"));
    run.stdout_has("terraform: destroy complete\n")
        .stdout_lacks("publish");
    assert_eq!(published(&run), Vec::new());
    assert_eq!(resources(&tf.state_file()).unwrap(), Vec::<String>::new());
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_local_state_in_the_workspace_is_refused_kept_or_discarded_as_configured() {
    let tf = Tf::new();
    // No backend block: the state would be written into the private workspace.
    let run = tf
        .test_with("terraform: {cli: {stack-action: apply}}\n", RESOURCES)
        .run();
    run.code(1).stdout_is("").stderr_is(
        "error: repo/dev/terraform/bitops.config.yaml:1: `terraform.cli.stack-action`: `apply` would keep the Terraform state in bitops' private copy of dev/terraform, which is deleted after the run (no backend block in its .tf files): the next run would not know what this one made\n  hint: configure a backend (s3, or local with an absolute path: `backend-config: [path=/var/lib/tfstate/dev.tfstate]`), or set `options.local-state: keep` to keep the state in bitops' state folder (`discard` to throw it away)\n",
    );
    // A plan changes nothing: no question of state.
    let run = tf.test_with("terraform: {}\n", RESOURCES).run();
    run.code(0)
        .stderr_is(&ok("plan"))
        .stdout_has("terraform: plan: changes pending");
    // A before-hook may write a backend: left to the plugin, which checks after init.
    let run = tf
        .test_with("terraform: {cli: {stack-action: apply}}\n", RESOURCES)
        .hook("repo/dev/terraform/bitops.before-deploy.d/00.sh")
        .run();
    run.code(1)
        .stdout_has("terraform: error: apply would keep the state in terraform.tfstate inside bitops' private copy of the folder, which is deleted after the run")
        .stdout_lacks("Apply complete")
        .stderr_has("[1/1] terraform failed (deploy script, exit 1)");
    // discard: applied, and said.
    let run = tf
        .test_with(
            "terraform: {cli: {stack-action: apply}, options: {local-state: discard}}\n",
            RESOURCES,
        )
        .run();
    run.code(0)
        .stderr_is(&ok("apply"))
        .stdout_has("terraform: local state: terraform.tfstate is deleted with bitops' copy of the folder after the run (options.local-state: discard)\n")
        .stdout_has("Apply complete! Resources: 2 added");

    // keep: runs of one ops repo share the state through the state folder.
    let repo = tf.state_dir().join("ops");
    let state = tf.state_dir().join("bitops-state");
    std::fs::create_dir_all(repo.join("dev/terraform")).unwrap();
    std::fs::write(
        repo.join("dev/bitops.config.yaml"),
        "bitops:\n  deployments:\n    terraform: {plugin: terraform}\n",
    )
    .unwrap();
    std::fs::write(repo.join("dev/terraform/main.tf"), RESOURCES).unwrap();
    let deploy = |action: &str| {
        std::fs::write(
            repo.join("dev/terraform/bitops.config.yaml"),
            format!(
                "terraform:\n  cli: {{stack-action: {action}}}\n  options: {{local-state: keep}}\n"
            ),
        )
        .unwrap();
        Test::new()
            .env("PATH", &tf.path)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("CHECKPOINT_DISABLE", "1")
            .env("BITOPS_STATE_DIR", &state.display().to_string())
            .args(&[
                "deploy",
                "-e",
                "dev",
                "--ops-repo",
                &repo.display().to_string(),
                "--color",
                "never",
            ])
            .run()
    };
    let kept = || -> Option<Vec<String>> {
        let steps = std::fs::read_dir(state.join("steps")).ok()?;
        let dirs: Vec<_> = steps.filter_map(|e| e.ok()).collect();
        assert_eq!(dirs.len(), 1, "one ops repo, one folder");
        resources(&dirs[0].path().join("dev/terraform/terraform.tfstate"))
    };
    let run = deploy("apply");
    run.code(0)
        .stderr_is(&ok("apply"))
        .stdout_has("Apply complete! Resources: 2 added")
        .stdout_has("terraform: local state saved in ");
    assert_eq!(kept().unwrap().len(), 2);
    let run = deploy("apply");
    run.code(0)
        .stderr_is(&ok("apply"))
        .stdout_has("terraform: apply: no changes to apply\n");
    let run = deploy("destroy");
    run.code(0)
        .stderr_is(&ok("destroy"))
        .stdout_has("2 destroyed.");
    assert_eq!(kept().unwrap(), Vec::<String>::new());
    // The ops repo is never written.
    assert!(!repo.join("dev/terraform/terraform.tfstate").exists());
    assert!(!repo.join("dev/terraform/.terraform").exists());
}
