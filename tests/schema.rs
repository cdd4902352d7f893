//! `bitops schema`: what it prints and writes, and — with a real JSON Schema validator
//! (Python's `jsonschema` in `.tools/venv`) — that the example ops repo's config files and
//! real `--report` files validate against the generated schemas, and wrong ones do not.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::test::{PROBE_SCHEMA, Test, probe_schema};
use crate::tools::venv_python;

/// `bitops validate` of `repo/dev` with the test's plugins.
const VALIDATE_DEV: &[&str] = &[
    "validate",
    "-e",
    "dev",
    "--ops-repo",
    "repo",
    "--plugins-dir",
    "plugins",
];

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Validates each file (YAML or JSON) against a schema and prints `{file: [error, ...]}`.
/// `--closed`: every object schema with `properties` is closed first, so a field the
/// schema does not declare is an error (the report's schema is open on purpose).
const VALIDATE: &str = r#"
import json, sys, yaml, jsonschema

def close(s):
    if isinstance(s, dict):
        t = s.get("type")
        if "properties" in s and (t == "object" or (isinstance(t, list) and "object" in t)):
            s.setdefault("additionalProperties", False)
        for v in s.values():
            close(v)
    elif isinstance(s, list):
        for v in s:
            close(v)

args = sys.argv[1:]
closed = "--closed" in args
args = [a for a in args if a != "--closed"]
with open(args[0]) as f:
    schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(schema)
if closed:
    close(schema)
validator = jsonschema.Draft202012Validator(schema)
out = {}
for name in args[1:]:
    with open(name) as f:
        doc = json.load(f) if name.endswith(".json") else yaml.safe_load(f)
    out[name] = sorted(
        "/".join(map(str, e.absolute_path)) + ": " + e.message for e in validator.iter_errors(doc)
    )
print(json.dumps(out))
"#;

