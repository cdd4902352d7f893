//! The built-in ansible plugin against the real ansible-playbook (`.ci/tools.sh`): a
//! playbook on localhost that writes files into a folder given as an extra var.

use std::path::PathBuf;

use crate::test::{Run, Test};

const PLAYBOOK: &str = r#"
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: write the greeting
      ansible.builtin.copy:
        dest: "{{ out_dir }}/greeting.txt"
        content: "hello {{ who | default('world') }}\n"
      tags: [greeting]
    - name: write the farewell
      ansible.builtin.copy:
        dest: "{{ out_dir }}/farewell.txt"
        content: "bye {{ who | default('world') }}\n"
      tags: [farewell]
"#;

/// An ops repo with one `ansible` deployment: `cli` and `options` are the YAML bodies of
/// those sections of the tool config (indented by 4; `{out}` is the output folder). The
/// inventory is `inventory.ini`, and `extra-vars` is `out_dir=<out>` unless `cli` sets it.
fn ansible(cli: &str, options: &str) -> Test {
    ansible_repo(cli, options).cmd("deploy", "dev")
}

/// `ansible`'s repo, without a command.
fn ansible_repo(cli: &str, options: &str) -> Test {
    let path = crate::tools::path_with(&["ansible-playbook"]);
    let t = Test::new();
    let out = t.root().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let out = out.display().to_string();
    let mut cli = format!(
        "    inventory: inventory.ini\n{}",
        cli.replace("{out}", &out)
    );
    if !cli.contains("extra-vars:") {
        cli.push_str(&format!("    extra-vars: out_dir={out}\n"));
    }
    t.write(
        "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    ansible: {plugin: ansible}\n",
        )
        .write(
            "repo/dev/ansible/bitops.config.yaml",
            &format!("ansible:\n  cli:\n{cli}  options:\n{options}"),
        )
        .write("repo/dev/ansible/playbook.yaml", PLAYBOOK)
        .write(
            "repo/dev/ansible/inventory.ini",
            "localhost ansible_connection=local ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n",
        )
        .env("PATH", &path)
}

fn out(run: &Run, name: &str) -> Option<String> {
    let path: PathBuf = run.root.join("out").join(name);
    std::fs::read_to_string(path).ok()
}

/// What bitops prints on stderr for a successful run of the `ansible` step.
const OK: &str = "
    [1/1] ansible (plugin ansible)
      deploy script: bash <builtins>/ansible/deploy.sh ''
    [1/1] ansible ok in <t>
    Summary for environment `dev`:
      #   deployment  plugin   time      result
      1   ansible     ansible  <t> ok
      1 ok in <t>
";

/// `OK` for a dry run, whose summary says so.
const DRY_RUN_OK: &str = "
    [1/1] ansible (plugin ansible)
      deploy script: bash <builtins>/ansible/deploy.sh ''
    [1/1] ansible ok in <t>
    Summary for environment `dev` (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks):
      #   deployment  plugin   time      result
      1   ansible     ansible  <t> ok
      1 ok in <t>
