//! The built-in cloudformation plugin with the real AWS CLI (and cfn-lint) against a moto
//! server: deploy with parameters, update, no-change redeploy, delete, a broken template, a
//! failing deploy, dry runs, skip-deploy, S3 upload and missing credentials.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::outputs::{copying, outputs, plain, published, with_outputs};
use crate::plugin_aws::Moto;
use crate::test::{Run, Test};
use crate::tools;

const STACK: &str = "bitops-test";

const TEMPLATE: &str = r#"
    AWSTemplateFormatVersion: "2010-09-09"
    Description: bitops cloudformation plugin test
    Parameters:
      Greeting:
        Type: String
    Resources:
      Param:
        Type: AWS::SSM::Parameter
        Properties:
          Name: !Sub "/bitops/${AWS::StackName}/greeting"
          Type: String
          Value: !Ref Greeting
"#;

const CONFIG: &str = "
    cloudformation:
      cli:
        validate-cfn: true
        stack-action: deploy
      options:
        cfn-stack-name: bitops-test
        cfn-files:
          template-file: template.yaml
          parameters:
            template-param-flag: true
            template-param-file: parameters.json
";

fn params(greeting: &str) -> String {
    format!(r#"[{{"ParameterKey": "Greeting", "ParameterValue": "{greeting}"}}]"#)
}

/// An ops repo with one `cloudformation` deployment configured by `config`.
fn repo(config: &str) -> Test {
    Test::new()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    cloudformation:\n      plugin: cloudformation\n",
        )
        .write("repo/dev/cloudformation/bitops.config.yaml", config)
        .write("repo/dev/cloudformation/template.yaml", TEMPLATE)
        .write(
            "repo/dev/cloudformation/parameters.json",
            &params("hello from bitops"),
        )
        .write("repo/dev/cloudformation/parameters-v2.json", &params("v2"))
}

/// Runs `deploy -e dev` against moto and reports how long it took.
#[track_caller]
fn deploy(moto: &Moto, test: Test, what: &str) -> Run {
    let t0 = Instant::now();
    let run = moto.env(test).cmd("deploy", "dev").run();
    eprintln!("{what}: {:?}", t0.elapsed());
    run
}

