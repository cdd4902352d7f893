//! The JSON Schema (draft 2020-12) of the `--report` file, schema version 1: what
//! `model.rs` serialises, field for field (its tests check each kind of step and part
//! against it). Objects stay open: new fields may appear without a version change.

use serde_json::{Value as Json, json};

use crate::report::model::SCHEMA_VERSION;

/// A string or null.
fn text_or_null() -> Json {
    json!({"type": ["string", "null"]})
}

fn problem() -> Json {
    json!({
        "description": "A configuration problem, with where it is and what to do.",
        "type": "object",
        "required": ["severity", "file", "line", "key", "message", "hint"],
        "properties": {
            "severity": {"enum": ["error", "warning"]},
            "file": text_or_null(),
            "line": {"type": ["integer", "null"], "minimum": 1},
            "key": annotated_text("The setting, dotted: bitops.timeout, terraform.cli.stack-action."),
            "message": {"type": "string"},
            "hint": text_or_null()
        }
    })
}

fn annotated_text(description: &str) -> Json {
    json!({"description": description, "type": ["string", "null"]})
}

/// `then` when the object's `field` is `value`.
fn when(field: &str, value: &str, then: Json) -> Json {
    json!({
        "if": {"properties": {field: {"const": value}}, "required": [field]},
        "then": then
    })
}

fn part() -> Json {
    json!({
        "description": "One process of a step (a hook or the deploy script), or a hook that was skipped.",
        "type": "object",
        "required": ["kind", "name", "command", "outcome", "exit_code", "seconds"],
        "properties": {
            "kind": {"enum": ["before_hook", "deploy", "after_hook"]},
            "name": {"type": "string"},
            "command": {
                "description": "The command as run (masked); null for a skipped hook.",
                "type": ["array", "null"],
                "items": {"type": "string"}
            },
            "outcome": {"enum": ["ok", "failed", "timed_out", "interrupted", "cancelled", "skipped"]},
            "exit_code": {"type": ["integer", "null"]},
            "seconds": {"type": "number", "minimum": 0},
            "skip_reason": {"description": "Why a hook was skipped; only then present.", "type": "string"},
            "file": {"description": "A hook's file in the ops repo; only for hooks.", "type": "string"}
        },
        "allOf": [
            when("outcome", "ok", json!({"properties": {"exit_code": {"const": 0}}})),
            when("outcome", "failed", json!({"properties": {"exit_code": {"type": "integer"}}})),
            when("outcome", "timed_out", json!({"properties": {"exit_code": {"type": "null"}}})),
            when("outcome", "interrupted", json!({"properties": {"exit_code": {"type": "null"}}})),
            when("outcome", "cancelled", json!({"properties": {"exit_code": {"type": "null"}}})),
            when("outcome", "skipped", json!({
                "required": ["skip_reason"],
                "properties": {"command": {"type": "null"}, "exit_code": {"type": "null"}}
            }))
        ]
    })
}