";

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_playbook_runs_in_the_tool_folder_with_the_cli_flags() {
    let t = ansible("", "    {}\n");
    let run = t.run();
    run.code(0);
    run.stderr_is(OK);
    run.stdout_has(&format!(
        "ansible: running: {}/ansible-playbook --inventory=inventory.ini --extra-vars=out_dir=<root>/out playbook.yaml\n",
        crate::tools::tools_bin().display()
    ))
    .stdout_has("TASK [write the greeting]")
    .stdout_has("TASK [write the farewell]")
    .stdout_has("ok=2    changed=2");
    assert_eq!(out(&run, "greeting.txt").as_deref(), Some("hello world\n"));
    assert_eq!(out(&run, "farewell.txt").as_deref(), Some("bye world\n"));
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn dry_run_is_check_mode_and_writes_nothing() {
    let t = ansible("", "    {}\n");
    let run = t.env("BITOPS_DRY_RUN", "true").run();
    run.code(0);
    run.stderr_is(DRY_RUN_OK);
    run.stdout_has("ansible: dry run: check mode (--check --diff): tasks report what they would change; nothing is changed\n")
        .stdout_has(" playbook.yaml --check --diff\n")
        .stdout_has("TASK [write the greeting] [CHECK MODE]")
        .stdout_has("+hello world")
        .stdout_has("changed=2");
    assert_eq!(out(&run, "greeting.txt"), None, "check mode wrote a file");
    assert_eq!(out(&run, "farewell.txt"), None, "check mode wrote a file");

    // `cli.dryrun: true` is ansible's --check
    let t = ansible("    dryrun: true\n", "    {}\n");
    let run = t.run();
    run.code(0);
    run.stderr_is(OK);
    run.stdout_has(" playbook.yaml --check\n");
    assert_eq!(out(&run, "greeting.txt"), None, "--check wrote a file");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn tags_and_skip_tags_choose_the_tasks() {
    let t = ansible("    tags: greeting\n", "    {}\n");
    let run = t.run();
    run.code(0);
    run.stderr_is(OK);
    run.stdout_has(" --tags=greeting ");
    assert_eq!(out(&run, "greeting.txt").as_deref(), Some("hello world\n"));
    assert_eq!(out(&run, "farewell.txt"), None, "a task not tagged ran");

    let t = ansible("    skip-tags: greeting\n", "    {}\n");
    let run = t.run();
    run.code(0);
    run.stderr_is(OK);
    run.stdout_has(" --skip-tags=greeting ");
    assert_eq!(out(&run, "greeting.txt"), None, "a skipped task ran");
    assert_eq!(out(&run, "farewell.txt").as_deref(), Some("bye world\n"));
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn every_cli_key_reaches_ansible_playbook() {
    // A value with spaces survives (BITOPS_ANSIBLE_CLI_QUOTED); the playbook has another name.
    let t = ansible(
        "    flush-cache: true\n    force-handlers: true\n    forks: 3\n    extra-vars: \"out_dir={out} who='big world'\"\n    main-playbook: site.yml\n",
        "    verbosity: 1\n",
    );
    let run = t.write("repo/dev/ansible/site.yml", PLAYBOOK).run();
    run.code(0);
    run.stderr_is(OK);
    run.stdout_has("ansible: verbosity 1 (ANSIBLE_VERBOSITY)\n")
        .stdout_has("/ansible-playbook --flush-cache --force-handlers --forks=3 --inventory=inventory.ini --extra-vars=out_dir=<root>/out who='big world' site.yml\n")
        // verbosity 1 shows each task's result
        .stdout_has("changed: [localhost] => {");
    assert_eq!(
        out(&run, "greeting.txt").as_deref(),
        Some("hello big world\n")
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn skip_deploy_runs_nothing() {
    let t = ansible("", "    skip-deploy: true\n");
    let run = t.run();
    run.code(0);
    run.stdout_is("ansible: skip-deploy is set: nothing to do\n");
    run.stderr_is(OK);
    assert_eq!(out(&run, "greeting.txt"), None);
    run.stdout_lacks("PLAY");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_missing_playbook_or_ansible_is_a_clear_error() {
    // Found before step 1, at the setting's line, by every command.
    let t = ansible("    main-playbook: missing.yaml\n", "    {}\n");
    let run = t.run();
    run.code(1).stdout_is("");
    run.stderr_is("error: repo/dev/ansible/bitops.config.yaml:4: `ansible.cli.main-playbook`: `missing.yaml` is not in dev/ansible, and no hook or earlier step writes it first: the ansible plugin would fail on it\n  hint: add the file, or set `main-playbook` in the tool's bitops.config.yaml to the file it should read\n");
    // The default `playbook.yaml` with a `playbook.yml` there: a close miss, an error
    // even when a hook could write the file.
    let t = ansible_repo("", "    {}\n")
        .write("repo/dev/ansible/playbook.yml", PLAYBOOK)
        .hook("repo/dev/ansible/bitops.before-deploy.d/00.sh")
        .cmd("validate", "dev");
    std::fs::remove_file(t.root().join("repo/dev/ansible/playbook.yaml")).unwrap();
    let run = t.run();
    run.code(1).stdout_has("error: repo/dev/ansible/bitops.config.yaml: `ansible.cli.main-playbook`: `playbook.yaml` is not in dev/ansible, but `playbook.yml` is: the ansible plugin would fail on it\n  hint: set `main-playbook: playbook.yml` in the tool's bitops.config.yaml, or rename the file\n");
    assert_eq!(run.log(), "");
    // With a before-hook, which may write it, the file is looked for when the plugin runs.
    let run = ansible("    main-playbook: missing.yaml\n", "    {}\n")
        .hook("repo/dev/ansible/bitops.before-deploy.d/00.sh")
        .run();
    run.code(1);
    run.stdout_is("ansible: error: main-playbook `missing.yaml` not found in <ws>/dev/ansible (YAML files there: playbook.yaml); set cli.main-playbook in bitops.config.yaml\n");
    run.stderr_has("[1/1] ansible failed (deploy script, exit 1) after <t>\n");
    assert_eq!(run.log(), "ansible hook 00.sh\n");

    let t = ansible("", "    {}\n");
    let run = t.env("PATH", "/usr/bin:/bin").run();
    // the core's preflight finds it missing before step 1
    run.code(127);
    run.stdout_is("");
    run.stderr_has(
        "`ansible-playbook` (needed by ansible; get it: pip install ansible (or ansible-core)",
    );
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn install_checks_that_ansible_playbook_is_on_path() {
    let path = crate::tools::path_with(&["ansible-playbook"]);
    let install = |path: &str| {
        Test::new()
            .install_builtin("ansible")
            .env("PATH", path)
            .run()
    };
    let run = install(&path);
    run.code(0).stderr_is(
        "
        [1/1] fetching ansible (built in)
          install script: bash install.sh
          installed ansible into <root>/installed/ansible
        installed 1 plugin into <root>/installed
        ",
    );
    // (a Python warning of ansible's dependencies may come between the two)
    run.stdout_has(&format!(
        "ansible: found {}/ansible-playbook\n",
        crate::tools::tools_bin().display()
    ))
    .stdout_has("\nansible-playbook [core ");

    let run = install("/usr/bin:/bin");
    run.code(127).stderr_is(
        "
        [1/1] fetching ansible (built in)
          install script: bash install.sh
        error: the install script of `ansible` failed (exit code 127)
        error: install script of plugin `ansible` failed with exit code 127; the run stopped there (fail_fast)
        ",
    );
    run.stdout_has("ansible: error: ansible-playbook not found on PATH; install ansible-core (pip install ansible-core) and put it on PATH\n");
}
