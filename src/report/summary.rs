//! The end-of-run summary: the console table and the Markdown table for
//! `$GITHUB_STEP_SUMMARY`.

use crate::report::event::Tone;
use crate::report::model::{RunReport, Status};
use crate::report::time::secs;

/// The console summary: a title and one row per step, each with its tone.
pub fn summary(report: &RunReport) -> Vec<(Tone, String)> {
    let width = report
        .steps
        .iter()
        .map(|s| s.alias.len())
        .max()
        .unwrap_or(0)
        .max("deployment".len());
    let pwidth = report
        .steps
        .iter()
        .map(|s| s.plugin.len())
        .max()
        .unwrap_or(0)
        .max("plugin".len());
    let dry = if report.dry_run {
        " (dry run: plugins changed nothing, hooks were skipped unless --dry-run-hooks)"
    } else {
        ""
    };
    let mut lines = vec![
        (
            Tone::Plain,
            format!("Summary for environment `{}`{dry}:", report.environment),
        ),
        (
            Tone::Plain,
            format!(
                "  {:<3} {:<width$}  {:<pwidth$}  {:<8}  result",
                "#", "deployment", "plugin", "time"
            ),
        ),
    ];
    for s in &report.steps {
        let time = if s.status == Status::NotRun {
            "-".to_string()
        } else {
            secs(s.seconds)
        };
        let tone = match s.status {
            Status::Ok => Tone::Good,
            Status::Skipped { .. } | Status::NotRun => Tone::Warn,
            _ => Tone::Bad,
        };
        lines.push((
            tone,
            format!(
                "  {:<3} {:<width$}  {:<pwidth$}  {:<8}  {}",
                s.index,
                s.alias,
                s.plugin,
                time,
                s.status.describe()
            ),
        ));
    }
    lines.push(totals(report));
    lines
}

/// `3 ok, 1 failed, 1 skipped in 4m12s`: the counts that are not zero, and the run's time.
fn totals(report: &RunReport) -> (Tone, String) {
    let count = |f: &dyn Fn(&Status) -> bool| report.steps.iter().filter(|s| f(&s.status)).count();
    let ok = count(&|s| *s == Status::Ok);
    let cancelled = count(&|s| matches!(s, Status::Cancelled { .. }));
    let interrupted = count(&|s| matches!(s, Status::Interrupted { .. }));
    let failed = count(&|s| s.failed()) - cancelled - interrupted;
    let skipped = count(&|s| matches!(s, Status::Skipped { .. }));
    let not_run = count(&|s| *s == Status::NotRun);
    let parts: Vec<String> = [
        (ok, "ok"),
        (failed, "failed"),
        (interrupted, "interrupted"),
        (cancelled, "cancelled"),
        (skipped, "skipped"),
        (not_run, "not run"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let tone = if failed + interrupted > 0 {
        Tone::Bad
    } else {
        Tone::Good
    };
    (
        tone,
        format!("  {} in {}", parts.join(", "), secs(report.seconds)),
    )
}

/// Text in one cell of a Markdown table: one line, with Markdown's and HTML's punctuation
/// escaped, so a name or message from the repo cannot add rows, links, images or HTML to
/// the summary.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '!' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The Markdown table for `$GITHUB_STEP_SUMMARY`.
pub fn markdown(report: &RunReport) -> String {
    let icon = |s: &Status| match s {
        Status::Ok => "✅",
        Status::Skipped { .. } | Status::NotRun => "⏭️",
        _ => "❌",
    };
    let mut out = format!(
        "### bitops deploy `{}`{}\n\n| # | deployment | plugin | result | time |\n|---|---|---|---|---|\n",
        report.environment,
        if report.dry_run { " (dry run)" } else { "" }
    );
    for p in &report.problems {
        out.push_str(&format!(
            "| – | configuration | – | ❌ {} | – |\n",
            cell(&p.message)
        ));
    }
    let graph = report.steps.iter().any(|s| !s.needs.is_empty());
    for s in &report.steps {
        out.push_str(&format!(
            "| {} | {} | {} | {} {} | {} |\n",
            s.index,
            cell(&s.alias),
            cell(&s.plugin),
            icon(&s.status),
            cell(&s.status.describe()),
            if s.status == Status::NotRun {
                "–".into()
            } else {
                secs(s.seconds)
            }
        ));
    }
    // The order of a run with `depends_on`, which GitHub draws.
    if graph {
        out.push_str("\n```mermaid\nflowchart LR\n");
        for s in &report.steps {
            out.push_str(&format!(
                "  s{}[\"{} {}\"]\n",
                s.index,
                icon(&s.status),
                s.alias
            ));
        }
        for s in &report.steps {
            for need in &s.needs {
                if let Some(d) = report.steps.iter().find(|d| d.alias == *need) {
                    out.push_str(&format!("  s{} --> s{}\n", d.index, s.index));
                }
            }
        }
        out.push_str("```\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn a_cell_is_one_line_of_plain_text() {
        assert_eq!(
            cell("bad | value\n| 9 | injected | row |\n![x](https://e.example/p.png) <img src=x>"),
            "bad \\| value \\| 9 \\| injected \\| row \\| \\!\\[x\\](https://e.example/p.png) \\<img src=x\\>"
        );
        assert_eq!(cell("deploy script, exit 4"), "deploy script, exit 4");
    }
}