fn step() -> Json {
    let stopped = |extra: Json| {
        let mut then = json!({"required": ["part", "exit_code"]});
        if let (Json::Object(t), Json::Object(e)) = (&mut then, extra) {
            t.extend(e);
        }
        then
    };
    json!({
        "description": "One deployment of the run, in order.",
        "type": "object",
        "required": ["index", "alias", "plugin", "plugin_source", "status", "seconds", "parts", "output_tail"],
        "properties": {
            "index": {"description": "1 for the first deployment.", "type": "integer", "minimum": 1},
            "alias": {"type": "string"},
            "plugin": {"type": "string"},
            "plugin_source": {"description": "`built in`, or the installed plugin's folder; empty for a step that did not run.", "type": "string"},
            "status": {
                "description": "`cancelled`: stopped because another step failed while it ran (fail_fast, --parallel).",
                "enum": ["ok", "failed", "timed_out", "interrupted", "cancelled", "skipped", "not_run"]
            },
            "part": {"description": "The part that failed, timed out, was interrupted or cancelled (`configuration` for a config error found when the step was resolved again; `outputs` when what it published cannot be read).", "type": "string"},
            "exit_code": {"type": "integer"},
            "signal": {"enum": ["SIGHUP", "SIGINT", "SIGTERM"]},
            "reason": {"description": "Why the step was skipped (`dependency `net` did not succeed` for a step whose dependency failed).", "type": "string"},
            "seconds": {"type": "number", "minimum": 0},
            "started_at": {
                "description": "When the step started, UTC to the millisecond; absent for a step that did not run.",
                "type": "string",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"
            },
            "finished_at": {
                "description": "When the step ended, UTC to the millisecond; absent for a step that did not run.",
                "type": "string",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"
            },
            "needs": {"description": "The steps it waited for (`depends_on`); absent when none.", "type": "array", "items": {"type": "string"}},
            "outputs": {
                "description": "What the step published through $BITOPS_OUTPUTS, masked; absent when nothing.",
                "type": "object",
                "additionalProperties": {"type": "string"}
            },
            "parts": {"type": "array", "items": part()},
            "output_tail": {"description": "The last lines of the step's output, masked.", "type": "array", "items": {"type": "string"}}
        },
        "allOf": [
            when("status", "failed", stopped(json!({}))),
            when("status", "timed_out", stopped(json!({"properties": {"exit_code": {"const": crate::error::exit::TIMED_OUT}}}))),
            when("status", "interrupted", stopped(json!({
                "required": ["part", "exit_code", "signal"],
                "properties": {"exit_code": {"enum": crate::error::Signal::ALL.map(crate::error::Signal::exit_code)}}
            }))),
            when("status", "cancelled", json!({"required": ["part"]})),
            when("status", "skipped", json!({"required": ["reason"]}))
        ]
    })
}

/// The schema of the `--report` file.
pub fn report() -> Json {
    json!({
        "$schema": crate::plan::json_schema::DRAFT,
        "$comment": "Generated by `bitops schema`; regenerate it rather than edit it.",
        "title": format!("bitops run report (--report), schema version {SCHEMA_VERSION}"),
        "description": "What `bitops deploy --report FILE` writes, whatever the outcome. New fields may appear without a version change; a changed or removed field bumps schema_version.",
        "type": "object",
        "required": ["schema_version", "bitops_version", "environment", "ops_repo", "dry_run", "started_at", "seconds", "status", "exit_code", "problems", "steps"],
        "properties": {
            "schema_version": {"const": SCHEMA_VERSION},
            "bitops_version": {"type": "string"},
            "environment": {"description": "Empty when the run was invalid before an environment was known.", "type": "string"},
            "ops_repo": {"type": "string"},
            "dry_run": {"type": "boolean"},
            "started_at": {
                "description": "UTC, to the second: 2026-11-21T05:01:10Z.",
                "type": "string",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
            },
            "seconds": {"type": "number", "minimum": 0},
            "status": {
                "description": "`invalid`: the configuration had errors (in `problems`); nothing ran.",
                "enum": ["succeeded", "failed", "interrupted", "invalid"]
            },
            "exit_code": {"description": "bitops' exit code.", "type": "integer"},
            "problems": {"type": "array", "items": problem()},
            "steps": {"type": "array", "items": step()}
        },
        "allOf": [
            when("status", "succeeded", json!({"properties": {"exit_code": {"const": 0}}}))
        ]
    })
}

#[cfg(test)]
mod tests {
    //! Every kind of step and part, serialised by `model.rs`, against the schema: each
    //! field declared with its type and value, the required ones present.

    use super::*;
    use crate::error::{Problem, Signal};
    use crate::report::model::{PartKind, PartReport, RunReport, RunStatus, Status, StepReport};

