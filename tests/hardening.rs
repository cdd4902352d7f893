//! Hardening: each attack a test of its own — lock files and state folders, links out of
//! the workspace, secrets that do not fit one line, limits on what is read, processes
//! that try to outlive the run, and YAML that BitOps accepts.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::test::{PROBE_SCHEMA, Test};

/// A repo with one deployment `a`, deploying with its state in `state/`.
fn base() -> Test {
    Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
}

#[track_caller]
fn deploy(t: Test) -> crate::test::Run {
    t.cmd("deploy", "dev").args(&["--state-dir", "state"]).run()
}

/// Runs one deploy so that the state folder and the lock file exist; returns the lock.
fn lock_file(root: &Path) -> PathBuf {
    let dir = root.join("state");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "lock"))
        .expect("a lock file")
}

/// The test folder after a first successful deploy (state/ and its lock exist).
fn deployed_once() -> (Test, PathBuf) {
    let t = base();
    crate::test::succeeded(t.deploy_dev(&["--state-dir", "state"]).output().unwrap());
    let lock = lock_file(t.root());
    (t, lock)
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn a_lock_file_that_is_a_symlink_is_refused_and_its_target_untouched() {
    let (t, lock) = deployed_once();
    let victim = t.root().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let run = deploy(t);
    run.code(1)
        .stderr_has("refusing the lock file: it is a symbolic link")
        .stderr_has("hint: someone else put it there");
    assert_eq!(
        std::fs::read_to_string(run.root.join("victim.txt")).unwrap(),
        "precious\n"
    );
    // only the first deploy ran
    run.log_is("a deploy args=plan pwd=<ws>/dev/a\n");
}

#[test]
fn a_lock_file_with_a_second_name_is_refused_and_the_other_file_untouched() {
    let (t, lock) = deployed_once();
    let victim = t.root().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::remove_file(&lock).unwrap();
    std::fs::hard_link(&victim, &lock).unwrap();
    let run = deploy(t);
    run.code(1)
        .stderr_has("refusing the lock file: it has other names (hard links)");
    assert_eq!(
        std::fs::read_to_string(run.root.join("victim.txt")).unwrap(),
        "precious\n"
    );
}

#[test]
fn a_lock_file_of_another_user_in_a_shared_folder_is_refused() {
    let (t, lock) = deployed_once();
    let state = t.root().join("state");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::os::unix::fs::chown(&lock, Some(65534), Some(65534)).unwrap();
    deploy(t)
        .code(1)
        .stderr_has("refusing the lock file: it belongs to user 65534");
}

#[test]
fn a_state_folder_others_may_write_without_the_sticky_bit_is_refused() {
    let (t, _) = deployed_once();
    std::fs::set_permissions(
        t.root().join("state"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    deploy(t)
        .code(1)
        .stderr_has("the state folder cannot hold deploy locks: others may write to it (mode 777) and it has no sticky bit")
        .stderr_has("hint: pass --state-dir DIR");
}

#[test]
fn a_state_folder_of_another_user_is_refused() {
    let (t, _) = deployed_once();
    std::os::unix::fs::chown(t.root().join("state"), Some(65534), Some(65534)).unwrap();
    deploy(t)
        .code(1)
        .stderr_has("the state folder cannot hold deploy locks: it belongs to user 65534");
}

#[test]
fn a_state_folder_that_is_a_link_is_refused() {
    let t = base();
    std::fs::create_dir_all(t.root().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(t.root().join("elsewhere"), t.root().join("state")).unwrap();
    deploy(t).code(1).stderr_has(
        "the state folder cannot hold deploy locks: it is not a folder (a link or a file)",
    );
}

#[test]
fn a_sticky_shared_state_folder_like_tmp_is_accepted() {
    let (t, _) = deployed_once();
    std::fs::set_permissions(
        t.root().join("state"),
        std::fs::Permissions::from_mode(0o1777),
    )
    .unwrap();
    deploy(t)
        .code(0)
        .stdout_is("deployed a\n")
        .stderr_is(&crate::test::one_ok_step(
            "a",
            "probe",
            &["  deploy script: bash <root>/plugins/probe/deploy.sh plan"],
        ));
}

#[test]
fn the_fallback_state_folder_is_per_user_and_private() {
    let t = base();
    let tmp = t.root().join("tmp");
    crate::test::succeeded(
        t.deploy_dev(&[])
            .env_remove("HOME")
            .env_remove("XDG_STATE_HOME")
            .output()
            .unwrap(),
    );
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    assert_eq!(mode(&tmp.join(format!("bitops-state-{uid}"))), 0o700);
}

#[test]
fn temporary_folders_go_into_a_private_folder_of_the_users_and_are_removed() {
    let t = base();
    let mine = crate::test::scratch(t.root());
    let run = deploy(t);
    run.code(0)
        .stdout_is("deployed a\n")
        .stderr_any("the progress lines are tested elsewhere");
    assert_eq!(mode(&mine), 0o700);
    assert_eq!(
        crate::test::leftovers(&run.root),
        Vec::<std::path::PathBuf>::new()
    );
}

/// Runs `bitops deploy -e ENV` in `t` and checks it ended well; returns its stdout.
#[track_caller]
fn deployed(t: &Test, env: &str) -> String {
    crate::test::succeeded(
        t.deploy_in(env, &["--state-dir", "state"])
            .output()
            .unwrap(),
    )
}

/// The folders (by their path inside it) of the spare workspace, sorted.
fn spare_folders(root: &Path) -> Vec<String> {
    let mine = crate::test::scratch(root);
    let spare = std::fs::read_dir(&mine)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("spare-bitops-")
        })
        .expect("a spare workspace");
    let mut dirs: Vec<String> = walkdir::WalkDir::new(&spare)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            assert!(e.file_type().is_dir(), "{} in a spare", e.path().display());
            e.path()
                .strip_prefix(&spare)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn a_run_removes_its_files_at_once_and_the_next_run_takes_its_folders_without_the_extra_ones() {
    // A hook leaves files, a link and folders of its own in its tool folder: the run
    // removes every file and link; its folders wait for the next run, which removes the
    // ones it does not stage before anything runs.
    let hook = "repo/dev/a/bitops.before-deploy.d/01.sh";
    let t = base().write(
        hook,
        "mkdir -p extra/deeper\necho secret > extra/deeper/f\necho secret > left.txt\nln -s left.txt link\n",
    );
    assert_eq!(deployed(&t, "dev"), "deployed a\n");
    assert_eq!(
        crate::test::leftovers(t.root()),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        crate::test::trash(t.root()),
        Vec::<std::path::PathBuf>::new()
    );
    let first = spare_folders(t.root());
    assert!(
        first.contains(&"dev/a/extra/deeper".to_string()),
        "{first:?}"
    );

    std::fs::write(
        t.root().join(hook),
        "for f in extra left.txt link; do [ -e $f ] || [ -L $f ] && echo \"$f is there\"; done; echo checked\n",
    )
    .unwrap();
    assert_eq!(deployed(&t, "dev"), "checked\ndeployed a\n");
    // The spare was taken (and put back without the hook's folders): a new workspace
    // would have left the old spare, `extra` and all, where it was.
    assert_eq!(
        spare_folders(t.root()),
        ["dev", "dev/a", "dev/a/bitops.before-deploy.d"]
    );
    assert_eq!(
        crate::test::leftovers(t.root()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn a_spare_holds_only_what_the_next_environment_stages() {
    let t = base()
        .write("repo/_shared/lib/x.sh", "true\n")
        .write(
            "repo/prod/bitops.config.yaml",
            "bitops:\n  deployments:\n    b: {plugin: probe}\n",
        )
        .write("repo/prod/b/bitops.config.yaml", "probe: {}\n")
        .write(
            "repo/prod/b/bitops.before-deploy.d/01.sh",
            "cd \"$BITOPS_TEMPDIR\"\nls -A\nls -A _shared\n",
        );
    assert_eq!(deployed(&t, "dev"), "deployed a\n");
    // The dev spare is taken: its `dev` folders are removed, `_shared` is kept.
    assert_eq!(deployed(&t, "prod"), "_shared\nprod\nlib\ndeployed b\n");
    assert_eq!(
        spare_folders(t.root()),
        [
            "_shared",
            "_shared/lib",
            "prod",
            "prod/b",
            "prod/b/bitops.before-deploy.d"
        ]
    );
}

#[test]
fn a_run_whose_hook_changed_a_folders_mode_leaves_no_spare_and_the_next_run_empties_the_trash() {
    let t = base().write("repo/dev/a/bitops.before-deploy.d/01.sh", "chmod 701 .\n");
    assert_eq!(deployed(&t, "dev"), "deployed a\n");
    let trashed = crate::test::trash(t.root());
    assert_eq!(trashed.len(), 1, "the workspace, in the trash: {trashed:?}");
    let mine = crate::test::scratch(t.root());
    let spares = std::fs::read_dir(&mine)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("spare-")
        })
        .count();
    assert_eq!(spares, 0);

    std::fs::write(
        t.root().join("repo/dev/a/bitops.before-deploy.d/01.sh"),
        "true\n",
    )
    .unwrap();
    assert_eq!(deployed(&t, "dev"), "deployed a\n");
    assert_eq!(
        crate::test::trash(t.root()),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        spare_folders(t.root()),
        ["dev", "dev/a", "dev/a/bitops.before-deploy.d"]
    );
}

#[test]
fn a_temporary_folder_that_is_not_safe_is_not_used() {
    // A link planted where bitops keeps its temporary folders, and a folder open to all:
    // neither is used; the run goes on in the temp folder itself.
    for planted in ["link", "open"] {
        let t = base();
        let mine = crate::test::scratch(t.root());
        let elsewhere = t.root().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::create_dir_all(t.root().join("tmp")).unwrap();
        if planted == "link" {
            std::os::unix::fs::symlink(&elsewhere, &mine).unwrap();
        } else {
            std::fs::create_dir(&mine).unwrap();
            std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let run = t
            .cmd("deploy", "dev")
            .args(&["--state-dir", "state", "--keep-workspace"])
            .run();
        run.code(0)
            .stdout_is("deployed a\n")
            .stderr_has("workspace kept at <root>/tmp/bitops-");
        let kept = run.kept_workspace();
        assert_eq!(
            kept.parent(),
            Some(run.root.join("tmp").as_path()),
            "{planted}"
        );
        assert_eq!(
            std::fs::read_dir(&elsewhere).unwrap().count(),
            0,
            "{planted}"
        );
        assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 0, "{planted}");
    }
}

#[test]
fn existing_report_junit_and_log_files_are_made_private() {
    let t = base().write(
        "repo/dev/bitops.config.yaml",
        "bitops:\n  logging:\n    filename: run\n    path: LOGS\n  deployments:\n    a: {plugin: probe}\n",
    );
    let core = t.root().join("repo/dev/bitops.config.yaml");
    let logs = t.root().join("logs");
    let text = std::fs::read_to_string(&core)
        .unwrap()
        .replace("LOGS", &logs.to_string_lossy());
    std::fs::write(&core, text).unwrap();
    std::fs::create_dir_all(&logs).unwrap();
    for file in ["report.json", "junit.xml", "logs/run.log"] {
        let path = t.root().join(file);
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let run = t
        .cmd("deploy", "dev")
        .args(&["--report", "report.json", "--junit", "junit.xml"])
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &["  deploy script: bash <root>/plugins/probe/deploy.sh plan"],
    ));
    for file in ["report.json", "junit.xml", "logs/run.log"] {
        assert_eq!(mode(&run.root.join(file)), 0o600, "{file}");
    }
}

#[test]
fn a_report_path_that_is_a_symlink_is_not_followed() {
    let t = base();
    let victim = t.root().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, t.root().join("report.json")).unwrap();
    let run = t
        .cmd("deploy", "dev")
        .args(&["--report", "report.json"])
        .run();
    run.code(0).stderr_has("warning: cannot write report.json");
    run.stdout_is("deployed a\n");
    assert_eq!(
        std::fs::read_to_string(run.root.join("victim.txt")).unwrap(),
        "precious\n"
    );
}

fn link(t: &Test, rel: &str, target: impl AsRef<Path>) {
    let path = t.root().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, path).unwrap();
}

#[test]
fn an_absolute_link_into_the_repo_reaches_only_the_workspace_copy() {
    let t = base()
        .write("repo/dev/a/data.txt", "original\n")
        .write(
            "repo/dev/a/bitops.before-deploy.d/01.sh",
            "echo \"link -> $(readlink link.txt)\"\necho changed > link.txt\necho created > new.txt\ncat data.txt\n",
        );
    let repo = std::fs::canonicalize(t.root().join("repo")).unwrap();
    link(&t, "repo/dev/a/link.txt", repo.join("dev/a/data.txt"));
    // dangling: a write through it would create the target
    link(&t, "repo/dev/a/new.txt", repo.join("dev/a/created.txt"));
    // the harness fails the test if the ops repo changed
    t.cmd("deploy", "dev")
        .run()
        .code(0)
        .stdout_is("link -> data.txt\nchanged\ndeployed a\n")
        .stderr_is(&crate::test::one_ok_step(
            "a",
            "probe",
            &[
                "  before hook 01.sh: bash <ws>/dev/a/bitops.before-deploy.d/01.sh",
                "  deploy script: bash <root>/plugins/probe/deploy.sh plan",
            ],
        ));
}

#[test]
fn a_relative_link_to_a_shared_folder_works_in_the_workspace() {
    let t = base().write("repo/_shared/vars.txt", "shared\n").write(
        "repo/dev/a/bitops.before-deploy.d/01.sh",
        "cat vars.txt\necho more >> vars.txt\n",
    );
    link(&t, "repo/dev/a/vars.txt", "../../_shared/vars.txt");
    t.cmd("deploy", "dev")
        .run()
        .code(0)
        .stdout_is("shared\ndeployed a\n")
        .stderr_is(&crate::test::one_ok_step(
            "a",
            "probe",
            &[
                "  before hook 01.sh: bash <ws>/dev/a/bitops.before-deploy.d/01.sh",
                "  deploy script: bash <root>/plugins/probe/deploy.sh plan",
            ],
        ));
}

#[test]
fn a_link_into_another_environment_is_refused_before_anything_runs() {
    let t = base()
        .hook("repo/dev/a/bitops.before-deploy.d/01.sh")
        .write("repo/prod/a/secret.txt", "prod only\n");
    link(&t, "repo/dev/a/prod-secret.txt", "../../prod/a/secret.txt");
    let run = t.cmd("deploy", "dev").run();
    run.code(1)
        .stderr_has("repo/dev/a/prod-secret.txt: this link points to ")
        .stderr_has("which a run of this environment does not stage");
    run.log_is("");
}

#[test]
fn an_environment_that_links_to_the_root_folder_is_refused_without_walking_it() {
    let t = base();
    link(&t, "repo/everything", "/");
    let started = std::time::Instant::now();
    let run = t.cmd("deploy", "everything").run();
    run.code(1);
    run.stderr_is(
        "
        error: repo/everything: this link points outside the ops repo, to /
          hint: hooks could reach that file through the workspace: copy what you need into the repo, or remove the link
        ",
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "it walked /"
    );
}

#[test]
fn a_shared_folder_that_links_to_the_root_folder_is_refused_without_walking_it() {
    let t = base().hook("repo/dev/a/bitops.before-deploy.d/01.sh");
    link(&t, "repo/_all", "/");
    let started = std::time::Instant::now();
    let run = t.cmd("deploy", "dev").run();
    run.code(1)
        .stderr_has("repo/_all: this link points outside the ops repo, to /");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "it walked /"
    );
    run.log_is("");
}

