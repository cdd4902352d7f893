//! The log file (`logging.filename` under `logging.path`): what the console shows,
//! without colours, child output included. Opened by `deploy` only.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::report::event::{Event, Reporter, Tag};
use crate::report::render::Render;

pub struct LogFile<R: Render> {
    render: R,
    file: File,
}

impl<R: Render> LogFile<R> {
    /// Opens (appends to) the log file, owner-only; its folder is created.
    pub fn open(path: &Path, render: R) -> std::io::Result<LogFile<R>> {
        let file = crate::files::open_private(path, true)?;
        Ok(LogFile { render, file })
    }
}

impl<R: Render> Reporter for LogFile<R> {
    fn on(&mut self, event: &Event, step: Option<&Tag>) {
        let file = &mut self.file;
        self.render.render(event, step, &mut |_, bytes| {
            let _ = file.write_all(bytes);
        });
    }
}
