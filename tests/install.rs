//! `bitops install`: sources, pinning, dependencies, atomicity, idempotence.

use std::path::Path;
use std::process::Command;

use crate::test::{INSTALL_ARGS, Run, Test, snapshot};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A plugin whose install script records that it ran and which version it is.
fn plugin_files(t: Test, dir: &str, version: &str) -> Test {
    t.write(&format!("{dir}/plugin.config.yaml"), "plugin:\n  install: {install_script: install.sh}\n")
        .write(&format!("{dir}/bitops.schema.yaml"), "p: {type: object}\n")
        .write(&format!("{dir}/deploy.sh"), &format!("echo deploying {version}\n"))
        .write(&format!("{dir}/install.sh"), &format!("echo \"installing {version} in $(basename \"$PWD\") as $BITOPS_PLUGIN_NAME\"\necho {version} > installed.txt\n"))
}

#[track_caller]
fn install(t: Test) -> Run {
    t.args(INSTALL_ARGS).run()
}

#[test]
fn a_folder_source_is_copied_and_its_install_script_runs() {
    let t = plugin_files(Test::new(), "src/mine", "v1").write(
        "core.yaml",
        "bitops:\n  plugins:\n    mine:\n      source: file://SRC\n",
    );
    let core = t.root().join("core.yaml");
    let text = std::fs::read_to_string(&core)
        .unwrap()
        .replace("SRC", &t.root().join("src/mine").to_string_lossy());
    std::fs::write(&core, text).unwrap();
    let run = install(t);
    run.code(0).stdout_is("installing v1 in mine as mine\n");
    run.stderr_has("[1/1] fetching mine (from <root>/src/mine)\n")
        .stderr_has("installed 1 plugin into <root>/installed\n");
    assert_eq!(
        std::fs::read_to_string(run.root.join("installed/mine/installed.txt")).unwrap(),
        "v1\n"
    );
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.root.join("installed/mine/.bitops-plugin.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["name"], "mine");
    // no staging folder is left behind
    let left: Vec<_> = std::fs::read_dir(run.root.join("installed"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["mine"]);
}

#[test]
fn git_sources_are_pinned_by_tag_branch_or_commit() {
    let t = Test::new();
    let repo = t.root().join("remote");
    std::fs::create_dir_all(&repo).unwrap();
    let t = plugin_files(t, "remote", "v1");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "v1"]);
    git(&repo, &["tag", "v1.0"]);
    let v1 = git(&repo, &["rev-parse", "HEAD"]);
    let t = plugin_files(t, "remote", "v2");
    git(&repo, &["commit", "-qam", "v2"]);
    let url = repo.to_string_lossy().into_owned();
    let core = format!(
        "bitops:\n  plugins:\n    by-tag: {{source: {url}, source_tag: v1.0}}\n    by-branch: {{source: {url}, source_branch: main}}\n    by-commit: {{source: {url}, source_commit: {v1}}}\n"
    );
    let run = install(t.write("core.yaml", &core));
    run.code(0);
    run.stdout_is(
        "
        installing v1 in by-tag as by-tag
        installing v2 in by-branch as by-branch
        installing v1 in by-commit as by-commit
        ",
    );
    let version = |name: &str| {
        std::fs::read_to_string(run.root.join(format!("installed/{name}/installed.txt"))).unwrap()
    };
    assert_eq!(version("by-tag"), "v1\n");
    assert_eq!(version("by-branch"), "v2\n");
    assert_eq!(version("by-commit"), "v1\n");
    let record =
        std::fs::read_to_string(run.root.join("installed/by-commit/.bitops-plugin.json")).unwrap();
    assert!(record.contains(&v1), "{record}");
    run.stderr_has(&format!(
        "fetching by-commit (from <root>/remote at commit {v1})"
    ));
}

