//! Child output cut into complete lines as it arrives: what the masks see. A line
//! longer than `max_line` is written in pieces, holding back enough that a secret being
//! printed across a cut is still seen whole. Pure: the pump feeds it, the fuzzer too.

use crate::report::mask::Masker;

/// A line longer than this is written in pieces rather than held in memory.
pub const MAX_LINE: usize = 1024 * 1024;
/// How much of an over-long line is held back at least when the rest is written.
pub const CUT_KEEP: usize = 64 * 1024;

pub struct Lines {
    /// The start of a line whose end has not arrived yet.
    pending: Vec<u8>,
    max_line: usize,
    keep: usize,
}

impl Default for Lines {
    fn default() -> Self {
        Lines::with_limits(MAX_LINE, CUT_KEEP)
    }
}

impl Lines {
    pub fn with_limits(max_line: usize, keep: usize) -> Lines {
        Lines {
            pending: Vec::new(),
            max_line: max_line.max(2),
            keep: keep.max(1),
        }
    }

    /// Takes the next bytes read; `emit` gets complete lines (each ending in `\n`).
    pub fn push(&mut self, data: &[u8], masker: &Masker, emit: &mut dyn FnMut(&[u8])) {
        match data.iter().rposition(|&b| b == b'\n') {
            Some(last) if self.pending.is_empty() => {
                emit(&data[..=last]);
                self.pending.extend_from_slice(&data[last + 1..]);
            }
            Some(last) => {
                self.pending.extend_from_slice(&data[..=last]);
                emit(&self.pending);
                self.pending.clear();
                self.pending.extend_from_slice(&data[last + 1..]);
            }
            None => self.pending.extend_from_slice(data),
        }
        if self.pending.len() >= self.max_line {
            // Write most of the over-long line, but keep a tail at least as long as the
            // longest secret, and never cut inside a match; when no such cut exists
            // yet (a secret longer than the line limit), wait for more.
            let keep = self.keep.max(masker.longest_secret() + 1);
            if keep < self.pending.len() {
                let cut = masker.safe_cut(&self.pending, self.pending.len() - keep);
                if cut > 0 {
                    let mut piece = self.pending[..cut].to_vec();
                    piece.push(b'\n');
                    emit(&piece);
                    self.pending.drain(..cut);
                }
            }
        }
    }

    /// The end of the output: what is left, as a last line.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.pending.is_empty() {
            self.pending.push(b'\n');
            emit(&self.pending);
            self.pending.clear();
        }
    }
}