/// The errors of each file against `schema`, by file.
fn validate(schema: &Path, files: &[PathBuf], closed: bool) -> BTreeMap<String, Vec<String>> {
    let mut cmd = Command::new(venv_python());
    cmd.arg("-c").arg(VALIDATE).arg(schema);
    if closed {
        cmd.arg("--closed");
    }
    let out = cmd.args(files).output().unwrap();
    assert!(
        out.status.success(),
        "the validator failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Asserts that every file is valid.
fn assert_valid(schema: &Path, files: &[PathBuf], closed: bool) {
    assert!(!files.is_empty());
    let errors: BTreeMap<_, _> = validate(schema, files, closed)
        .into_iter()
        .filter(|(_, e)| !e.is_empty())
        .collect();
    assert!(errors.is_empty(), "not valid: {errors:#?}");
}

fn quickstart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart")
}

/// Writes every schema (`--all`) into `<test>/schemas`, with the plugins of `plugins_dir`.
fn all_schemas(plugins_dir: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("schemas");
    let run = Test::new()
        .args(&["schema", "--all", "--out"])
        .args(&[out.to_str().unwrap(), "--plugins-dir"])
        .args(&[plugins_dir.to_str().unwrap()])
        .run();
    run.code(0);
    run.stdout_any("this test checks the schemas and files, not the console");
    run.stderr_any("this test checks the schemas and files, not the console");
    (dir, out)
}

/// The schema of the `--report` file, written into the test folder.
fn report_schema(root: &Path) -> PathBuf {
    let path = root.join("report.schema.json");
    let out = Command::new(env!("CARGO_BIN_EXE_bitops"))
        .args(["schema", "report"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn schema_core_prints_the_core_config_schema_and_writes_nothing() {
    let run = Test::new().args(&["schema", "core"]).run();
    run.code(0);
    run.stdout_any("this test checks the schemas and files, not the console");
    run.stderr_any("this test checks the schemas and files, not the console");
    let schema = json(run.stdout_text());
    assert_eq!(schema["$schema"], DRAFT);
    assert_eq!(schema["required"], serde_json::json!(["bitops"]));
    let keys: Vec<&String> = schema["properties"]["bitops"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        keys,
        [
            "fail_fast",
            "run_mode",
            "logging",
            "default_folder",
            "timeout",
            "plugins",
            "deployments"
        ]
    );
    let entries: Vec<String> = std::fs::read_dir(&run.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["repo", "plugins", "tmp"].contains(&n.as_str()))
        .collect();
    assert!(entries.is_empty(), "written: {entries:?}");
}

#[test]
fn schema_plugin_follows_the_plugins_bitops_schema() {
    let run = Test::new().args(&["schema", "plugin", "terraform"]).run();
    run.code(0);
    run.stdout_any("this test checks the schemas and files, not the console");
    run.stderr_any("this test checks the schemas and files, not the console");
    let schema = json(run.stdout_text());
    let action =
        &schema["properties"]["terraform"]["properties"]["cli"]["properties"]["stack-action"];
    assert_eq!(
        action["enum"],
        serde_json::json!(["plan", "apply", "destroy"])
    );
    assert_eq!(action["default"], "plan");
    assert_eq!(
        action["description"],
        "what to do. CLI: positional. Exported as TERRAFORM_COMMAND. The variable BITOPS_TERRAFORM_STACK_ACTION overrides it."
    );
    assert_eq!(
        schema["properties"]["terraform"]["additionalProperties"],
        false
    );
}

#[test]
fn schema_plugin_prefers_the_installed_plugin() {
    let run = Test::new()
        .probe_plugin(
            "terraform",
            &PROBE_SCHEMA.replace("probe:", "terraform:"),
            &[],
        )
        .args(&["schema", "plugin", "terraform", "--plugins-dir", "plugins"])
        .run();
    run.code(0);
    run.stdout_any("this test checks the schemas and files, not the console");
    run.stderr_any("this test checks the schemas and files, not the console");
    let cli =
        &json(run.stdout_text())["properties"]["terraform"]["properties"]["cli"]["properties"];
    let keys: Vec<&String> = cli.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["name", "stack-action"]);
}

#[test]
fn schema_of_an_unknown_plugin_is_an_error() {
    Test::new()
        .args(&["schema", "plugin", "terrafrom"])
        .run()
        .code(1)
        .stdout_is("")
        .stderr_has("error: unknown plugin `terrafrom`")
        .stderr_has("terraform");
}

#[test]
fn schema_all_writes_every_schema_into_out() {
    let run = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .write(
            "plugins/raw/plugin.config.yaml",
            "plugin: {deployment: {core_schema_parsing: false}}\n",
        )
        .write("plugins/raw/deploy.sh", "true\n")
        .args(&[
            "schema",
            "--all",
            "--out",
            "out/schemas",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    run.code(0)
        .stdout_is(
            "
            out/schemas/bitops.config.schema.json
            out/schemas/report.schema.json
            out/schemas/ansible.schema.json
            out/schemas/aws.schema.json
            out/schemas/cloudformation.schema.json
            out/schemas/helm.schema.json
            out/schemas/kubectl.schema.json
            out/schemas/probe.schema.json
            out/schemas/terraform.schema.json
            ",
        )
        .stderr_is("note: plugin `raw` has no bitops.schema.yaml: no schema for its tool config\n");
    let dir = run.root.join("out/schemas");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
    for name in names {
        let path = dir.join(&name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{name}");
        assert_eq!(
            json(&std::fs::read_to_string(&path).unwrap())["$schema"],
            DRAFT,
            "{name}"
        );
    }
    let probe = json(&std::fs::read_to_string(dir.join("probe.schema.json")).unwrap());
    assert!(probe["properties"]["probe"].is_object());
}

#[test]
fn schema_all_needs_out() {
    Test::new()
        .args(&["schema", "--all"])
        .run()
        .code(2)
        .stdout_is("")
        .stderr_has("--out <DIR>");
}

#[test]
fn schema_all_with_a_broken_plugin_schema_writes_nothing() {
    let run = Test::new()
        .probe_plugin(
            "probe",
            "probe:\n  properties:\n    cli:\n      properties:\n        a: {type: strnig}\n",
            &[],
        )
        .args(&[
            "schema",
            "--all",
            "--out",
            "out",
            "--plugins-dir",
            "plugins",
        ])
        .run();
    run.code(1).stdout_is("").stderr_has(
        "plugins/probe/bitops.schema.yaml:5: `cli.a.type`: unknown schema type `strnig`",
    );
    assert!(!run.root.join("out").exists());
}

/// The quick-start's image-level and environment-level core configs validate against the
/// core schema, and every tool config (the default folder's too) against its plugin's.
#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_quickstart_configs_validate_against_the_generated_schemas() {
    let example = quickstart();
    let (_dir, schemas) = all_schemas(&example.join("plugins"));
    let mut core = vec![example.join("bitops.config.yaml")];
    let mut tools = Vec::new();
    for entry in walkdir::WalkDir::new(example.join("ops-repo")) {
        let path = entry.unwrap().into_path();
        if path.file_name().is_some_and(|n| n == "bitops.config.yaml") {
            let depth = path
                .strip_prefix(example.join("ops-repo"))
                .unwrap()
                .components()
                .count();
            if depth == 2 { &mut core } else { &mut tools }.push(path);
        }
    }
    assert_eq!((core.len(), tools.len()), (2, 4), "{core:?} {tools:?}");
    assert_valid(&schemas.join("bitops.config.schema.json"), &core, false);
    assert_valid(&schemas.join("release-notes.schema.json"), &tools, false);
}

/// Values bitops accepts though they are not of the schema type's JSON form — `yes`,
/// a number for a string, digits in quotes for an integer, one value for a list — are
/// valid for the schema too.
#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_schemas_accept_what_bitops_accepts() {
    let t = Test::new()
        .probe_plugin(
            "probe",
            &probe_schema(
                "
                forks: {type: integer, parameter: forks}
                tags: {type: list, parameter: tag}
                debug: {type: boolean, parameter: debug}
                ",
                "version: {type: string}",
            ),
            &[],
        )
        .write(
            "repo/dev/bitops.config.yaml",
            "
            bitops:
              fail_fast: 'no'
              timeout: 1h30m
              logging: {level: warn, color: {enabled: on}, masks: [{search: 'x(y)'}], secret_env: [DB_URL]}
              deployments:
                app: {plugin: probe, timeout: 600}
                probe:
            ",
        )
        .write(
            "repo/dev/app/bitops.config.yaml",
            "probe:\n  cli: {name: 42, forks: '8', tags: one, debug: 'Yes'}\n  options: {version: 1.15}\n",
        )
        .write("repo/dev/probe/bitops.config.yaml", "# nothing set\n");
    let run = t
        .args(&[
            "validate",
            "-e",
            "dev",
            "--ops-repo",
            "repo",
            "--plugins-dir",
            "plugins",
            "--strict",
        ])
        .run();
    run.code(0);
    run.stdout_any("this test checks the schemas and files, not the console");
    run.stderr_any("this test checks the schemas and files, not the console");
    let root = run.root.clone();
    let (_dir, schemas) = all_schemas(&root.join("plugins"));
    assert_valid(
        &schemas.join("bitops.config.schema.json"),
        &[root.join("repo/dev/bitops.config.yaml")],
        false,
    );
    assert_valid(
        &schemas.join("probe.schema.json"),
        &[
            root.join("repo/dev/app/bitops.config.yaml"),
            root.join("repo/dev/probe/bitops.config.yaml"),
        ],
        false,
    );
}

/// A config with a wrong type: `bitops validate` rejects it, and so does the schema.
#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_tool_config_with_a_wrong_type_is_rejected_by_the_schema() {
    let run = Test::new()
        .probe_plugin(
            "probe",
            &probe_schema(
                "forks: {type: integer, parameter: forks}",
                "mode: {type: string, enum: [fast, safe]}",
            ),
            &[],
        )
        .deployments(&["app"])
        .write(
            "repo/dev/app/bitops.config.yaml",
            "probe:\n  cli: {forks: many, name: [a, b]}\n  options: {mode: quick, colour: red}\n",
        )
        .args(VALIDATE_DEV)
        .run();
    run.code(1)
        .stdout_has("`probe.cli.forks`: must be an integer, found a string `many`")
        .stdout_has("`probe.cli.name`: must be a single value")
        .stdout_has("`probe.options.mode`: `quick` is not one of fast, safe");
    let (_dir, schemas) = all_schemas(&run.root.join("plugins"));
    let file = run.root.join("repo/dev/app/bitops.config.yaml");
    let errors = validate(
        &schemas.join("probe.schema.json"),
        std::slice::from_ref(&file),
        false,
    );
    let errors = &errors[file.to_str().unwrap()];
    for (at, what) in [
        ("probe/cli/forks: 'many' is not valid", "forks"),
        ("probe/cli/name: ['a', 'b'] is not of type", "name"),
        (
            "probe/options/mode: 'quick' is not one of ['fast', 'safe']",
            "mode",
        ),
        (
            "probe/options: Additional properties are not allowed ('colour' was unexpected)",
            "colour",
        ),
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(at)),
            "no error for {what}: {errors:#?}"
        );
    }
    assert_eq!(errors.len(), 4, "{errors:#?}");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn a_core_config_with_a_wrong_type_is_rejected_by_the_schema() {
    let run = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["app"])
        .write(
            "repo/dev/bitops.config.yaml",
            "
            bitops:
              fail_fast: sometimes
              timeout: 10x
              deployments:
                app: {plugin: probe, timeot: 5}
            ",
        )
        .args(VALIDATE_DEV)
        .run();
    run.code(1)
        .stdout_has("`bitops.fail_fast`: expected true or false, found a string `sometimes`")
        .stdout_has("`bitops.timeout`: `10x` is not a duration")
        .stdout_has("`bitops.deployments.app.timeot`: unknown deployment setting");
    let (_dir, schemas) = all_schemas(&run.root.join("plugins"));
    let file = run.root.join("repo/dev/bitops.config.yaml");
    let errors = validate(
        &schemas.join("bitops.config.schema.json"),
        std::slice::from_ref(&file),
        false,
    );
    let errors = &errors[file.to_str().unwrap()];
    for at in [
        "bitops/fail_fast: 'sometimes' is not valid",
        "bitops/timeout: '10x' is not valid",
        "bitops/deployments/app: Additional properties are not allowed ('timeot' was unexpected)",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(at)),
            "no error {at:?}: {errors:#?}"
        );
    }
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

