//! What the masker's benchmark (`benches/mask.rs`) and its tests (`tests/masking.rs`)
//! share: P3's masks and words, a small random generator, and output fed through the
//! masker as a step's output is.

use std::sync::Arc;

use bitops::config::settings::MaskRule;
use bitops::report::lines::Lines;
use bitops::report::mask::{MaskStream, Masker};

/// The 10 masks of P3 (`bench/run.py`).
pub const MASKS: [&str; 10] = [
    r"token=\w+",
    r"password: \S+",
    r"AKIA[0-9A-Z]{16}",
    r"arn:aws:iam::\d{12}",
    r"\b\d{1,3}(\.\d{1,3}){3}\b",
    r"secret_[a-z]+",
    r"ghp_[A-Za-z0-9]{36}",
    r"xox[bp]-[0-9A-Za-z-]+",
    r"-----BEGIN [A-Z ]+-----",
    r"sk_live_[0-9a-zA-Z]{24}",
];

/// The words of P3's dense output: nearly every line holds one that a mask hides.
pub const DENSE_WORDS: [&str; 10] = [
    "deploy",
    "token=abc123",
    "aws_secret",
    "resource",
    "module.vpc",
    "ok",
    "changed",
    "password: x",
    "10.0.0.1",
    "arn:aws:iam::123456789012:role/x",
];

/// Mask rules as a config gives them: (search, replace).
pub fn rules(pairs: &[(&str, &str)]) -> Vec<MaskRule> {
    pairs
        .iter()
        .map(|(search, replace)| MaskRule {
            search: search.to_string(),
            replace: replace.to_string(),
        })
        .collect()
}

/// A small deterministic generator (xorshift), so no crate is needed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `reads` as a step's output: through the line splitter and a mask stream; `emit` gets
/// what would be written.
pub fn mask_reads<'a>(
    masker: &Arc<Masker>,
    reads: impl IntoIterator<Item = &'a [u8]>,
    emit: &mut dyn FnMut(&[u8]),
) {
    let mut lines = Lines::default();
    let stream = MaskStream::default();
    for read in reads {
        lines.push(read, masker, &mut |chunk| emit(&stream.mask(masker, chunk)));
    }
    lines.finish(&mut |chunk| emit(&stream.mask(masker, chunk)));
}