/// Runs `dev` with a before-hook `script`, `vars` set; returns stdout and stderr as bytes.
fn run_hook(script: &str, vars: &[(&str, &std::ffi::OsStr)]) -> (i32, Vec<u8>, Vec<u8>) {
    let t = base().write("repo/dev/a/bitops.before-deploy.d/01.sh", script);
    let mut cmd = t.deploy_dev(&[]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), out.stdout, out.stderr)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn every_line_of_a_multi_line_secret_is_masked_however_it_is_printed() {
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4qZB2vvcX7Kx1BWDyjXSyW2Vd93t\n-----END PRIVATE KEY-----\n";
    let (code, out, err) = run_hook(
        "printf '%s' \"$TLS_SECRET\"\necho \"$TLS_SECRET\" | sed -n 2p\necho \"line three: $(echo \"$TLS_SECRET\" | sed -n 3p)\"\n",
        &[("TLS_SECRET", pem.as_ref())],
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    for line in [
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
        "VJTUt9Us8cKjMzEfYyjiWA4R4qZB2vvcX7Kx1BWDyjXSyW2Vd93t",
    ] {
        assert!(
            !contains(&out, line.as_bytes()),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
    assert!(
        contains(&out, b"line three: *****"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn a_secret_with_a_trailing_newline_is_masked() {
    let (code, out, _) = run_hook(
        "echo \"token: $API_TOKEN\"\n",
        &[("API_TOKEN", "tok-with-newline-42\n".as_ref())],
    );
    assert_eq!(code, 0);
    assert!(
        !contains(&out, b"tok-with-newline-42"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn a_secret_longer_than_the_cut_of_an_over_long_line_is_masked_whole() {
    // 100,000 characters, more than the 64 KiB held back when a long line is cut
    let mut x: u64 = 7;
    let secret: String = (0..100_000)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                [(x >> 33) as usize % 62] as char
        })
        .collect();
    let (code, out, _) = run_hook(
        "head -c 1200000 /dev/zero | tr '\\0' x\nprintf '%s\\n' \"$BIG_SECRET\"\n",
        &[("BIG_SECRET", secret.as_ref())],
    );
    assert_eq!(code, 0);
    for at in [0, 30_000, 60_000, 99_900] {
        assert!(
            !contains(&out, &secret.as_bytes()[at..at + 100]),
            "the secret leaked at {at}"
        );
    }
    assert!(contains(&out, b"x*****\n"));
}

#[test]
fn thousands_of_secrets_are_all_masked() {
    // More secret values than one regex set holds: the masker used to mask none of them.
    let secrets: Vec<(String, String)> = (0..6000)
        .map(|i| {
            (
                format!("S{i}_TOKEN"),
                format!("secret-value-{i:05}-{}", "q".repeat(30)),
            )
        })
        .collect();
    let vars: Vec<(&str, &std::ffi::OsStr)> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_ref()))
        .collect();
    let (code, out, err) = run_hook("echo \"first $S0_TOKEN last $S5999_TOKEN\"\n", &vars);
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    assert!(
        !contains(&out, b"secret-value-"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(contains(&out, b"first ***** last *****\n"));
}

#[test]
fn a_secret_that_is_not_utf8_is_masked_as_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let value = std::ffi::OsStr::from_bytes(b"\xff\xfebinary-secret-bytes\x80");
    let (code, out, _) = run_hook("printf 'got %s\\n' \"$X_TOKEN\"\n", &[("X_TOKEN", value)]);
    assert_eq!(code, 0);
    assert!(
        !contains(&out, b"binary-secret-bytes"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(contains(&out, b"got *****\n"));
}

fn quoted_secret(schema_prop: &str, value: &str, core_extra: &str) -> Test {
    Test::new()
        .probe_plugin("probe", &crate::test::probe_schema("", schema_prop), &[])
        .write(
            "repo/dev/bitops.config.yaml",
            &format!("bitops:\n{core_extra}  deployments:\n    a: {{plugin: probe}}\n"),
        )
        .write(
            "repo/dev/a/bitops.config.yaml",
            &format!("probe:\n  options:\n    token: {value}\n"),
        )
}

#[test]
fn a_type_error_does_not_quote_a_value_exported_under_a_secret_name() {
    let t = || {
        quoted_secret(
            "token: {type: integer, export_env: API_TOKEN}",
            "s3cr3t-not-a-number",
            "",
        )
    };
    let run = t().cmd("deploy", "dev").run();
    run.code(1)
        .stderr_has("`probe.options.token`: must be an integer, found a string `*****`")
        .stderr_lacks("s3cr3t-not-a-number");
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
    run.code(1)
        .stdout_is(
            "
            error: repo/dev/a/bitops.config.yaml:3: `probe.options.token`: must be an integer, found a string `*****`
            1 error and 0 warnings found in 1 environment (dev)
            ",
        )
        .output_lacks("s3cr3t-not-a-number");
}

#[test]
fn an_enum_error_does_not_quote_a_value_exported_under_a_name_in_secret_env() {
    let run = quoted_secret(
        "token: {type: string, enum: [a, b], export_env: DB_CONNECTION}",
        "postgres-conn-string-9",
        "  logging:\n    secret_env: [DB_CONNECTION]\n",
    )
    .cmd("deploy", "dev")
    .run();
    run.code(1)
        .stderr_has("`*****` is not one of a, b")
        .stderr_lacks("postgres-conn-string-9");
}

fn fifo(t: &Test, rel: &str) {
    let path = t.root().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// The run ends, quickly, with one error naming `what`.
fn refused_quickly(t: Test, what: &str) {
    let started = std::time::Instant::now();
    let run = t.cmd("deploy", "dev").run();
    run.code(1)
        .stderr_has(what)
        .stderr_has("it is a FIFO, not a regular file");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "it hung"
    );
    run.log_is("");
}

#[test]
fn a_core_config_that_is_a_fifo_is_refused_without_hanging() {
    let t = base().hook("repo/dev/a/bitops.before-deploy.d/01.sh");
    std::fs::remove_file(t.root().join("repo/dev/bitops.config.yaml")).unwrap();
    fifo(&t, "repo/dev/bitops.config.yaml");
    refused_quickly(t, "repo/dev/bitops.config.yaml");
}

#[test]
fn a_plugin_schema_that_is_a_fifo_is_refused_without_hanging() {
    let t = base().hook("repo/dev/a/bitops.before-deploy.d/01.sh");
    std::fs::remove_file(t.root().join("plugins/probe/bitops.schema.yaml")).unwrap();
    fifo(&t, "plugins/probe/bitops.schema.yaml");
    refused_quickly(t, "plugins/probe/bitops.schema.yaml");
}

#[test]
fn a_plugin_manifest_that_is_a_fifo_is_refused_without_hanging() {
    let t = base().hook("repo/dev/a/bitops.before-deploy.d/01.sh");
    fifo(&t, "plugins/probe/plugin.config.yaml");
    refused_quickly(t, "plugins/probe/plugin.config.yaml");
}

#[test]
fn a_default_folder_file_that_is_a_fifo_is_not_merged_and_nothing_hangs() {
    let t = base().write("repo/dev/a/values.yaml", "a: 1\n");
    fifo(&t, "repo/_default/a/values.yaml");
    let started = std::time::Instant::now();
    let run = t.cmd("deploy", "dev").run();
    run.code(0).stderr_has("was not merged with");
    run.stdout_is("deployed a\n");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "it hung"
    );
}

/// A document of few values whose aliases expand to ~400 MB of text.
fn text_bomb(root: &str) -> String {
    let mut text = format!("x0: &x0 \"{}\"\n", "x".repeat(4096));
    for i in 1..6 {
        let p = i - 1;
        text.push_str(&format!(
            "x{i}: &x{i} [{}]\n",
            vec![format!("*x{p}"); 10].join(", ")
        ));
    }
    text.push_str(&format!("{root}: {{}}\n"));
    text
}

#[test]
fn yaml_that_expands_to_too_much_text_is_refused() {
    let run = base()
        .write("repo/dev/a/bitops.config.yaml", &text_bomb("probe"))
        .cmd("deploy", "dev")
        .run();
    run.code(1)
        .stderr_has("repo/dev/a/bitops.config.yaml:")
        .stderr_has("the document expands to more than 64 MiB of text (alias bomb?)");
}

#[test]
fn yaml_that_expands_to_too_much_text_is_not_merged_from_the_default_folder() {
    let started = std::time::Instant::now();
    let run = base()
        .write("repo/dev/a/values.yaml", "a: 1\n")
        .write("repo/_default/a/values.yaml", &text_bomb("values"))
        .cmd("deploy", "dev")
        .run();
    run.code(0)
        .stderr_has("was not merged with")
        .stderr_has("more than 64 MiB of text");
    run.stdout_is("deployed a\n");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn a_timeout_too_long_for_the_clock_is_refused() {
    let run = base()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  timeout: 99999999999999999999\n  deployments:\n    a: {plugin: probe}\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1)
        .stderr_has("repo/dev/bitops.config.yaml:2: `bitops.timeout`: `99999999999999999999` is longer than a year");
}

#[test]
fn a_wait_lock_too_long_for_the_clock_is_refused() {
    let run = base()
        .cmd("deploy", "dev")
        .args(&["--wait-lock", "9999999999999d"])
        .run();
    run.code(2).stderr_has("is longer than a year (366d)");
}

#[test]
fn a_timeout_of_zero_means_no_limit() {
    let run = base()
        .write("plugins/probe/deploy.sh", "sleep 1.2\necho slept\n")
        .cmd("deploy", "dev")
        .env("BITOPS_TIMEOUT", "0")
        .run();
    run.code(0).stdout_is("slept\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &["  deploy script: bash <root>/plugins/probe/deploy.sh plan"],
    ));
}

#[test]
fn a_byte_order_mark_is_ignored_as_pyyaml_does() {
    let mut config = b"\xef\xbb\xbf".to_vec();
    config.extend_from_slice(b"probe:\n  cli:\n    name: bom\n");
    let run = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &["BITOPS_PROBE_CLI"])
        .deployments(&["a"])
        .write_raw("repo/dev/a/bitops.config.yaml", &config)
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &["  deploy script: bash <root>/plugins/probe/deploy.sh plan"],
    ));
    assert!(
        run.log().contains("a BITOPS_PROBE_CLI=--name=bom"),
        "{}",
        run.log()
    );
}

#[test]
fn merge_keys_are_honoured_as_pyyaml_does() {
    let run = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &["BITOPS_PROBE_CLI"])
        .deployments(&["a"])
        .write(
            "repo/dev/a/bitops.config.yaml",
            "shared: &shared\n  name: from-anchor\n  stack-action: apply\nprobe:\n  cli:\n    <<: *shared\n    stack-action: destroy\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &["  deploy script: bash <root>/plugins/probe/deploy.sh destroy"],
    ));
    assert!(
        run.log().contains("a BITOPS_PROBE_CLI=--name=from-anchor"),
        "{}",
        run.log()
    );
    assert!(run.log().contains("a deploy args=destroy"), "{}", run.log());
}

#[test]
fn a_second_yaml_document_is_an_error_with_its_line() {
    let run = base()
        .write(
            "repo/dev/a/bitops.config.yaml",
            "probe: {}\n---\nprobe: {cli: {name: x}}\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(1).stderr_has(
        "repo/dev/a/bitops.config.yaml:2: a second YAML document (`---`): bitops reads one document per file",
    );
}

#[test]
fn a_nul_character_in_a_value_is_an_error_at_validate_time() {
    let run = base()
        .write(
            "repo/dev/a/bitops.config.yaml",
            "probe:\n  cli:\n    name: \"a\\0b\"\n",
        )
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
    run.code(1)
        .stdout_has("repo/dev/a/bitops.config.yaml:3: a value holds a NUL character");
}

#[test]
fn a_hook_whose_name_is_not_utf8_runs_under_its_real_name() {
    use std::os::unix::ffi::OsStrExt;
    let t = base();
    let dir = t.root().join("repo/dev/a/bitops.before-deploy.d");
    std::fs::create_dir_all(&dir).unwrap();
    let name = std::ffi::OsStr::from_bytes(b"01-caf\xe9.sh");
    std::fs::write(
        dir.join(name),
        "echo \"hook ran as $(basename \"$0\" | od -An -c | tr -d ' ')\"\n",
    )
    .unwrap();
    let run = t.cmd("deploy", "dev").run();
    run.code(0).stdout_has("hook ran as 01-caf351.sh");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &[
            "  before hook 01-caf�.sh: bash '<ws>/dev/a/bitops.before-deploy.d/01-caf�.sh'",
            "  deploy script: bash <root>/plugins/probe/deploy.sh plan",
        ],
    ));
}