/// Copies the quick-start example into a test: `repo/`, `plugins/`, `core.yaml`.
fn quickstart_test() -> Test {
    let example = quickstart();
    let mut t = Test::new().write_raw(
        "core.yaml",
        &std::fs::read(example.join("bitops.config.yaml")).unwrap(),
    );
    for (from, to) in [("ops-repo", "repo"), ("plugins", "plugins")] {
        for entry in walkdir::WalkDir::new(example.join(from)) {
            let entry = entry.unwrap();
            let rel = entry.path().strip_prefix(example.join(from)).unwrap();
            if entry.file_type().is_file() {
                let mode = entry.metadata().unwrap().permissions().mode();
                let dest = format!("{to}/{}", rel.display());
                t = t.write_raw(&dest, &std::fs::read(entry.path()).unwrap());
                std::fs::set_permissions(
                    t.root().join(&dest),
                    std::fs::Permissions::from_mode(mode),
                )
                .unwrap();
            }
        }
    }
    t
}

/// The report of a run, validated against the report schema closed: a field the schema
/// does not declare is an error too.
fn assert_report_valid(run: &crate::test::Run) -> serde_json::Value {
    let report = run.root.join("out/report.json");
    assert_valid(
        &report_schema(&run.root),
        std::slice::from_ref(&report),
        true,
    );
    json(&std::fs::read_to_string(report).unwrap())
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_report_of_a_successful_run_validates() {
    let run = quickstart_test()
        .cmd("deploy", "dev")
        .args(&["-c", "core.yaml", "--report", "out/report.json"])
        .run();
    run.code(0);
    run.stdout_any("this test checks the schemas and files, not the console");
    run.stderr_any("this test checks the schemas and files, not the console");
    let report = assert_report_valid(&run);
    assert_eq!(report["status"], "succeeded");
    let outcomes: Vec<&str> = report["steps"][1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["ok", "ok", "ok"]);
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_report_of_a_failed_run_validates() {
    let run = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .deployments(&["a", "b", "c"])
        // the image-level sequence lists `gone`, which this environment lacks: skipped
        .write(
            "core.yaml",
            "bitops:\n  deployments:\n    gone: {plugin: probe}\n    a: {plugin: probe}\n    b: {plugin: probe}\n    c: {plugin: probe}\n",
        )
        .write("repo/dev/a/bitops.before-deploy.d/README.txt", "not a hook\n")
        .write("repo/dev/b/bitops.before-deploy.d/01.sh", "echo failing; exit 7\n");
    std::fs::remove_file(run.root().join("repo/dev/bitops.config.yaml")).unwrap();
    let run = run
        .cmd("deploy", "dev")
        .args(&["-c", "core.yaml", "--report", "out/report.json"])
        .run();
    run.code(7);
    run.stdout_any("this test checks the schemas and files, not the console");
    run.stderr_any("this test checks the schemas and files, not the console");
    let report = assert_report_valid(&run);
    let statuses: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["skipped", "ok", "failed", "not_run"]);
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_report_of_a_timed_out_run_validates() {
    let run = Test::new()
        .probe_plugin("probe", PROBE_SCHEMA, &[])
        .write(
            "repo/dev/bitops.config.yaml",
            "bitops:\n  deployments:\n    slow: {plugin: probe, timeout: 1}\n",
        )
        .write("repo/dev/slow/bitops.config.yaml", "probe: {}\n")
        .write("repo/dev/slow/bitops.before-deploy.d/01.sh", "sleep 30\n")
        .cmd("deploy", "dev")
        .args(&["--report", "out/report.json", "--grace-period", "1s"])
        .run();
    run.code(124);
    run.stdout_any("this test checks the schemas and files, not the console");
    run.stderr_any("this test checks the schemas and files, not the console");
    let report = assert_report_valid(&run);
    assert_eq!(report["steps"][0]["status"], "timed_out");
}

#[test]
#[ignore = "needs .tools/ (bash .ci/tools.sh)"]
fn the_report_of_an_invalid_config_run_validates() {
    let run = Test::new()
        .probe_plugin(
            "probe",
            &probe_schema("forks: {type: integer, parameter: forks}", ""),
            &[],
        )
        .deployments(&["a"])
        .write(
            "repo/dev/a/bitops.config.yaml",
            "probe:\n  cli: {forks: many}\n",
        )
        .cmd("deploy", "dev")
        .args(&["--report", "out/report.json"])
        .run();
    run.code(1);
    run.stdout_any("this test checks the schemas and files, not the console");
    run.stderr_any("this test checks the schemas and files, not the console");
    let report = assert_report_valid(&run);
    assert_eq!(report["status"], "invalid");
    assert_eq!(report["problems"][0]["key"], "probe.cli.forks");
    assert_eq!(report["problems"][0]["line"], 2);
}
