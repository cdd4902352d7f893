//! The report files: `--report` (JSON, versioned) and `--junit`, written at the end of
//! every run whatever its outcome, from the masked report.

use std::path::PathBuf;

use crate::report::event::{Event, Reporter, Tag};

pub struct ReportFiles {
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
}

impl Reporter for ReportFiles {
    fn on(&mut self, event: &Event, _step: Option<&Tag>) {
        let Event::RunFinished(report) = event else {
            return;
        };
        let json = || serde_json::to_string_pretty(report).unwrap_or_default() + "\n";
        let junit = || crate::report::junit::junit(report);
        let files: [(&Option<PathBuf>, &dyn Fn() -> String); 2] =
            [(&self.json, &json), (&self.junit, &junit)];
        for (path, text) in files {
            if let Some(path) = path
                && let Err(e) = crate::files::write_private(path, text().as_bytes())
            {
                // The console may be gone by now; stderr is the last resort.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: cannot write {}: {e}",
                    path.display()
                );
            }
        }
    }
}