/// The pid a hook wrote to `name` in the test folder.
fn pid_in(root: &Path, name: &str) -> String {
    std::fs::read_to_string(root.join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .trim()
        .to_string()
}

/// Waits a little for `pid` to be gone (a killed process is not gone at once).
fn gone(pid: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while crate::test::alive(pid) {
        if std::time::Instant::now() > deadline {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", pid])
                .status();
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

#[test]
fn a_process_that_leaves_its_group_does_not_outlive_the_run() {
    let run = base()
        .write(
            "repo/dev/a/bitops.before-deploy.d/01.sh",
            "setsid sleep 60 >/dev/null 2>&1 &\necho $! > \"$HOME/own-session\"\nset -m\nsleep 61 >/dev/null 2>&1 &\necho $! > \"$HOME/job-control\"\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &[
            "  before hook 01.sh: bash <ws>/dev/a/bitops.before-deploy.d/01.sh",
            "  deploy script: bash <root>/plugins/probe/deploy.sh plan",
        ],
    ));
    for name in ["own-session", "job-control"] {
        let pid = pid_in(&run.root, name);
        assert!(gone(&pid), "{name} ({pid}) outlived bitops");
    }
}

#[test]
fn a_double_forked_daemon_does_not_outlive_the_run() {
    let run = base()
        .write(
            "repo/dev/a/bitops.before-deploy.d/01.sh",
            "( setsid sleep 62 >/dev/null 2>&1 & echo $! > \"$HOME/daemon\" ) &\nwait\n",
        )
        .cmd("deploy", "dev")
        .run();
    run.code(0);
    run.stdout_is("deployed a\n");
    run.stderr_is(&crate::test::one_ok_step(
        "a",
        "probe",
        &[
            "  before hook 01.sh: bash <ws>/dev/a/bitops.before-deploy.d/01.sh",
            "  deploy script: bash <root>/plugins/probe/deploy.sh plan",
        ],
    ));
    let pid = pid_in(&run.root, "daemon");
    assert!(gone(&pid), "the daemon {pid} outlived bitops");
}

#[test]
fn a_timeout_stops_processes_that_left_the_group() {
    let run = base()
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    a: {plugin: probe, timeout: 1s}\n",
        )
        .write(
            "plugins/probe/deploy.sh",
            "setsid sleep 63 >/dev/null 2>&1 &\necho $! > \"$HOME/escaped\"\nsleep 30\n",
        )
        .cmd("deploy", "dev")
        .args(&["--grace-period", "1s"])
        .run();
    run.code(124);
    run.stderr_is(
        "
        [1/1] a (plugin probe)
          deploy script: bash <root>/plugins/probe/deploy.sh plan
        [1/1] a timed out (deploy script) after <t>
        Summary for environment `dev`:
          #   deployment  plugin  time      result
          1   a           probe   <t> timed out (deploy script)
          1 failed in <t>
        error: deploy script of `a` ran past its timeout and was stopped
        ",
    );
    let pid = pid_in(&run.root, "escaped");
    assert!(gone(&pid), "{pid} outlived the timed-out step");
}

/// `t`'s command as a user for whom permissions count: this user when not root, else
/// `nobody` (root may remove anything), with `t`'s folder and a copy of the binary theirs.
fn run_as_a_user(t: &Test) -> std::process::Output {
    let root = t.root();
    let bin = root.join("bin/bitops");
    // Made before they are handed over (the harness would make `tmp/` as root).
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_bitops"), &bin).unwrap();
    let launcher = if rustix::process::getuid().is_root() {
        let status = std::process::Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(root)
            .status()
            .unwrap();
        assert!(status.success());
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&bin);
        c
    } else {
        std::process::Command::new(&bin)
    };
    t.command_via(launcher).output().unwrap()
}

