//! The console: events rendered as text or JSON lines, written by the terminal thread.

use std::sync::Arc;

use crate::report::event::{Event, Reporter, Tag};
use crate::report::render::Render;
use crate::report::terminal::Terminal;

pub struct Console<R: Render> {
    pub render: R,
    pub terminal: Arc<Terminal>,
}

impl<R: Render> Reporter for Console<R> {
    fn on(&mut self, event: &Event, step: Option<&Tag>) {
        let terminal = &self.terminal;
        let index = step.map(|t| t.index);
        self.render.render(event, step, &mut |stream, bytes| {
            terminal.write_in(index, stream, bytes.to_vec())
        });
    }
}