    /// The subset of JSON Schema used above, strictly: an undeclared field is an error.
    fn check(schema: &Json, value: &Json, at: &str, errors: &mut Vec<String>) {
        let mut fail = |why: String| errors.push(format!("{at}: {why}"));
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Json::String(t) => vec![t.as_str()],
                Json::Array(ts) => ts.iter().filter_map(Json::as_str).collect(),
                _ => vec![],
            };
            let kind = match value {
                Json::Null => "null",
                Json::Bool(_) => "boolean",
                Json::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Json::Number(_) => "number",
                Json::String(_) => "string",
                Json::Array(_) => "array",
                Json::Object(_) => "object",
            };
            let number = kind == "integer" && types.contains(&"number");
            if !types.contains(&kind) && !number {
                fail(format!("{value} is not {types:?}"));
            }
        }
        if let Some(c) = schema.get("const")
            && c != value
        {
            fail(format!("{value} is not {c}"));
        }
        if let Some(Json::Array(choices)) = schema.get("enum")
            && !choices.contains(value)
        {
            fail(format!("{value} is not one of {choices:?}"));
        }
        if let (Some(Json::String(p)), Json::String(s)) = (schema.get("pattern"), value)
            && !regex::Regex::new(p).unwrap().is_match(s)
        {
            fail(format!("{s:?} does not match {p}"));
        }
        if let (Some(Json::Number(min)), Json::Number(n)) = (schema.get("minimum"), value)
            && n.as_f64() < min.as_f64()
        {
            fail(format!("{n} < {min}"));
        }
        if let Json::Object(fields) = value {
            let declared = schema.get("properties").and_then(Json::as_object);
            for (k, v) in fields {
                match declared
                    .and_then(|d| d.get(k))
                    .or(schema.get("additionalProperties"))
                {
                    Some(s) => check(s, v, &format!("{at}.{k}"), errors),
                    None => errors.push(format!("{at}: `{k}` is not declared")),
                }
            }
            for r in schema["required"].as_array().into_iter().flatten() {
                if !fields.contains_key(r.as_str().unwrap()) {
                    errors.push(format!("{at}: `{r}` is missing"));
                }
            }
        }
        if let (Some(items), Json::Array(values)) = (schema.get("items"), value) {
            for (i, v) in values.iter().enumerate() {
                check(items, v, &format!("{at}[{i}]"), errors);
            }
        }
        for rule in schema["allOf"].as_array().into_iter().flatten() {
            let mut miss = Vec::new();
            check_if(&rule["if"], value, &mut miss);
            if miss.is_empty() {
                check_then(&rule["then"], value, at, errors);
            }
        }
    }

    fn check_if(condition: &Json, value: &Json, miss: &mut Vec<String>) {
        for (k, s) in condition["properties"].as_object().into_iter().flatten() {
            if value.get(k) != Some(&s["const"]) {
                miss.push(k.clone());
            }
        }
    }

    /// `then` only adds requirements and narrows declared fields.
    fn check_then(then: &Json, value: &Json, at: &str, errors: &mut Vec<String>) {
        for r in then["required"].as_array().into_iter().flatten() {
            if value.get(r.as_str().unwrap()).is_none() {
                errors.push(format!("{at}: `{r}` is missing"));
            }
        }
        for (k, s) in then["properties"].as_object().into_iter().flatten() {
            if let Some(v) = value.get(k) {
                let mut narrowed = s.clone();
                narrowed.as_object_mut().unwrap().remove("properties");
                check(&narrowed, v, &format!("{at}.{k}"), errors);
            }
        }
    }

    fn part(kind: PartKind, outcome: &'static str, exit_code: Option<i32>) -> PartReport {
        let skipped = outcome == "skipped";
        PartReport {
            kind,
            name: "01.sh".into(),
            command: (!skipped).then(|| vec!["bash".into(), "01.sh".into()]),
            outcome,
            exit_code,
            seconds: 0.25,
            skip_reason: skipped.then(|| "not executable".into()),
            file: None,
        }
    }

    fn step(index: usize, status: Status, parts: Vec<PartReport>) -> StepReport {
        StepReport {
            index,
            alias: "net".into(),
            plugin: "terraform".into(),
            plugin_source: "built in".into(),
            status,
            seconds: 1.5,
            started_at: Some("2026-12-01T10:00:00.250Z".into()),
            finished_at: Some("2026-12-01T10:00:01.750Z".into()),
            needs: vec!["db".into()],
            parts,
            output_tail: vec!["done".into()],
            outputs: [("ip".to_string(), "10.0.0.1".to_string())].into(),
        }
    }

    fn errors_of(report: &RunReport) -> Vec<String> {
        let value = serde_json::to_value(report).unwrap();
        let mut errors = Vec::new();
        check(&super::report(), &value, "report", &mut errors);
        errors
    }

    #[test]
    fn every_kind_of_step_and_part_matches_the_schema() {
        let mut report = RunReport::new("dev", std::path::Path::new("/repo"), false);
        report.status = RunStatus::Interrupted;
        report.exit_code = 130;
        report.seconds = 3.0;
        let failed = |part: &str, exit_code| Status::Failed {
            part: part.into(),
            exit_code,
        };
        report.steps = vec![
            step(
                1,
                Status::Ok,
                vec![
                    part(PartKind::BeforeHook, "skipped", None),
                    part(PartKind::BeforeHook, "ok", Some(0)),
                    part(PartKind::Deploy, "ok", Some(0)),
                    part(PartKind::AfterHook, "ok", Some(0)),
                ],
            ),
            step(
                2,
                failed("deploy", 7),
                vec![part(PartKind::Deploy, "failed", Some(7))],
            ),
            step(3, failed("configuration", 2), vec![]),
            step(
                4,
                Status::TimedOut {
                    part: "deploy".into(),
                    exit_code: 124,
                },
                vec![part(PartKind::Deploy, "timed_out", None)],
            ),
            step(
                5,
                Status::Skipped {
                    reason: "tool folder dev/x not found".into(),
                },
                vec![],
            ),
            step(
                6,
                Status::Interrupted {
                    part: "after hook 02.sh".into(),
                    signal: Signal::Interrupt,
                    exit_code: 130,
                },
                vec![part(PartKind::AfterHook, "interrupted", None)],
            ),
            step(7, Status::NotRun, vec![]),
            step(
                8,
                Status::Cancelled {
                    part: "deploy script".into(),
                },
                vec![part(PartKind::Deploy, "cancelled", None)],
            ),
        ];
        assert_eq!(errors_of(&report), Vec::<String>::new());
    }

    #[test]
    fn an_invalid_run_matches_the_schema() {
        let mut report = RunReport::new("", std::path::Path::new(""), true);
        report.status = RunStatus::Invalid;
        report.exit_code = 2;
        report.problems = vec![
            Problem::error("a wrong value")
                .at(std::path::Path::new("dev/x/bitops.config.yaml"), 3)
                .key("x.cli.y")
                .hint("fix it"),
            Problem::warning("no file"),
        ];
        assert_eq!(errors_of(&report), Vec::<String>::new());
    }

    #[test]
    fn the_checker_sees_mistakes() {
        let mut report = RunReport::new("dev", std::path::Path::new("/repo"), false);
        report.steps = vec![step(
            0,
            Status::TimedOut {
                part: "deploy".into(),
                exit_code: 1,
            },
            vec![part(PartKind::Deploy, "ok", Some(3))],
        )];
        let errors = errors_of(&report);
        assert_eq!(
            errors,
            [
                "report.steps[0].index: 0 < 1",
                "report.steps[0].parts[0].exit_code: 3 is not 0",
                "report.steps[0].exit_code: 1 is not 124",
            ],
        );
    }
}
