//! The built-in aws plugin with the real AWS CLI against a moto server (one per test,
//! on 127.0.0.1, killed when the test ends, also when it fails). `Moto` is shared with
//! the cloudformation tests.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::test::Test;
use crate::tools;

/// A moto server started by this test; killed by its PID on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    /// `PATH` with the real tools first.
    pub path: String,
}

impl Moto {
    /// Starts `moto_server` and waits (up to 20 s) until it accepts connections; panics
    /// when the tools are not installed.
    pub fn start() -> Moto {
        let path = tools::path_with(&["aws", "moto_server"]);
        let port = tools::free_port();
        let started = Instant::now();
        let child = Command::new(tools::tools_bin().join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        // From here on the guard owns the child: a panic below still kills it.
        let mut moto = Moto { child, port, path };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto_server on port {port} exited early: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "moto_server did not answer on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "moto_server answered on 127.0.0.1:{port} after {:?}",
            started.elapsed()
        );
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables a run needs to reach this server: tools on PATH, dummy credentials.
    pub fn env(&self, test: Test) -> Test {
        test.env("PATH", &self.path)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
    }

    /// Runs the real AWS CLI against this server: (exit code, stdout, stderr).
    pub fn aws(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(tools::tools_bin().join("aws"))
            .args(args)
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", std::env::temp_dir())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .output()
            .expect("aws runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Like `aws`, but the command must succeed; its stdout parsed as JSON.
    pub fn aws_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let (code, stdout, stderr) = self.aws(&all);
        assert_eq!(code, 0, "aws {args:?} failed:\n{stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("aws {args:?}: {e}: {stdout}"))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An ops repo with one `aws` deployment configured by `config`.
fn repo(config: &str) -> Test {
    Test::new()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    aws:\n      plugin: aws\n",
        )
        .write("repo/dev/aws/bitops.config.yaml", config)
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_identity_is_checked_and_no_secret_is_printed() {
    let moto = Moto::start();
    let t0 = Instant::now();
    let run = moto
        .env(repo("aws: {}\n"))
        .env("BITOPS_DRY_RUN", "true")
        .cmd("deploy", "dev")
        .run();
    eprintln!("aws identity deploy took {:?}", t0.elapsed());
    run.code(0);
    run.stdout_has(&format!(
        "aws: credentials: from the variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), region us-east-1 (AWS_DEFAULT_REGION), endpoint {}\n",
        moto.endpoint()
    ));
    run.stdout_has("aws: identity: account 123456789012, arn:aws:sts::123456789012:user/moto\n");
    // the credentials (both `testing`) are never printed
    run.output_lacks("testing");
}

/// A run of the aws step against `moto` with only `vars` for credentials (none of the
/// variables `Moto::env` sets): HOME is the test folder, instance metadata off.
fn with_credentials_from(moto: &Moto, t: Test, vars: &[(&str, &str)]) -> crate::test::Run {
    let mut t = t
        .env("PATH", &moto.path)
        .env("AWS_ENDPOINT_URL", &moto.endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in vars {
        t = t.env(k, v);
    }
    t.cmd("deploy", "dev").run()
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn credentials_from_every_source_the_cli_accepts() {
    let moto = Moto::start();
    let identity = "aws: identity: account 123456789012, arn:aws:sts::123456789012:";

    // A profile in a mounted config and credentials file (~/.aws, as `-v ~/.aws:/root/.aws`).
    let t = repo("aws: {}\n")
        .write("home/.aws/config", "[profile team]\nregion = eu-west-1\n")
        .write(
            "home/.aws/credentials",
            "[team]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profile-secret-value\n",
        );
    let home = t.root().join("home");
    let run = with_credentials_from(
        &moto,
        t,
        &[("HOME", home.to_str().unwrap()), ("AWS_PROFILE", "team")],
    );
    run.code(0);
    run.stdout_has(&format!(
        "aws: credentials: from profile team in <root>/home/.aws/credentials, region eu-west-1 (profile team), endpoint {}\n",
        moto.endpoint()
    ))
    .stdout_has(identity);
    run.stderr_has("1 ok in ");
    run.output_lacks("profile-secret-value");

    // credential_process, named by AWS_CONFIG_FILE
    let t = repo("aws: {}\n")
        .executable(
            "creds.sh",
            "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIAPROCESS\", \"SecretAccessKey\": \"process-secret-value\"}'\n",
        );
    let config = t.root().join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[profile ci]\nregion = us-west-2\ncredential_process = {}\n",
            t.root().join("creds.sh").display()
        ),
    )
    .unwrap();
    let run = with_credentials_from(
        &moto,
        t,
        &[
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_PROFILE", "ci"),
        ],
    );
    run.code(0);
    run.stdout_has(
        "aws: credentials: from profile ci: credential_process, region us-west-2 (profile ci)",
    )
    .stdout_has(identity);
    run.stderr_has("1 ok in ");
    run.output_lacks("process-secret-value");

    // web identity (EKS service accounts, CI OIDC)
    let t = repo("aws: {}\n").write("token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n");
    let token = t.root().join("token");
    let run = with_credentials_from(
        &moto,
        t,
        &[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deployer"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ],
    );
    run.code(0);
    run.stdout_has("aws: credentials: from web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE), region us-east-1 (AWS_DEFAULT_REGION)")
        .stdout_has(identity);
    run.stderr_has("1 ok in ");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn missing_credentials_list_every_source_tried_with_how_to_set_it() {
    let path = tools::path_with(&["aws"]);
    let run = repo("aws: {}\n")
        .env("PATH", &path)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .cmd("deploy", "dev")
        .run();
    run.code(255);
    run.stdout_is(
        "
        Unable to locate credentials. You can configure credentials by running \"aws configure\".
        aws: error: the AWS CLI found no credentials; it looked at, in order:
        aws: error:   1. variables         AWS_ACCESS_KEY_ID not set, AWS_SECRET_ACCESS_KEY not set
        aws: error:                        set: docker run -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY [-e AWS_SESSION_TOKEN] -e AWS_DEFAULT_REGION ...
        aws: error:   2. profile           AWS_PROFILE not set (profile default); <root>/.aws/credentials: missing; <root>/.aws/config: missing
        aws: error:                        set: docker run -v ~/.aws:/root/.aws:ro -e AWS_PROFILE=NAME ... (keys, sso_session, credential_process or role_arn in that profile)
        aws: error:   3. web identity      AWS_WEB_IDENTITY_TOKEN_FILE not set, AWS_ROLE_ARN not set
        aws: error:                        set: both (EKS service accounts and CI OIDC set them), with the token file mounted
        aws: error:   4. container         AWS_CONTAINER_CREDENTIALS_RELATIVE_URI not set, AWS_CONTAINER_CREDENTIALS_FULL_URI not set
        aws: error:                        set: by ECS and CodeBuild for their tasks
        aws: error:   5. instance profile  EC2 instance metadata: off (AWS_EC2_METADATA_DISABLED=true)
        aws: error:                        set: an IAM role on the instance the run is on
        ",
    );
    run.stderr_is(
        "
        [1/1] aws (plugin aws)
          deploy script: bash <builtins>/aws/deploy.sh ''
        [1/1] aws failed (deploy script, exit 255) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   aws         aws     <t> failed (deploy script, exit 255)
          1 failed in <t>
        error: deploy script of `aws` failed with exit code 255; the run stopped there (fail_fast)
        ",
    );

    // A profile that is not in the files: the CLI's message, then the same list.
    let run = repo("aws: {}\n")
        .env("PATH", &path)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PROFILE", "prod")
        .write(".aws/config", "[profile dev]\nregion = us-east-1\n")
        .cmd("deploy", "dev")
        .run();
    run.code(255);
    run.stdout_has("The config profile (prod) could not be found\n")
        .stdout_has("aws: error:   2. profile           AWS_PROFILE set: prod; <root>/.aws/credentials: missing; <root>/.aws/config: no [prod]\n");
    run.stderr_has("1 failed in ");

    // No region; then a temporary key without its token, and no secret is printed.
    let run = repo("aws: {}\n")
        .env("PATH", &path)
        .env("AWS_REGION", "eu-west-1")
        .cmd("deploy", "dev")
        .run();
    run.code(1);
    run.stdout_is("aws: error: no AWS region for AWS CLI v1: AWS_REGION is set to eu-west-1, which this CLI does not read; set AWS_DEFAULT_REGION too\n");
    run.stderr_has("1 failed in ");
    let run = repo("aws: {}\n")
        .env("PATH", &path)
        .env("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "not-printed-secret")
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .cmd("deploy", "dev")
        .run();
    run.code(1);
    run.stdout_is("aws: error: AWS_ACCESS_KEY_ID is a temporary key (ASIA...), which needs its session token: set AWS_SESSION_TOKEN too\n");
    run.stderr_has("1 failed in ");
    run.output_lacks("ASIAEXAMPLE").output_lacks("not-printed");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn an_unreachable_endpoint_fails_the_identity_check_with_the_cli_message() {
    let path = tools::path_with(&["aws"]);
    let port = tools::free_port(); // nothing listens there
    let run = repo("aws: {}\n")
        .env("PATH", &path)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{port}"))
        .env("AWS_MAX_ATTEMPTS", "1")
        .cmd("deploy", "dev")
        .run();
    run.code(255);
    run.stderr_is(
        "
        [1/1] aws (plugin aws)
          deploy script: bash <builtins>/aws/deploy.sh ''
        [1/1] aws failed (deploy script, exit 255) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   aws         aws     <t> failed (deploy script, exit 255)
          1 failed in <t>
        error: deploy script of `aws` failed with exit code 255; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has(&format!(
        "Could not connect to the endpoint URL: \"http://127.0.0.1:{port}/\""
    ));
    run.stdout_has("aws: error: identity check failed: `aws sts get-caller-identity` exited with 255 (its message is above); check that the credentials are valid and active for region us-east-1\n");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn skip_deploy_skips_even_the_checks() {
    let path = tools::path_with(&["aws"]);
    let run = repo("aws:\n  options:\n    skip-deploy: true\n")
        .env("PATH", &path)
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("aws: options.skip-deploy (AWS_SKIP_DEPLOY) is true: skipping aws\n");
    run.stderr_is(&crate::test::one_ok_step(
        "aws",
        "aws",
        &["  deploy script: bash <builtins>/aws/deploy.sh ''"],
    ));
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_eks_helper_writes_the_kubeconfig_for_later_steps() {
    let moto = Moto::start();
    moto.aws_json(&[
        "eks",
        "create-cluster",
        "--name",
        "bitops-eks",
        "--role-arn",
        "arn:aws:iam::123456789012:role/eks",
        "--resources-vpc-config",
        "subnetIds=subnet-1,subnet-2",
    ]);
    let arn = "arn:aws:eks:us-east-1:123456789012:cluster/bitops-eks";

    // As a deployment: options.eks-cluster-name writes $BITOPS_KUBE_CONFIG_FILE.
    let run = moto
        .env(repo("aws:\n  options:\n    eks-cluster-name: bitops-eks\n"))
        .cmd("deploy", "dev")
        .args(&["--keep-workspace"])
        .run();
    run.code(0);
    run.stderr_is(
        "
        [1/1] aws (plugin aws)
          deploy script: bash <builtins>/aws/deploy.sh ''
        [1/1] aws ok in <t>
        workspace kept at <ws> (built-in plugins at <builtins>)
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   aws         aws     <t> ok
          1 ok in <t>
        ",
    );
    run.stdout_has("aws: identity: account 123456789012");
    run.stdout_has(
        "aws: aws eks update-kubeconfig --name bitops-eks --kubeconfig <ws>/.kube/config\n",
    );
    let ws = run.workspaces();
    assert_eq!(ws.len(), 1, "{ws:?}");
    let kube = ws[0].join(".kube/config");
    let text = std::fs::read_to_string(&kube).unwrap();
    assert!(text.contains(&format!("current-context: {arn}")), "{text}");
    assert!(text.contains("eks.amazonaws.com"), "{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(kube.metadata().unwrap().permissions().mode() & 0o777, 0o600);

    // As a helper, called the way BitOps' helm plugin calls it (CLUSTER_NAME, KUBECONFIG).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested/kubeconfig");
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/aws/eks.update-kubeconfig.sh");
    let out = Command::new("bash")
        .arg(&helper)
        .env_clear()
        .env("PATH", &moto.path)
        .env("HOME", dir.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("CLUSTER_NAME", "bitops-eks")
        .env("KUBECONFIG", &file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("current-context: {arn}")), "{text}");

    // An unknown cluster: the CLI's message and the helper's error, the CLI's exit code.
    let run = moto
        .env(repo("aws:\n  options:\n    eks-cluster-name: nope\n"))
        .cmd("deploy", "dev")
        .run();
    run.code(255);
    run.stderr_is(
        "
        [1/1] aws (plugin aws)
          deploy script: bash <builtins>/aws/deploy.sh ''
        [1/1] aws failed (deploy script, exit 255) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   aws         aws     <t> failed (deploy script, exit 255)
          1 failed in <t>
        error: deploy script of `aws` failed with exit code 255; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("No cluster found for name: nope");
    run.stdout_has("aws: error: could not fetch the kubeconfig of EKS cluster nope in us-east-1");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn install_checks_the_cli_and_prints_its_version() {
    let path = tools::path_with(&["aws"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/aws/install.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env_clear()
        .env("PATH", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("aws-cli/"), "{stdout}");

    let empty = tempfile::tempdir().unwrap();
    let out = Command::new("/bin/bash")
        .arg(&script)
        .env_clear()
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("aws: error: the AWS CLI (aws) is not on PATH")
    );
}
