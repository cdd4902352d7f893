//! The masker against chunked output: secrets come from the first line (separated by
//! `|`), then bytes that pick the read sizes, then the output. Output fed in those reads
//! through the line splitter (with small limits, so over-long lines are cut) must be
//! masked exactly as the whole output masked line by line, apart from the newlines a cut
//! inserts: no secret ever shows because of where a read or a cut fell.
#![no_main]

use bitops::config::settings::EnvVars;
use bitops::report::lines::Lines;
use bitops::report::mask::Masker;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (head, rest) = (&data[..nl], &data[nl + 1..]);
    let secrets: Vec<String> = String::from_utf8_lossy(head)
        .split('|')
        .filter(|s| !s.is_empty())
        .take(4)
        .map(String::from)
        .collect();
    let masker = Masker::with_values(&[], &EnvVars::default(), &[], &secrets);
    let (sizes, output) = rest.split_at(rest.len().min(8));
    // reference: every line masked on its own
    let mut reference = Vec::new();
    for line in output.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        reference.extend_from_slice(&masker.mask(body));
        reference.push(b'\n');
    }
    // chunked, as the pump does
    let mut lines = Lines::with_limits(48, 8);
    let mut chunked = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < output.len() {
        let size = 1 + sizes.get(i % sizes.len().max(1)).copied().unwrap_or(7) as usize % 64;
        let end = (at + size).min(output.len());
        lines.push(&output[at..end], &masker, &mut |c| {
            chunked.extend_from_slice(&masker.mask_lines(c))
        });
        at = end;
        i += 1;
    }
    lines.finish(&mut |c| chunked.extend_from_slice(&masker.mask_lines(c)));
    let strip = |v: &[u8]| -> Vec<u8> { v.iter().copied().filter(|&b| b != b'\n').collect() };
    assert_eq!(
        String::from_utf8_lossy(&strip(&chunked)),
        String::from_utf8_lossy(&strip(&reference)),
        "secrets {secrets:?}"
    );
});
