//! The console: events rendered as text or JSON lines, written by the terminal thread.

use std::sync::Arc;

use crate::report::event::{Event, Reporter};
use crate::report::render::Render;
use crate::report::terminal::Terminal;

pub struct Console<R: Render> {
    pub render: R,
    pub terminal: Arc<Terminal>,
}

impl<R: Render> Reporter for Console<R> {
    fn on(&mut self, event: &Event) {
        let terminal = &self.terminal;
        self.render.render(event, &mut |stream, bytes| {
            terminal.write(stream, bytes.to_vec())
        });
    }
}