/// Every regular file under `dir`, and every folder whose name is `name`.
fn left_under(dir: &Path, name: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut named = Vec::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if entry.file_type().is_file() {
            files.push(entry.path().to_path_buf());
        } else if entry.file_type().is_dir() && entry.file_name() == name {
            named.push(entry.path().to_path_buf());
        }
    }
    (files, named)
}

#[test]
fn a_folder_a_tool_made_read_only_and_a_changed_workspace_mode_are_cleaned_up() {
    let t = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a"])
        .write(
            "repo/dev/a/bitops.before-deploy.d/01.sh",
            "mkdir -p cache/mod && echo x > cache/mod/file && chmod -R a-w cache\nchmod 500 \"$BITOPS_TEMPDIR\"\n",
        )
        .cmd("deploy", "dev");
    for run in 1..=2 {
        let out = run_as_a_user(&t);
        assert!(
            out.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("could not remove"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // No file of the run is left on disk: the copy of the repo, the tool's cache.
        let (files, caches) = left_under(&t.root().join("tmp"), "cache");
        assert!(files.is_empty(), "run {run} left {files:?}");
        if run == 2 {
            // The trash of run 1 is gone, read-only folders included.
            assert!(caches.len() <= 1, "{caches:?}");
        }
    }
    // No folder bitops keeps for a later run has the mode a hook gave it.
    for entry in walkdir::WalkDir::new(t.root().join("tmp"))
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_dir() {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_ne!(mode, 0o500, "{}", entry.path().display());
            assert_ne!(mode & 0o200, 0, "{} is read-only", entry.path().display());
        }
    }
}
