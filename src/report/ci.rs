//! CI logs: collapsible groups per step, error annotations, and the summary table in
//! `$GITHUB_STEP_SUMMARY`, for GitHub Actions and GitLab CI.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Problem;
use crate::report::event::{Event, Reporter, Tag, Tone};
use crate::report::model::{RunStatus, Status};
use crate::report::terminal::{Stream, Terminal};

/// CI systems whose log viewers get groups, annotations and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    /// GitHub Actions when GITHUB_ACTIONS=true, GitLab CI when GITLAB_CI=true, else none
    Auto,
    Github,
    Gitlab,
    None,
}

impl Ci {
    /// `auto` made concrete from the CI's own variables.
    pub fn resolve(self, env: &crate::config::settings::EnvVars) -> Ci {
        match self {
            Ci::Auto if env.get("GITHUB_ACTIONS") == Some("true") => Ci::Github,
            Ci::Auto if env.get("GITLAB_CI") == Some("true") => Ci::Gitlab,
            Ci::Auto => Ci::None,
            other => other,
        }
    }
}

/// The CI reporter. Control lines go to stdout, where the CI's log viewer reads them.
pub struct CiLog {
    pub ci: Ci,
    pub terminal: Arc<Terminal>,
    /// `$GITHUB_STEP_SUMMARY`.
    pub summary: Option<PathBuf>,
    /// `$GITHUB_WORKSPACE`: annotation paths are relative to it.
    pub workspace: Option<PathBuf>,
    /// Whether each step is a collapsible group.
    pub groups: bool,
}

impl CiLog {
    fn control(&self, step: Option<&Tag>, line: String) {
        self.terminal.write_in(
            step.map(|t| t.index),
            Stream::Out,
            (line + "\n").into_bytes(),
        );
    }
}

impl Reporter for CiLog {
    fn on(&mut self, event: &Event, tag: Option<&Tag>) {
        let github = self.ci == Ci::Github;
        // Steps that run at the same time and are not held (`--output prefixed`) would
        // interleave their groups: then there are none.
        let groups = self.groups;
        let control = |line: String| self.control(tag, line);
        match *event {
            Event::StepStarted {
                index,
                total,
                alias,
                plugin,
            } => {
                let title = format!("[{index}/{total}] {alias} (plugin {plugin})");
                match self.ci {
                    _ if !groups => {}
                    Ci::Github => control(format!("::group::{title}")),
                    Ci::Gitlab => control(gitlab_section(
                        true,
                        &format!("bitops_step_{index}"),
                        &title,
                    )),
                    _ => {}
                }
            }
            Event::Problem(p) if github => control(github_problem(p, self.workspace.as_deref())),
            // bitops' own warnings during the run (a step skipped because another failed).
            Event::Notice {
                tone: Tone::Warn,
                text,
            } if github => control(github_annotation(
                "warning",
                None,
                None,
                "bitops",
                text.strip_prefix("warning: ").unwrap_or(text),
            )),
            Event::StepFinished { step, .. } => {
                let configuration =
                    matches!(&step.status, Status::Failed { part, .. } if part == "configuration");
                if github && step.status.failed() && !configuration {
                    // A failed hook points at its file in the ops repo.
                    let file = step
                        .parts
                        .iter()
                        .rev()
                        .find(|p| p.outcome != "ok" && p.outcome != "skipped")
                        .and_then(|p| p.file.as_deref())
                        .map(|f| in_workspace(f, self.workspace.as_deref()));
                    control(github_error(
                        file.as_deref(),
                        None,
                        &format!("bitops: {} failed", step.alias),
                        &format!("{} {}", step.alias, step.status.describe()),
                    ));
                }
                match self.ci {
                    _ if !groups => {}
                    Ci::Github if step.status != Status::NotRun => control("::endgroup::".into()),
                    Ci::Gitlab if step.status != Status::NotRun => control(gitlab_section(
                        false,
                        &format!("bitops_step_{}", step.index),
                        "",
                    )),
                    _ => {}
                }
            }
            Event::RunFinished(report) if github => {
                if report.status == RunStatus::Invalid {
                    for p in report.problems.iter().filter(|p| p.is_error()) {
                        control(github_problem(p, self.workspace.as_deref()));
                    }
                }
                if let Some(path) = &self.summary {
                    append_summary(path, &crate::report::summary::markdown(report));
                }
            }
            _ => {}
        }
    }
}

fn append_summary(path: &Path, markdown: &str) {
    use std::io::Write;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    if let Ok(mut f) = file {
        let _ = f.write_all((markdown.to_string() + "\n").as_bytes());
    }
}