/// The stack's status and parameters, `None` when it does not exist.
fn stack(moto: &Moto, name: &str) -> Option<(String, Vec<(String, String)>)> {
    let (code, stdout, stderr) = moto.aws(&[
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        name,
        "--output",
        "json",
    ]);
    if code != 0 {
        assert!(
            stderr.contains("does not exist"),
            "describe-stacks: {stderr}"
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let s = &v["Stacks"][0];
    let params = s["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["ParameterKey"].as_str().unwrap().to_string(),
                p["ParameterValue"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    Some((s["StackStatus"].as_str().unwrap().to_string(), params))
}

fn param(key: &str, value: &str) -> Vec<(String, String)> {
    vec![(key.to_string(), value.to_string())]
}

/// Stacks in any state but DELETE_COMPLETE, as `name status`.
fn live_stacks(moto: &Moto) -> Vec<String> {
    let v = moto.aws_json(&["cloudformation", "list-stacks"]);
    v["StackSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["StackStatus"] != "DELETE_COMPLETE")
        .map(|s| format!("{} {}", s["StackName"], s["StackStatus"]))
        .collect()
}

/// Change sets of `name` that are still waiting to be executed (moto's list-change-sets
/// ignores --stack-name, so the stack is filtered here).
fn pending_change_sets(moto: &Moto, name: &str) -> Vec<String> {
    let v = moto.aws_json(&["cloudformation", "list-change-sets", "--stack-name", name]);
    v["Summaries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["StackName"] == name && c["ExecutionStatus"] == "AVAILABLE")
        .map(|c| c["ChangeSetName"].to_string())
        .collect()
}

/// The value of an SSM parameter, `None` when it does not exist.
fn ssm(moto: &Moto, name: &str) -> Option<String> {
    let (code, stdout, stderr) = moto.aws(&[
        "ssm",
        "get-parameter",
        "--name",
        name,
        "--query",
        "Parameter.Value",
        "--output",
        "text",
    ]);
    if code != 0 {
        assert!(
            stderr.contains("ParameterNotFound"),
            "get-parameter: {stderr}"
        );
        return None;
    }
    Some(stdout.trim().to_string())
}

const SSM_NAME: &str = "/bitops/bitops-test/greeting";

/// What bitops prints on stderr for a successful run of the `cloudformation` step whose
/// deploy script gets `action`.
fn ok(action: &str) -> String {
    summary(action, "ok in <t>", "", "ok", "")
}

/// `ok` for a dry run, whose summary says so.
fn dry_run_ok(action: &str) -> String {
    summary(
        action,
        "ok in <t>",
        " (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks)",
        "ok",
        "",
    )
}

/// What bitops prints on stderr when the deploy script fails with `code`.
fn failed(action: &str, code: i32) -> String {
    summary(
        action,
        &format!("failed (deploy script, exit {code}) after <t>"),
        "",
        &format!("failed (deploy script, exit {code})"),
        &format!(
            "error: deploy script of `cloudformation` failed with exit code {code}; the run stopped there (fail_fast)\n"
        ),
    )
}

fn summary(action: &str, step: &str, note: &str, result: &str, end: &str) -> String {
    let totals = if result.starts_with("ok") {
        "1 ok"
    } else if result.starts_with("skipped") {
        "1 skipped"
    } else {
        "1 failed"
    };
    format!(
        "[1/1] cloudformation (plugin cloudformation)
  deploy script: bash <builtins>/cloudformation/deploy.sh {action}
[1/1] cloudformation {step}
Summary for environment `dev`{note}:
  #   deployment      plugin          time      result
  1   cloudformation  cloudformation  <t> {result}
  {totals} in <t>
{end}"
    )
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn deploys_updates_and_deletes_a_stack_with_parameters() {
    let moto = Moto::start();

    let run = deploy(&moto, repo(CONFIG), "create");
    run.code(0);
    run.stderr_is(&ok("deploy"));
    run.stdout_has("aws: identity: account 123456789012, arn:aws:sts::123456789012:user/moto\n");
    run.stdout_has("cloudformation: template template.yaml is valid\n");
    run.stdout_has("cloudformation: cfn-lint: no findings\n");
    run.stdout_has("cloudformation: stack bitops-test does not exist yet\n");
    run.stdout_has("  Add      Param                            AWS::SSM::Parameter\n");
    run.stdout_has("  parameter Greeting = hello from bitops\n");
    run.stdout_has("cloudformation: stack bitops-test: CREATE_COMPLETE\ncloudformation: stack bitops-test deployed\n");
    assert_eq!(
        stack(&moto, STACK),
        Some((
            "CREATE_COMPLETE".into(),
            param("Greeting", "hello from bitops")
        ))
    );
    assert_eq!(ssm(&moto, SSM_NAME).as_deref(), Some("hello from bitops"));

    // The same again: nothing to do, success.
    let run = deploy(&moto, repo(CONFIG), "redeploy without changes");
    run.code(0);
    run.stderr_is(&ok("deploy"));
    run.stdout_has("cloudformation: no changes: stack bitops-test is up to date\n");
    assert_eq!(stack(&moto, STACK).unwrap().0, "CREATE_COMPLETE");

    // Another parameters file, chosen with the leaf's variable: an update.
    let run = deploy(
        &moto,
        repo(CONFIG).env(
            "BITOPS_CLOUDFORMATION_TEMPLATE_PARAM_FILE",
            "parameters-v2.json",
        ),
        "update",
    );
    run.code(0);
    run.stderr_is(&ok("deploy"));
    run.stdout_has("cloudformation: parameters from parameters-v2.json\n");
    run.stdout_has("(UPDATE) of stack bitops-test:\n");
    assert_eq!(
        stack(&moto, STACK),
        Some(("UPDATE_COMPLETE".into(), param("Greeting", "v2")))
    );
    assert_eq!(ssm(&moto, SSM_NAME).as_deref(), Some("v2"));
    assert_eq!(pending_change_sets(&moto, STACK), Vec::<String>::new());

    // stack-action delete: the stack and its resources are gone.
    let run = deploy(
        &moto,
        repo(CONFIG).env("BITOPS_CLOUDFORMATION_STACK_ACTION", "delete"),
        "delete",
    );
    run.code(0);
    run.stderr_is(&ok("delete"));
    run.stdout_has("cloudformation: deleting stack bitops-test (UPDATE_COMPLETE)\n");
    run.stdout_has("cloudformation: stack bitops-test deleted\n");
    assert_eq!(stack(&moto, STACK), None);
    assert_eq!(ssm(&moto, SSM_NAME), None);

    // Deleting what does not exist is not an error.
    let run = deploy(
        &moto,
        repo(CONFIG).env("BITOPS_CLOUDFORMATION_STACK_ACTION", "delete"),
        "delete again",
    );
    run.code(0);
    run.stderr_is(&ok("delete"));
    run.stdout_has("cloudformation: stack bitops-test does not exist: nothing to delete\n");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_broken_template_fails_validation_with_the_cli_message() {
    let moto = Moto::start();
    let run = deploy(
        &moto,
        repo(CONFIG).write(
            "repo/dev/cloudformation/template.yaml",
            "Resources:\n  Param: [\n",
        ),
        "broken template",
    );
    run.code(255);
    run.stderr_is(&failed("deploy", 255));
    run.stdout_has(
        "An error occurred (ValidationError) when calling the ValidateTemplate operation",
    );
    run.stdout_has("cloudformation: error: template template.yaml is not valid: aws cloudformation validate-template exited with 255 (its message is above)\n");
    run.stdout_lacks("change set");
    assert_eq!(live_stacks(&moto), Vec::<String>::new());
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_failing_deploy_exits_non_zero_with_the_cli_message_and_leaves_no_empty_stack() {
    let moto = Moto::start();
    // Parameters off (`enabled`, BitOps v1's name, wins over template-param-flag): the
    // template's Greeting has no value, so the change set cannot run.
    let config = CONFIG.replace(
        "template-param-flag: true",
        "template-param-flag: true\n            enabled: false",
    );
    let run = deploy(&moto, repo(&config), "failing deploy");
    run.code(255);
    run.stderr_is(&failed("deploy", 255));
    run.stdout_has("cloudformation: parameters are off (cfn-files.parameters.template-param-flag or enabled is false): parameters.json is not used\n");
    run.stdout_has("An error occurred (ValidationError) when calling the ExecuteChangeSet operation: Missing parameter Greeting");
    run.stdout_has("cloudformation: error: executing change set bitops-");
    // moto leaves the stack the change set created in REVIEW_IN_PROGRESS; the plugin removes it.
    run.stdout_has("cloudformation: deleting the empty stack bitops-test (REVIEW_IN_PROGRESS) that the change set created\n");
    assert_eq!(stack(&moto, STACK), None);
    assert_eq!(live_stacks(&moto), Vec::<String>::new());
    assert_eq!(ssm(&moto, SSM_NAME), None);
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_dry_run_prints_the_change_set_and_changes_nothing() {
    let moto = Moto::start();

    // A new stack: the change set is shown, then deleted with the empty stack it made.
    let run = deploy(
        &moto,
        repo(CONFIG).env("BITOPS_DRY_RUN", "true"),
        "dry run, new stack",
    );
    run.code(0);
    run.stderr_is(&dry_run_ok("deploy"));
    run.stdout_has("cloudformation: stack bitops-test: deploy (dry run: nothing is changed)\n");
    run.stdout_has("(CREATE) of stack bitops-test:\n  Add      Param                            AWS::SSM::Parameter\n  parameter Greeting = hello from bitops\n");
    run.stdout_has("cloudformation: dry run: change set bitops-");
    run.stdout_has("cloudformation: deleted change set bitops-");
    // What moto really does: the CREATE change set leaves the stack in REVIEW_IN_PROGRESS
    // (the plugin deletes it only in that state).
    run.stdout_has("cloudformation: deleting the empty stack bitops-test (REVIEW_IN_PROGRESS) that the change set created\n");
    run.stdout_lacks("executing");
    assert_eq!(stack(&moto, STACK), None);
    assert_eq!(live_stacks(&moto), Vec::<String>::new());
    assert_eq!(ssm(&moto, SSM_NAME), None);

    // An existing stack: the update is shown, not executed, and its change set removed.
    deploy(&moto, repo(CONFIG), "create")
        .code(0)
        .stdout_has("cloudformation: stack bitops-test deployed\n")
        .stderr_is(&ok("deploy"));
    let run = deploy(
        &moto,
        repo(CONFIG).env("BITOPS_DRY_RUN", "true").env(
            "BITOPS_CLOUDFORMATION_TEMPLATE_PARAM_FILE",
            "parameters-v2.json",
        ),
        "dry run, update",
    );
    run.code(0);
    run.stderr_is(&dry_run_ok("deploy"));
    run.stdout_has("(UPDATE) of stack bitops-test:\n");
    run.stdout_has("  parameter Greeting = v2\n");
    run.stdout_lacks("deleting the empty stack");
    assert_eq!(
        stack(&moto, STACK),
        Some((
            "CREATE_COMPLETE".into(),
            param("Greeting", "hello from bitops")
        ))
    );
    assert_eq!(ssm(&moto, SSM_NAME).as_deref(), Some("hello from bitops"));
    assert_eq!(pending_change_sets(&moto, STACK), Vec::<String>::new());

    // A dry-run delete lists what would go and deletes nothing.
    let run = deploy(
        &moto,
        repo(CONFIG)
            .env("BITOPS_DRY_RUN", "true")
            .env("BITOPS_CLOUDFORMATION_STACK_ACTION", "delete"),
        "dry run, delete",
    );
    run.code(0);
    run.stderr_is(&dry_run_ok("delete"));
    run.stdout_has("cloudformation: dry run: stack bitops-test (CREATE_COMPLETE) is not deleted; it holds:\n  AWS::SSM::Parameter  Param  /bitops/bitops-test/greeting\n");
    assert_eq!(stack(&moto, STACK).unwrap().0, "CREATE_COMPLETE");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn skip_deploy_creates_nothing() {
    let moto = Moto::start();
    let config = CONFIG.replace(
        "cfn-stack-name: bitops-test",
        "cfn-stack-name: bitops-test\n        skip-deploy: true",
    );
    let run = deploy(&moto, repo(&config), "skip-deploy");
    run.code(0);
    run.stdout_is(
        "cloudformation: skip-deploy is set (CFN_SKIP_DEPLOY=true): skipping cloudformation\n",
    );
    run.stderr_is(&ok("deploy"));
    assert_eq!(live_stacks(&moto), Vec::<String>::new());
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn s3bucket_and_s3prefix_deploy_the_template_from_s3() {
    let moto = Moto::start();
    moto.aws_json(&["s3api", "create-bucket", "--bucket", "bitops-templates"]);
    let config = CONFIG.replace(
        "cfn-stack-name: bitops-test",
        "cfn-stack-name: bitops-test\n        s3bucket: bitops-templates\n        s3prefix: cfn/dev\n        capabilities: CAPABILITY_IAM, CAPABILITY_NAMED_IAM\n        cfn-lint: false",
    );
    let run = deploy(&moto, repo(&config), "deploy from S3");
    run.code(0);
    run.stderr_is(&ok("deploy"));
    run.stdout_has("cloudformation: uploading the tool folder to s3://bitops-templates/cfn/dev/\n");
    run.stdout_has("cloudformation: options.cfn-lint is false: not running cfn-lint\n");
    assert_eq!(
        stack(&moto, STACK),
        Some((
            "CREATE_COMPLETE".into(),
            param("Greeting", "hello from bitops")
        ))
    );
    let listing = moto.aws_json(&["s3api", "list-objects-v2", "--bucket", "bitops-templates"]);
    let mut keys: Vec<&str> = listing["Contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Key"].as_str().unwrap())
        .collect();
    keys.sort();
    // bitops' own files stay out of the bucket
    assert_eq!(
        keys,
        [
            "cfn/dev/parameters-v2.json",
            "cfn/dev/parameters.json",
            "cfn/dev/template.yaml"
        ]
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn missing_credentials_stop_the_deploy_with_the_aws_plugins_error() {
    let path = tools::path_with(&["aws"]);
    let run = repo(CONFIG)
        .env("PATH", &path)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .cmd("deploy", "dev")
        .run();
    run.code(255);
    run.stderr_is(&failed("deploy", 255));
    run.stdout_has("cloudformation: stack bitops-test: deploy\nUnable to locate credentials.")
        .stdout_has("aws: error: the AWS CLI found no credentials; it looked at, in order:\n");
    run.stdout_lacks("validate-template");
}

#[test]
fn the_stack_name_and_template_are_required_before_anything_runs() {
    let run = repo("cloudformation:\n  cli:\n    stack-action: deploy\n")
        .cmd("deploy", "dev")
        .run();
    run.code(1);
    run.stderr_has("required value `options.cfn-stack-name` is not set");
    run.stderr_has("required value `options.cfn-files.template-file` is not set");
    run.stdout_is("");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn install_checks_the_cli_and_cfn_lint() {
    let path = tools::path_with(&["aws", "cfn-lint"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/cloudformation/install.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env_clear()
        .env("PATH", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("aws-cli/"), "{stdout}");
    assert!(stdout.contains("cfn-lint "), "{stdout}");
}

/// `TEMPLATE` with outputs: a parameter's value, a resource's name, and a value with a
/// newline, quotes, a backslash and a non-ASCII letter.
fn template_with_outputs() -> String {
    format!(
        "{}{}",
        TEMPLATE,
        r#"
    Outputs:
      Greeting:
        Value: !Ref Greeting
      ParamName:
        Value: !Ref Param
      Odd:
        Value: "line one\nline \"two\" \\ é"
"#
    )
}

/// `repo(CONFIG)` with the template that has outputs, and `BITOPS_OUTPUTS` set.
fn repo_with_outputs() -> Test {
    with_outputs(
        repo(CONFIG).write(
            "repo/dev/cloudformation/template.yaml",
            &template_with_outputs(),
        ),
        "cloudformation",
    )
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn outputs_of_a_deploy_are_published_never_those_of_a_delete() {
    let moto = Moto::start();
    const PUBLISHED: &str =
        "cloudformation: outputs published to BITOPS_OUTPUTS: Greeting ParamName Odd\n";
    let expected = vec![outputs(&[
        ("Greeting", plain("hello from bitops")),
        ("ParamName", plain(SSM_NAME)),
        ("Odd", plain("line one\nline \"two\" \\ é")),
    ])];

    // A dry run of a new stack: the empty stack the change set makes has no outputs.
    let run = deploy(
        &moto,
        repo_with_outputs().env("BITOPS_DRY_RUN", "true"),
        "dry run, new stack",
    );
    run.code(0);
    run.stderr_is(&copying(&dry_run_ok("deploy"), "cloudformation"));
    run.stdout_has("cloudformation: dry run: change set bitops-");
    run.stdout_has("cloudformation: stack bitops-test has no outputs to publish\n");
    assert_eq!(published(&run), Vec::new());
    assert_eq!(stack(&moto, STACK), None);

    // moto (5.2) computes a stack's outputs when `create-stack` makes it, not when a change
    // set does (its stack keeps the outputs it had before): so the stack is created here,
    // with the template and parameters the ops repo holds, and the deploys below find it
    // up to date, or plan an update in a dry run.
    let (code, _, stderr) = moto.aws(&[
        "cloudformation",
        "create-stack",
        "--stack-name",
        STACK,
        "--template-body",
        &crate::test::unindent(&template_with_outputs()),
        "--parameters",
        "ParameterKey=Greeting,ParameterValue=hello from bitops",
    ]);
    assert_eq!(code, 0, "create-stack: {stderr}");
    assert_eq!(
        stack(&moto, STACK),
        Some((
            "CREATE_COMPLETE".into(),
            param("Greeting", "hello from bitops")
        ))
    );

    // No changes: the stack's outputs, also printed.
    let run = deploy(&moto, repo_with_outputs(), "deploy without changes");
    run.code(0);
    run.stderr_is(&copying(&ok("deploy"), "cloudformation"));
    run.stdout_has(&format!(
        "cloudformation: no changes: stack bitops-test is up to date\n{PUBLISHED}"
    ));
    assert_eq!(published(&run), expected);

    // A dry run of an update: the current outputs, not the planned ones.
    let run = deploy(
        &moto,
        repo_with_outputs().env("BITOPS_DRY_RUN", "true").env(
            "BITOPS_CLOUDFORMATION_TEMPLATE_PARAM_FILE",
            "parameters-v2.json",
        ),
        "dry run, update",
    );
    run.code(0);
    run.stderr_is(&copying(&dry_run_ok("deploy"), "cloudformation"));
    run.stdout_has("  parameter Greeting = v2\n");
    run.stdout_has("cloudformation: deleted change set bitops-");
    run.stdout_has(PUBLISHED);
    assert_eq!(published(&run), expected);

    // Deleted: nothing published.
    let run = deploy(
        &moto,
        repo_with_outputs().env("BITOPS_CLOUDFORMATION_STACK_ACTION", "delete"),
        "delete",
    );
    run.code(0);
    run.stderr_is(&copying(&ok("delete"), "cloudformation"));
    run.stdout_has("cloudformation: stack bitops-test deleted\n");
    run.stdout_lacks("publish");
    assert_eq!(published(&run), Vec::new());
    assert_eq!(stack(&moto, STACK), None);
}
