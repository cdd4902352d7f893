//! The masker alone, on the P3 inputs of `bench/run.py` generated in memory: 64 KiB reads
//! cut into lines and masked as a step's output is (`Lines` + `Masker::mask_lines`), with
//! no process, pipe or terminal. `cargo bench --bench mask`; prints MB/s per input.

use std::time::Instant;

use bitops::config::settings::{EnvVars, MaskRule};
use bitops::report::lines::Lines;
use bitops::report::mask::{MaskStream, Masker};

const SIZE: usize = 200 * 1024 * 1024;

/// The 10 masks of P3.
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

/// A small deterministic generator (xorshift), so no crate is needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// P3's output: lines of 1 to 60 words; dense, nearly every line holds something a mask
/// hides; sparse, one line in ~2000 does.
fn output(dense: bool) -> Vec<u8> {
    let words: &[&str] = if dense {
        &[
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
        ]
    } else {
        &[
            "deploy",
            "resource",
            "module.vpc",
            "ok",
            "changed",
            "aws_instance.web",
            "Plan:",
            "(known",
            "after",
            "apply)",
        ]
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(SIZE + 4096);
    while out.len() < SIZE {
        if !dense && rng.next().is_multiple_of(2000) {
            out.extend_from_slice(b"connecting with token=abc123\n");
            continue;
        }
        let n = *rng.pick(&[1, 3, 8, 20, 60]);
        for i in 0..n {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(rng.pick(words).as_bytes());
        }
        out.push(b'\n');
    }
    out
}

fn main() {
    let rules: Vec<MaskRule> = MASKS
        .iter()
        .map(|m| MaskRule {
            search: (*m).into(),
            replace: "***".into(),
        })
        .collect();
    let masker = std::sync::Arc::new(Masker::new(&rules, &EnvVars::default(), &[]));
    for dense in [true, false] {
        let data = output(dense);
        let mut best = f64::MAX;
        let mut written = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let mut lines = Lines::default();
            let stream = MaskStream::default();
            written = 0;
            for read in data.chunks(64 * 1024) {
                lines.push(read, &masker, &mut |chunk| {
                    written += stream.mask(&masker, chunk).len();
                });
            }
            lines.finish(&mut |chunk| written += stream.mask(&masker, chunk).len());
            best = best.min(start.elapsed().as_secs_f64());
        }
        let mb = data.len() as f64 / 1024.0 / 1024.0;
        println!(
            "{:6}: {:7.0} MB/s (best of 5; {} MB in, {} MB out)",
            if dense { "dense" } else { "sparse" },
            mb / best,
            data.len() >> 20,
            written >> 20
        );
    }
}