#[test]
fn a_pin_on_a_file_source_is_checked_out_or_refused() {
    // A folder with history: the tag is checked out, not the folder as it stands.
    let t = Test::new();
    let repo = t.root().join("src/mine");
    std::fs::create_dir_all(&repo).unwrap();
    let t = plugin_files(t, "src/mine", "v1");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "v1"]);
    git(&repo, &["tag", "v1"]);
    let v1 = git(&repo, &["rev-parse", "HEAD"]);
    let t = plugin_files(t, "src/mine", "v2");
    git(&repo, &["commit", "-qam", "v2"]);
    // and an edit nobody committed
    let t = plugin_files(t, "src/mine", "v3-uncommitted");
    let src = repo.to_string_lossy().into_owned();
    let run = install(t.write(
        "core.yaml",
        &format!("bitops:\n  plugins:\n    mine: {{source: 'file://{src}', source_tag: v1}}\n"),
    ));
    run.code(0).stdout_is("installing v1 in mine as mine\n");
    run.stderr_has("[1/1] fetching mine (from file://<root>/src/mine at v1)\n");
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.root.join("installed/mine/.bitops-plugin.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["source_tag"], "v1");
    assert_eq!(record["source_commit"], v1.as_str());

    // A folder without history cannot honour a pin: refused, nothing installed.
    let t = plugin_files(Test::new(), "src/plain", "v1");
    let src = t.root().join("src/plain").to_string_lossy().into_owned();
    let run = install(t.write(
        "core.yaml",
        &format!("bitops:\n  plugins:\n    plain: {{source: 'file://{src}', source_tag: v1}}\n"),
    ));
    run.code(1).stdout_is("").stderr_has(
        "error: core.yaml: `bitops.plugins.plain`: `source_tag: v1` cannot be honoured: <root>/src/plain is a folder, not a git repository\n  hint: remove `source_tag` to install the folder as it is, or make <root>/src/plain a git repository with that tag\n",
    );
    assert!(!run.root.join("installed").exists());
}

