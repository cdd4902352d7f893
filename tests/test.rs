//! The test builder: writes a temporary ops repo and plugins, runs the real binary,
//! and checks its output, exit code and files. Every run also checks that the ops
//! repo is byte-identical afterwards. Expectations are mandatory, as in just's test
//! builder: every run's exit code must be checked (`Run::code`), and each of stdout
//! and stderr must be examined (`*_is`, `*_has`, `*_lacks`, an accessor, or a named
//! opt-out `*_any("why")`); a stream never examined must be empty. A `Run` dropped
//! with its code unchecked or an unexamined stream that is not empty fails the test.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// De-indents a block so tests can write files and expectations inline.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: String = text
        .lines()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    if text.ends_with('\n') || !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A plugin schema with one `name` flag and a `stack-action`, for tests needing no more.
pub const PROBE_SCHEMA: &str = "
    probe:
      type: object
      properties:
        cli:
          type: object
          properties:
            name: {type: string, parameter: name}
            stack-action: {type: string, default: plan}
";

/// `PROBE_SCHEMA` with more settings: `cli` (property lines, de-indented) between `name`
/// and `stack-action`, and, when `options` is not empty, an `options` section holding
/// its property lines.
pub fn probe_schema(cli: &str, options: &str) -> String {
    let properties = |lines: &str| -> String {
        unindent(lines)
            .lines()
            .map(|l| format!("        {l}\n"))
            .collect()
    };
    let base = unindent(PROBE_SCHEMA);
    let (head, tail) = base.split_once("        stack-action:").unwrap();
    let mut schema = format!("{head}{}        stack-action:{tail}", properties(cli));
    if !options.trim().is_empty() {
        schema.push_str("    options:\n      type: object\n      properties:\n");
        schema.push_str(&properties(options));
    }
    schema
}

/// The arguments of `bitops install` of `core.yaml` into `installed/`.
pub const INSTALL_ARGS: &[&str] = &[
    "install",
    "-c",
    "core.yaml",
    "--plugins-dir",
    "installed",
    "--color",
    "never",
];