/// Text of a hook, a tool or the repo, made inert for GitHub Actions' runner, which obeys
/// a line whose first non-blank characters are `::` (`::add-mask::`, `::error::`,
/// `::stop-commands::`) and `##[` anywhere in a line (its older form): a zero-width space
/// goes between the two characters, so the line reads the same and is never a command.
/// bitops' own commands are written apart from this text.
pub fn inert_for_github(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const ZWSP: &[u8] = "\u{200b}".as_bytes();
    if memchr::memmem::find(bytes, b"::").is_none() && memchr::memmem::find(bytes, b"##[").is_none()
    {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + 16);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let blank = line
            .iter()
            .take_while(|b| b.is_ascii_whitespace() && **b != b'\n')
            .count();
        let mut rest = line;
        if line[blank..].starts_with(b"::") {
            out.extend_from_slice(&line[..=blank]);
            out.extend_from_slice(ZWSP);
            rest = &line[blank + 1..];
        }
        let mut from = 0;
        while let Some(at) = memchr::memmem::find(&rest[from..], b"##[") {
            out.extend_from_slice(&rest[from..from + at + 1]);
            out.extend_from_slice(ZWSP);
            from += at + 1;
        }
        out.extend_from_slice(&rest[from..]);
    }
    std::borrow::Cow::Owned(out)
}

/// `%`, CR and LF escaped as GitHub's workflow commands want them; in properties also
/// `:` and `,`.
fn gh_escape(text: &str, property: bool) -> String {
    let mut s = text
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        s = s.replace(':', "%3A").replace(',', "%2C");
    }
    s
}

/// `::error file=F,line=L,title=T::message`
pub fn github_error(
    file: Option<&Path>,
    line: Option<usize>,
    title: &str,
    message: &str,
) -> String {
    github_annotation("error", file, line, title, message)
}

/// `::error …` or `::warning …`.
fn github_annotation(
    command: &str,
    file: Option<&Path>,
    line: Option<usize>,
    title: &str,
    message: &str,
) -> String {
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(format!("file={}", gh_escape(&f.to_string_lossy(), true)));
    }
    if let Some(l) = line {
        props.push(format!("line={l}"));
    }
    props.push(format!("title={}", gh_escape(title, true)));
    format!(
        "::{command} {}::{}",
        props.join(","),
        gh_escape(message, false)
    )
}

/// `file` as GitHub shows it on a pull request: relative to the repository root
/// (`GITHUB_WORKSPACE`) when it is inside it.
fn in_workspace(file: &Path, workspace: Option<&Path>) -> PathBuf {
    let Some(ws) = workspace else {
        return file.to_path_buf();
    };
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let ws = std::path::absolute(ws).unwrap_or_else(|_| ws.to_path_buf());
    abs.strip_prefix(&ws)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| file.to_path_buf())
}

/// A problem as an annotation: errors as `::error`, warnings as `::warning`.
pub fn github_problem(p: &Problem, workspace: Option<&Path>) -> String {
    let title = match &p.key {
        Some(k) => format!("bitops: {k}"),
        None => "bitops: configuration".into(),
    };
    let mut message = p.message.clone();
    if let Some(h) = &p.hint {
        message.push_str(&format!("\n{h}"));
    }
    // Only a file on disk (not the built-in config): GitHub shows annotations on files.
    let file = p
        .file
        .as_deref()
        .filter(|f| f.exists())
        .map(|f| in_workspace(f, workspace));
    let command = if p.is_error() { "error" } else { "warning" };
    let line = p.line.filter(|_| file.is_some());
    github_annotation(command, file.as_deref(), line, &title, &message)
}

/// GitLab's collapsible section markers.
pub fn gitlab_section(start: bool, id: &str, title: &str) -> String {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    if start {
        format!("\x1b[0Ksection_start:{ts}:{id}[collapsed=true]\r\x1b[0K{title}")
    } else {
        format!("\x1b[0Ksection_end:{ts}:{id}\r\x1b[0K")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_in_text_are_made_inert() {
        let z = "\u{200b}";
        let text = b"ok\n::add-mask::x\n  ::error::y\na ::b\n##[group]z and ##[w\n";
        let out = String::from_utf8(inert_for_github(text).into_owned()).unwrap();
        assert_eq!(
            out,
            format!("ok\n:{z}:add-mask::x\n  :{z}:error::y\na ::b\n#{z}#[group]z and #{z}#[w\n")
        );
        assert!(matches!(
            inert_for_github(b"plain\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn github_escapes() {
        assert_eq!(
            github_error(Some(Path::new("a,b:c.yaml")), Some(3), "t", "50%\nnext"),
            "::error file=a%2Cb%3Ac.yaml,line=3,title=t::50%25%0Anext"
        );
    }
}
