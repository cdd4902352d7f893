//! The masker alone, on the P3 inputs of `bench/run.py` generated in memory: 128 KiB reads
//! cut into lines and masked as a step's output is (`Lines` + `Masker::mask_lines`), with
//! no process, pipe or terminal. `cargo bench --bench mask`; prints MB/s per input, and
//! the same on one core (`Masker::mask_lines` on ~64 KiB chunks of whole lines, without
//! the helper thread that masks half of each large chunk).

use std::time::Instant;

use bitops::config::settings::EnvVars;
use bitops::report::mask::Masker;

#[path = "../tests/p3.rs"]
mod p3;
use p3::{DENSE_WORDS, MASKS, Rng};

const SIZE: usize = 200 * 1024 * 1024;

/// P3's output: lines of 1 to 60 words; dense, nearly every line holds something a mask
/// hides; sparse, one line in ~2000 does.
fn output(dense: bool) -> Vec<u8> {
    let words: &[&str] = if dense {
        &DENSE_WORDS
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
        let n = [1, 3, 8, 20, 60][rng.below(5)];
        for i in 0..n {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(words[rng.below(words.len())].as_bytes());
        }
        out.push(b'\n');
    }
    out
}

fn main() {
    let rules: Vec<(&str, &str)> = MASKS.iter().map(|m| (*m, "***")).collect();
    let masker = std::sync::Arc::new(Masker::new(&p3::rules(&rules), &EnvVars::default(), &[]));
    for dense in [true, false] {
        let data = output(dense);
        let mut best = f64::MAX;
        let mut written = 0;
        for _ in 0..5 {
            let start = Instant::now();
            written = 0;
            p3::mask_reads(&masker, data.chunks(128 * 1024), &mut |masked| {
                written += masked.len()
            });
            best = best.min(start.elapsed().as_secs_f64());
        }
        let mb = data.len() as f64 / 1024.0 / 1024.0;
        // One core: chunks of about 64 KiB of whole lines, masked one after another.
        let mut one = f64::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            let mut at = 0;
            let mut out = 0;
            while at < data.len() {
                let end = (at + 64 * 1024).min(data.len());
                let end = data[end..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(data.len(), |i| end + i + 1);
                out += masker.mask_lines(&data[at..end]).len();
                at = end;
            }
            std::hint::black_box(out);
            one = one.min(start.elapsed().as_secs_f64());
        }
        println!(
            "{:6}: {:7.0} MB/s (best of 5; {} MB in, {} MB out); on one core {:.0} MB/s (best of 3)",
            if dense { "dense" } else { "sparse" },
            mb / best,
            data.len() >> 20,
            written >> 20,
            mb / one
        );
    }
}