/// Standard base64 with padding (what `base64 -w0` prints).
pub fn b64(text: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether a process is running and not a zombie (the container's PID 1 may never reap
/// orphans, so a killed one can linger as a zombie).
pub fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[must_use]
pub struct Test {
    pub dir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// The folder the command runs in, relative to the test folder.
    cwd: Option<PathBuf>,
}

/// The result of `Test::run`. Its exit code must be checked (`code`, or `exit_code` for
/// a test that compares it itself), and each of stdout and stderr must be examined:
/// compared (`stdout_is`), searched (`stdout_has`, `stdout_lacks`, `output_lacks`), read
/// (`stdout()`, `stdout_text()`), or explicitly not checked (`stdout_any("why")`). At
/// drop, a stream never examined is compared to the empty string, and a code never
/// checked panics.
pub struct Run {
    stdout: String,
    stderr: String,
    code: i32,
    code_checked: Cell<bool>,
    stdout_examined: Cell<bool>,
    stderr_examined: Cell<bool>,
    args: Vec<String>,
    location: &'static Location<'static>,
    pub root: PathBuf,
    _dir: TempDir,
}

impl Drop for Run {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let mut problems = Vec::new();
        if !self.code_checked.get() {
            problems.push(format!(
                "the exit code ({}) was never checked: call .code(n)",
                self.code
            ));
        }
        for (name, text, examined) in [
            ("stdout", &self.stdout, &self.stdout_examined),
            ("stderr", &self.stderr, &self.stderr_examined),
        ] {
            if !examined.get() && !text.is_empty() {
                problems.push(format!(
                    "{name} was never examined, so it must be empty, but it is not: expect it \
                     with .{name}_is(..) or .{name}_has(..), or opt out with .{name}_any(\"why\")"
                ));
            }
        }
        if !problems.is_empty() {
            // each stream as `stdout_is` would compare it, ending in a newline
            let shown = |text: &str| {
                let text = self.normalize(text);
                if text.is_empty() || text.ends_with('\n') {
                    text
                } else {
                    format!("{text}\n(no newline at the end)\n")
                }
            };
            panic!(
                "`bitops {}` (run at {}):\n{}\n--- stdout (normalized):\n{}--- stderr (normalized):\n{}---",
                self.args.join(" "),
                self.location,
                problems.join("\n"),
                shown(&self.stdout),
                shown(&self.stderr)
            );
        }
    }
}

impl Test {
    pub fn new() -> Test {
        let dir = tempfile::Builder::new()
            .prefix("bitops-test-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("repo")).unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        Test {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
        }
    }

    /// Runs the command in `rel`, a folder of the test folder.
    pub fn in_dir(mut self, rel: &str) -> Test {
        self.cwd = Some(PathBuf::from(rel));
        self
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `content` (de-indented) at `rel`, relative to the test folder.
    pub fn write(self, rel: &str, content: &str) -> Test {
        self.write_raw(rel, unindent(content).as_bytes())
    }

    pub fn write_raw(self, rel: &str, content: &[u8]) -> Test {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        self
    }

    pub fn executable(self, rel: &str, content: &str) -> Test {
        let t = self.write(rel, content);
        let path = t.root().join(rel);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        t
    }

    pub fn mkdir(self, rel: &str) -> Test {
        std::fs::create_dir_all(self.root().join(rel)).unwrap();
        self
    }

    /// A plugin with `schema` (a `bitops.schema.yaml` body) whose deploy script
    /// records its arguments, working folder and chosen variables in `log.txt`
    /// (one `key=value` per line, prefixed with the deployment alias).
    pub fn probe_plugin(self, name: &str, schema: &str, vars: &[&str]) -> Test {
        let mut script = String::from(
            "echo \"$BITOPS_DEPLOYMENT_ALIAS deploy args=$* pwd=$(pwd)\" >> \"$PROBE_LOG\"\n",
        );
        for v in vars {
            script.push_str(&format!(
                "echo \"$BITOPS_DEPLOYMENT_ALIAS {v}=${{{v}-<unset>}}\" >> \"$PROBE_LOG\"\n"
            ));
        }
        script.push_str("echo \"deployed $BITOPS_DEPLOYMENT_ALIAS\"\n");
        self.write(&format!("plugins/{name}/bitops.schema.yaml"), schema)
            .write(&format!("plugins/{name}/deploy.sh"), &script)
    }

    /// `repo/dev/bitops.config.yaml` deploying `aliases` in order with the `probe`
    /// plugin, and a `probe: {}` tool config for each.
    pub fn deployments(self, aliases: &[&str]) -> Test {
        let mut core = String::from("bitops:\n  deployments:\n");
        for alias in aliases {
            core.push_str(&format!("    {alias}: {{plugin: probe}}\n"));
        }
        let mut t = self.write("repo/dev/bitops.config.yaml", &core);
        for alias in aliases {
            t = t.write(
                &format!("repo/dev/{alias}/bitops.config.yaml"),
                "probe: {}\n",
            );
        }
        t
    }

    /// A hook that appends `<alias> <hook name>` to the log.
    pub fn hook(self, rel: &str) -> Test {
        let name = Path::new(rel)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        self.write(
            rel,
            &format!("echo \"$BITOPS_DEPLOYMENT_ALIAS hook {name}\" >> \"$PROBE_LOG\"\n"),
        )
    }

    pub fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// `bitops install` (`INSTALL_ARGS`) of a `core.yaml` listing the built-in plugin `name`.
    pub fn install_builtin(self, name: &str) -> Test {
        self.write(
            "core.yaml",
            &format!("bitops:\n  plugins:\n    {name}: {{source: builtin}}\n"),
        )
        .args(INSTALL_ARGS)
    }

    /// `<command> -e ENV --ops-repo repo --plugins-dir plugins --color never`
    pub fn cmd(self, command: &str, env: &str) -> Test {
        self.args(&[
            command,
            "-e",
            env,
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
            "--color",
            "never",
        ])
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The binary with the test's arguments and environment, in the test folder: only
    /// PATH is inherited (and BITOPS_HEARTBEAT is 1h); HOME is the test folder, TMPDIR its `tmp/`, PROBE_LOG its
    /// `log.txt`.
    fn base_command(&self) -> Command {
        self.command_via(Command::new(env!("CARGO_BIN_EXE_bitops")))
    }

    /// `base_command`, started through `launcher` (a program whose last argument is the
    /// binary to run, such as `setpriv … -- bitops`): the test's arguments follow it.
    pub fn command_via(&self, mut cmd: Command) -> Command {
        std::fs::create_dir_all(self.root().join("tmp")).unwrap();
        cmd.current_dir(
            self.root()
                .join(self.cwd.as_deref().unwrap_or(Path::new(""))),
        )
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", self.root())
        .env("TMPDIR", self.root().join("tmp"))
        .env("PROBE_LOG", self.root().join("log.txt"))
        // A step slowed down by a busy machine must not print a heartbeat into
        // compared output; the heartbeat tests pass `--heartbeat`.
        .env("BITOPS_HEARTBEAT", "1h")
        .args(&self.args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The binary as `run` starts it, with `args` added, for a test that drives the
    /// process itself (signals, concurrency, raw bytes); `HOLD` is the test folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.base_command();
        cmd.args(args).env("HOLD", self.root());
        cmd
    }

    /// Completes `line` with the cursor at its end in a real `bash`: the script of
    /// `bitops completions bash` is sourced, COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT are
    /// set from `line` (words split at single spaces; a final space starts an empty word)
    /// and the function `complete -p bitops` names is called as bash calls it. `stdout` is
    /// COMPREPLY, one candidate a line. Completing writes nothing: the whole test folder
    /// is byte-identical afterwards.
    /// `deploy -e dev --ops-repo repo --plugins-dir plugins` with `extra`, as `command`.
    pub fn deploy_dev(&self, extra: &[&str]) -> Command {
        self.deploy_in("dev", extra)
    }

    /// `deploy -e ENV --ops-repo repo --plugins-dir plugins` with `extra`, as `command`.
    pub fn deploy_in(&self, env: &str, extra: &[&str]) -> Command {
        let mut args = vec![
            "deploy",
            "-e",
            env,
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
        ];
        args.extend_from_slice(extra);
        self.command(&args)
    }

    pub fn complete_bash(self, line: &str) -> Run {
        let location = Location::caller();
        let script = self.command(&["completions", "bash"]).output().unwrap();
        assert!(
            script.status.success(),
            "bitops completions bash: {}",
            String::from_utf8_lossy(&script.stderr)
        );
        std::fs::write(self.root().join("completion.bash"), &script.stdout).unwrap();
        const CALL: &str = r#"
            source ./completion.bash || exit 90
            spec=$(complete -p bitops) || exit 91
            fn=${spec##* -F }
            fn=${fn%% *}
            COMP_WORDS=("$@")
            COMP_CWORD=$(( $# - 1 ))
            COMP_LINE=$LINE
            COMP_POINT=${#COMP_LINE}
            COMP_TYPE=9
            "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            for candidate in "${COMPREPLY[@]}"; do printf '%s\n' "$candidate"; done
        "#;
        let mut bash = Command::new("bash");
        bash.current_dir(self.root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root())
            .env("TMPDIR", self.root().join("tmp"))
            .env("LINE", line)
            .args(["-c", CALL, "bash"])
            .args(line.split(' '));
        for (k, v) in &self.env {
            bash.env(k, v);
        }
        let before = snapshot(self.root());
        let output = bash.output().unwrap();
        let after = snapshot(self.root());
        assert!(
            before == after,
            "completing wrote to the test folder:\nbefore: {before:#?}\nafter: {after:#?}"
        );
        let root = self.root().to_path_buf();
        Run {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code().unwrap_or(-1),
            code_checked: Cell::new(false),
            stdout_examined: Cell::new(false),
            stderr_examined: Cell::new(false),
            args: vec!["<TAB> in bash:".into(), line.into()],
            location,
            root,
            _dir: self.dir,
        }
    }

    /// Runs the binary; the `Run` must have its expectations checked (see `Run`).
    #[track_caller]
    pub fn run(self) -> Run {
        let location = Location::caller();
        let before = snapshot(&self.root().join("repo"));
        let output = self.base_command().output().unwrap();
        let after = snapshot(&self.root().join("repo"));
        assert!(
            before == after,
            "the ops repo was modified by the run:\nbefore: {before:#?}\nafter: {after:#?}"
        );
        let root = self.root().to_path_buf();
        Run {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code().unwrap_or(-1),
            code_checked: Cell::new(false),
            stdout_examined: Cell::new(false),
            stderr_examined: Cell::new(false),
            args: self.args.clone(),
            location,
            root,
            _dir: self.dir,
        }
    }
}

/// Every file of a tree: path → (mode, content).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.unwrap();
        let meta = entry.path().symlink_metadata().unwrap();
        let content = if meta.is_file() {
            std::fs::read(entry.path()).unwrap()
        } else if meta.file_type().is_symlink() {
            std::fs::read_link(entry.path())
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else {
            Vec::new()
        };
        out.insert(
            entry.path().strip_prefix(dir).unwrap().to_path_buf(),
            (meta.permissions().mode(), content),
        );
    }
    out
}

impl Run {
    /// Output with the variable parts replaced: test folder → `<root>`,
    /// workspace → `<ws>`, durations → `<t>`.
    pub fn normalize(&self, text: &str) -> String {
        let root = self.root.to_string_lossy();
        let text = text.replace(&*root, "<root>");
        let builtins =
            regex::Regex::new(r"<root>/tmp/bitops-runs-\d+/few/bitops-plugins-[A-Za-z0-9]+")
                .unwrap();
        let text = builtins.replace_all(&text, "<builtins>");
        let ws = regex::Regex::new(r"<root>/tmp/bitops-runs-\d+/bitops-[A-Za-z0-9]+").unwrap();
        let text = ws.replace_all(&text, "<ws>");
        // A padded duration column collapses to one space, so column widths do not vary.
        let secs = regex::Regex::new(r"\b(\d+m\d\ds|\d+\.\ds|\d+ms)\b( +)?").unwrap();
        secs.replace_all(
            &text,
            |c: &regex::Captures| if c.get(2).is_some() { "<t> " } else { "<t>" },
        )
        .into_owned()
    }

    /// Stdout, normalized; counts as examining it.
    pub fn stdout(&self) -> String {
        self.stdout_examined.set(true);
        self.normalize(&self.stdout)
    }

    /// Stderr, normalized; counts as examining it.
    pub fn stderr(&self) -> String {
        self.stderr_examined.set(true);
        self.normalize(&self.stderr)
    }

    /// Stdout as printed (not normalized); counts as examining it.
    pub fn stdout_text(&self) -> &str {
        self.stdout_examined.set(true);
        &self.stdout
    }

    /// Stderr as printed (not normalized); counts as examining it.
    pub fn stderr_text(&self) -> &str {
        self.stderr_examined.set(true);
        &self.stderr
    }

    /// Stdout is deliberately not checked, for `reason` (which must be given).
    pub fn stdout_any(&self, reason: &str) -> &Run {
        assert!(!reason.trim().is_empty(), "stdout_any needs a reason");
        self.stdout_examined.set(true);
        self
    }

    /// Stderr is deliberately not checked, for `reason` (which must be given).
    pub fn stderr_any(&self, reason: &str) -> &Run {
        assert!(!reason.trim().is_empty(), "stderr_any needs a reason");
        self.stderr_examined.set(true);
        self
    }

    pub fn code(&self, expected: i32) -> &Run {
        self.code_checked.set(true);
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The exit code, for a test that compares it itself; counts as checking it.
    pub fn exit_code(&self) -> i32 {
        self.code_checked.set(true);
        self.code
    }

    pub fn stdout_is(&self, expected: &str) -> &Run {
        pretty_eq(&self.stdout(), &unindent(expected), "stdout");
        self
    }

    pub fn stderr_is(&self, expected: &str) -> &Run {
        pretty_eq(&self.stderr(), &unindent(expected), "stderr");
        self
    }

    pub fn stdout_has(&self, part: &str) -> &Run {
        let stdout = self.stdout();
        assert!(stdout.contains(part), "stdout lacks {part:?}:\n{stdout}");
        self
    }

    pub fn stderr_has(&self, part: &str) -> &Run {
        let stderr = self.stderr();
        assert!(stderr.contains(part), "stderr lacks {part:?}:\n{stderr}");
        self
    }

    pub fn stdout_lacks(&self, part: &str) -> &Run {
        let stdout = self.stdout();
        assert!(!stdout.contains(part), "stdout has {part:?}:\n{stdout}");
        self
    }

    pub fn stderr_lacks(&self, part: &str) -> &Run {
        let stderr = self.stderr();
        assert!(!stderr.contains(part), "stderr has {part:?}:\n{stderr}");
        self
    }

    /// Neither stdout nor stderr, as printed (not normalized), contains `part`; counts
    /// as examining both.
    pub fn output_lacks(&self, part: &str) -> &Run {
        let (stdout, stderr) = (self.stdout_text(), self.stderr_text());
        assert!(
            !stdout.contains(part) && !stderr.contains(part),
            "output has {part:?}:\n{stdout}\n{stderr}"
        );
        self
    }

    /// The probe log (`<alias> key=value` lines), normalized; empty when nothing ran.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("log.txt"))
            .map(|t| self.normalize(&t))
            .unwrap_or_default()
    }

    pub fn log_is(&self, expected: &str) -> &Run {
        pretty_eq(&self.log(), &unindent(expected), "log.txt");
        self
    }

    /// The workspace `--keep-workspace` kept, from its `workspace kept at PATH` line.
    pub fn kept_workspace(&self) -> PathBuf {
        self.stderr_text()
            .lines()
            .find_map(|l| l.strip_prefix("workspace kept at "))
            .and_then(|rest| rest.split(" (").next())
            .map(PathBuf::from)
            .expect("a `workspace kept at` line on stderr")
    }

    /// Workspaces left in the test's temp folder.
    pub fn workspaces(&self) -> Vec<PathBuf> {
        std::fs::read_dir(scratch(&self.root))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with("bitops-") && !name.starts_with("bitops-plugins-")
            })
            .collect()
    }
}

/// Where bitops makes its temporary folders when the test's root is `root`:
/// `$TMPDIR/bitops-runs-UID` (TMPDIR is the root's `tmp/`).
pub fn scratch(root: &Path) -> PathBuf {
    // SAFETY: getuid cannot fail.
    root.join(format!("tmp/bitops-runs-{}", unsafe { libc::getuid() }))
}

/// The stdout of a process run with `Command::output`, which must have exited 0 (else
/// the test fails showing its stderr).
#[track_caller]
pub fn succeeded(out: std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What a run left in the test's temp folder that it should not have: its entries but
/// the folder bitops makes its temporary folders in; that folder's entries but `few/`,
/// `trash/` and the spares (`spare-…`); the entries of `few/` but its spares; and
/// anything in the trash or a spare that is not a folder (they hold empty folders only).
pub fn leftovers(root: &Path) -> Vec<PathBuf> {
    let list = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().path())
            .collect()
    };
    let spare = |p: &PathBuf| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("spare-")
    };
    let mine = scratch(root);
    let (trash, few) = (mine.join("trash"), mine.join("few"));
    let mut left: Vec<PathBuf> = list(&root.join("tmp"))
        .into_iter()
        .filter(|p| *p != mine)
        .collect();
    let mut folders_only = vec![trash.clone()];
    for entry in list(&mine).into_iter().chain(list(&few)) {
        if spare(&entry) {
            folders_only.push(entry);
        } else if entry != trash && entry != few {
            left.push(entry);
        }
    }
    for dir in folders_only {
        left.extend(
            walkdir::WalkDir::new(&dir)
                .into_iter()
                .flatten()
                .filter(|e| !e.file_type().is_dir())
                .map(|e| e.into_path()),
        );
    }
    left
}

/// The folders in the trash of the test's temp folder (see `leftovers`).
pub fn trash(root: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(scratch(root).join("trash"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
}

fn pretty_eq(actual: &str, expected: &str, what: &str) {
    if actual != expected {
        panic!("{what} differs\n--- expected:\n{expected}\n--- actual:\n{actual}\n---");
    }
}

/// The builder's own rules: the exit code must be checked, and a stream never examined
/// must be empty.
#[test]
fn a_run_fails_the_test_unless_its_code_is_checked_and_its_output_examined() {
    // What dropping a `Run` after `check` panics with, if it does.
    fn dropped(args: &[&str], check: fn(&Run)) -> Option<String> {
        let run = Test::new().args(args).run();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            check(&run);
            drop(run);
        }))
        .err()
        .map(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| e.downcast_ref::<&str>().unwrap().to_string())
        })
    }
    let version = &["--version"][..];
    let message = dropped(version, |run| {
        run.code(0);
    })
    .unwrap();
    assert!(
        message.starts_with("`bitops --version` (run at tests/test.rs:")
            && message.contains("\nstdout was never examined, so it must be empty, but it is not")
            && message.contains("\n--- stdout (normalized):\nbitops ")
            && !message.contains("stderr was never examined")
            && !message.contains("exit code"),
        "{message}"
    );
    let message = dropped(version, |run| {
        run.stdout_has("bitops ");
    })
    .unwrap();
    assert!(
        message.contains("\nthe exit code (0) was never checked: call .code(n)\n"),
        "{message}"
    );
    assert_eq!(
        dropped(version, |run| {
            run.code(0).stdout_has("bitops ");
        }),
        None
    );
    assert_eq!(
        dropped(version, |run| {
            run.code(0)
                .stdout_any("the version changes with every release");
        }),
        None
    );
    let message = dropped(version, |run| {
        run.code(0).stdout_any(" ");
    })
    .unwrap();
    assert_eq!(message, "stdout_any needs a reason");

    let unknown = &["no-such-command"][..];
    let message = dropped(unknown, |run| {
        run.code(2);
    })
    .unwrap();
    assert!(
        message.contains("\nstderr was never examined, so it must be empty, but it is not")
            && message.contains("\n--- stderr (normalized):\nerror: unrecognized subcommand")
            && !message.contains("stdout was never examined"),
        "{message}"
    );
    assert_eq!(
        dropped(unknown, |run| {
            run.code(2)
                .stderr_any("clap's usage text is not ours to test");
        }),
        None
    );
}

/// The stderr of a successful one-step deploy of `dev`: the step's header, `lines` (what
/// it ran, as bitops prints them), its result, and the summary with its totals line.
pub fn one_ok_step(alias: &str, plugin: &str, lines: &[&str]) -> String {
    let width = alias.len().max("deployment".len());
    let pwidth = plugin.len().max("plugin".len());
    let mut out = format!("[1/1] {alias} (plugin {plugin})\n");
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!(
        "[1/1] {alias} ok in <t>\nSummary for environment `dev`:\n  {:<3} {:<width$}  {:<pwidth$}  {:<8}  result\n  {:<3} {:<width$}  {:<pwidth$}  <t> ok\n  1 ok in <t>\n",
        "#", "deployment", "plugin", "time", 1, alias, plugin
    ));
    out
}