#[test]
fn a_commit_that_does_not_exist_installs_nothing() {
    let t = Test::new();
    let repo = t.root().join("remote");
    std::fs::create_dir_all(&repo).unwrap();
    let t = plugin_files(t, "remote", "v1");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "v1"]);
    let url = repo.to_string_lossy().into_owned();
    let core = format!(
        "bitops:\n  plugins:\n    ok: {{source: {url}}}\n    pinned: {{source: {url}, source_commit: {}}}\n",
        "deadbeef".repeat(5)
    );
    let run = install(t.write("core.yaml", &core));
    run.code(1)
        .stderr_has("error: core.yaml: `bitops.plugins.pinned.source`: cannot fetch plugin `pinned`: git checkout failed:")
        .stderr_has("hint: nothing was installed; fix the source and run `bitops install` again");
    let left: Vec<_> = std::fs::read_dir(run.root.join("installed"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_missing_dependency_exits_10_and_installs_nothing() {
    let t = plugin_files(Test::new(), "src/a", "v1")
        .write(
            "src/a/plugin.config.yaml",
            "plugin:\n  install: {dependencies: [aws, kubectl]}\n",
        )
        .write(
            "core.yaml",
            "bitops:\n  plugins:\n    a: {source: file://SRC}\n    kubectl: {source: file://SRC}\n",
        );
    let core = t.root().join("core.yaml");
    let text = std::fs::read_to_string(&core)
        .unwrap()
        .replace("SRC", &t.root().join("src/a").to_string_lossy());
    std::fs::write(&core, text).unwrap();
    let run = install(t);
    run.code(10).stderr_has(
        "error: core.yaml: `bitops.plugins.aws`: plugin `a` depends on `aws`, which is not listed under `bitops.plugins`\n  hint: add `aws` to `bitops.plugins`; nothing was installed\n",
    );
    run.stderr_lacks("depends on `kubectl`");
    assert_eq!(
        std::fs::read_dir(run.root.join("installed"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_failing_install_script_keeps_the_previous_version() {
    let t = plugin_files(Test::new(), "src/mine", "v1");
    let src = t.root().join("src/mine").to_string_lossy().into_owned();
    let t = t.write(
        "core.yaml",
        &format!("bitops:\n  plugins:\n    mine: {{source: 'file://{src}'}}\n"),
    );
    let root = t.root().to_path_buf();
    // install v1, then try v2 whose install script fails
    let run = install(t);
    run.code(0);
    run.stdout_is("installing v1 in mine as mine\n");
    run.stderr_is(
        "
        [1/1] fetching mine (from <root>/src/mine)
          install script: bash install.sh
          installed mine into <root>/installed/mine
        installed 1 plugin into <root>/installed
        ",
    );
    let before = snapshot(&root.join("installed"));
    std::fs::write(
        root.join("src/mine/install.sh"),
        "echo v2 > installed.txt\necho broken >&2\nexit 4\n",
    )
    .unwrap();
    let again = Command::new(env!("CARGO_BIN_EXE_bitops"))
        .args(INSTALL_ARGS)
        .current_dir(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("error: the install script of `mine` failed (exit code 4); the previous version was put back"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&again.stdout), "broken\n");
    assert!(
        before == snapshot(&root.join("installed")),
        "the previous version was not restored"
    );
}

#[test]
fn installing_twice_gives_the_same_tree() {
    let t = plugin_files(Test::new(), "src/mine", "v1");
    let src = t.root().join("src/mine").to_string_lossy().into_owned();
    let t = t.write(
        "core.yaml",
        &format!("bitops:\n  plugins:\n    mine: 'file://{src}'\n"),
    );
    let root = t.root().to_path_buf();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_bitops"))
            .args(INSTALL_ARGS)
            .current_dir(&root)
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    let first = snapshot(&root.join("installed"));
    assert!(run().status.success());
    assert!(first == snapshot(&root.join("installed")));
    drop(t);
}

#[test]
fn bad_sources_and_names_are_refused_before_anything_is_fetched() {
    let run = install(Test::new().write(
        "core.yaml",
        "bitops:\n  plugins:\n    empty: {source: ''}\n    ../evil: {source: builtin}\n    nope: {source: builtin}\n    both: {source: https://example.invalid/x.git, source_branch: a, source_tag: b}\n    short: {source: https://example.invalid/x.git, source_commit: abc123}\n",
    ));
    run.code(1)
        .stderr_has("error: core.yaml:4: `bitops.plugins.../evil`: `../evil` is not a valid name")
        .stderr_has("error: core.yaml: `bitops.plugins.empty`: the plugin has no `source`")
        .stderr_has("error: core.yaml: `bitops.plugins.nope`: there is no built-in plugin `nope`")
        .stderr_has("error: core.yaml: `bitops.plugins.both`: `source_branch` and `source_tag` are both set")
        .stderr_has("error: core.yaml: `bitops.plugins.short`: `source_commit` must be a full 40-character SHA, found `abc123`");
    assert!(!run.root.join("installed").exists());
}

#[test]
fn deploy_prefers_an_installed_plugin_over_the_built_in_one() {
    let run = Test::new()
        .write(
            "plugins/terraform/deploy.sh",
            "echo \"installed terraform plugin, args=$*\"\n",
        )
        .write(
            "plugins/terraform/plugin.config.yaml",
            "plugin:\n  deployment: {core_schema_parsing: false}\n",
        )
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    terraform: {}\n",
        )
        .mkdir("repo/dev/terraform")
        .cmd("deploy", "dev")
        .run();
    run.code(0).stdout_is("installed terraform plugin, args=\n");
    run.stderr_is(&crate::test::one_ok_step(
        "terraform",
        "terraform",
        &["  deploy script: bash <root>/plugins/terraform/deploy.sh ''"],
    ));
}

/// An install script shaped like those of BitOps' published plugins, written for its
/// Alpine image: it calls `apk` (line 5 and 6).
const ALPINE_INSTALL: &str = "#!/bin/bash
set -e
echo \"BitOps uses alpine linux as its base, so you'll want to use apk commands\"
# apk info
apk add --no-cache python3
apk --update add openssh-client
echo installed > installed.txt
";

/// `core.yaml` listing `file://<root>/src/NAME` for each name, with `extra` under each.
fn file_sources(t: Test, names: &[&str], extra: &str) -> Test {
    let mut core = String::from("bitops:\n  plugins:\n");
    for name in names {
        core.push_str(&format!(
            "    {name}:\n      source: file://{}/src/{name}\n{extra}",
            t.root().display()
        ));
    }
    t.write("core.yaml", &core)
}

#[test]
fn an_install_script_that_calls_apk_is_refused_at_its_line_before_anything_is_installed() {
    // `ansible` runs first and is fine; `terraform` (a name bitops has built in) and `tool`
    // call apk: nothing at all is installed.
    let t = plugin_files(Test::new(), "src/ansible", "v1");
    let t =
        plugin_files(t, "src/terraform", "v1").write("src/terraform/install.sh", ALPINE_INSTALL);
    let t = plugin_files(t, "src/tool", "v1").write("src/tool/install.sh", ALPINE_INSTALL);
    let t = file_sources(t, &["ansible", "terraform", "tool"], "").env("PATH", "/usr/bin:/bin");
    let run = install(t);
    run.code(1).stdout_is("");
    run.stderr_is(
        "
        [1/3] fetching ansible (from <root>/src/ansible)
        [2/3] fetching terraform (from <root>/src/terraform)
        [3/3] fetching tool (from <root>/src/tool)
        error: <root>/src/terraform/install.sh:5: `bitops.plugins.terraform`: the install script of plugin `terraform` calls `apk`, Alpine's package manager (BitOps' image is Alpine); this image is Debian and has no `apk` (and 1 more line)
          hint: install what it needs in your Dockerfile (`RUN apt-get install -y …`; terraform, ansible, helm, kubectl and the AWS CLI are already in the image), then set `skip_install: true` under `bitops.plugins.terraform`; or remove `terraform` from `bitops.plugins` to use bitops' built-in `terraform` plugin, which needs no install; nothing was installed
        error: <root>/src/tool/install.sh:5: `bitops.plugins.tool`: the install script of plugin `tool` calls `apk`, Alpine's package manager (BitOps' image is Alpine); this image is Debian and has no `apk` (and 1 more line)
          hint: install what it needs in your Dockerfile (`RUN apt-get install -y …`; terraform, ansible, helm, kubectl and the AWS CLI are already in the image), then set `skip_install: true` under `bitops.plugins.tool`; nothing was installed
        2 errors found; nothing was run
        ",
    );
    assert!(
        !run.root.join("installed/ansible").exists(),
        "ansible was installed"
    );
    assert!(!run.root.join("installed/terraform").exists());
}

#[test]
fn skip_install_fetches_without_running_the_script_and_an_apk_on_path_runs_it() {
    let t =
        plugin_files(Test::new(), "src/tool", "v1").write("src/tool/install.sh", ALPINE_INSTALL);
    let t = file_sources(t, &["tool"], "      skip_install: true\n").env("PATH", "/usr/bin:/bin");
    let run = install(t);
    run.code(0).stdout_is("");
    run.stderr_has("  install script install.sh not run (skip_install: true)\n")
        .stderr_has("installed 1 plugin into <root>/installed\n");
    assert!(run.root.join("installed/tool/deploy.sh").exists());
    assert!(!run.root.join("installed/tool/installed.txt").exists());

    // On an image that has `apk` (an Alpine-based team image), the script runs.
    let t = plugin_files(Test::new(), "src/tool", "v1")
        .write("src/tool/install.sh", ALPINE_INSTALL)
        .executable("bin/apk", "#!/bin/sh\necho \"apk $*\"\n");
    let path = format!("{}:/usr/bin:/bin", t.root().join("bin").display());
    let t = file_sources(t, &["tool"], "").env("PATH", &path);
    let run = install(t);
    run.code(0).stdout_is(
        "
        BitOps uses alpine linux as its base, so you'll want to use apk commands
        apk add --no-cache python3
        apk --update add openssh-client
        ",
    );
    run.stderr_has("installed 1 plugin into <root>/installed\n");
    assert!(run.root.join("installed/tool/installed.txt").exists());
}

/// A git source whose URL carries a token (`https://user:TOKEN@host/…`): the token is
/// used to clone, and is in no file of the installed plugin (the clone's `.git/config`
/// holds the URL without it), nor in the output.
#[test]
fn credentials_in_a_git_url_never_reach_disk() {
    let t = Test::new();
    let served = t.root().join("served");
    let repo = served.join("plugin.git");
    std::fs::create_dir_all(&repo).unwrap();
    let t = plugin_files(t, "served/plugin.git", "v1");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "v1"]);
    // What git's "dumb" HTTP protocol reads, served by a plain file server.
    git(&repo, &["update-server-info"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let port = crate::tools::free_port();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(&served)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut server);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the file server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let token = "ghp_NotARealTokenButLongEnough0123";
    let core = format!(
        "bitops:\n  plugins:\n    served:\n      source: http://deploy:{token}@127.0.0.1:{port}/plugin.git/.git\n      source_commit: \"{head}\"\n"
    );
    let run = install(t.write("core.yaml", &core));
    run.code(0).stdout_is("installing v1 in served as served\n");
    run.stderr_has("installed 1 plugin into <root>/installed\n");
    run.output_lacks(token);
    let installed = run.root.join("installed/served");
    let config = std::fs::read_to_string(installed.join(".git/config")).unwrap();
    assert!(
        config.contains(&format!(
            "url = http://***@127.0.0.1:{port}/plugin.git/.git"
        )),
        "{config}"
    );
    for entry in walkdir::WalkDir::new(&installed) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(token),
                "the token is in {}",
                entry.path().display()
            );
        }
    }
}

/// A plugin that ships `.bitops-plugin.json` as a link to a file of the user's: the
/// install record replaces the link and the file it pointed at is untouched.
#[test]
fn the_install_record_is_written_in_place_of_a_shipped_link_not_through_it() {
    let t = plugin_files(Test::new(), "src/mine", "v1").write("precious.txt", "keep me\n");
    std::os::unix::fs::symlink(
        t.root().join("precious.txt"),
        t.root().join("src/mine/.bitops-plugin.json"),
    )
    .unwrap();
    let t = file_sources(t, &["mine"], "");
    let run = install(t);
    run.code(0).stdout_is("installing v1 in mine as mine\n");
    run.stderr_has("installed 1 plugin into <root>/installed\n");
    assert_eq!(
        std::fs::read_to_string(run.root.join("precious.txt")).unwrap(),
        "keep me\n"
    );
    let record = run.root.join("installed/mine/.bitops-plugin.json");
    assert!(!record.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(
        std::fs::read_to_string(&record)
            .unwrap()
            .contains("\"name\": \"mine\"")
    );
}
