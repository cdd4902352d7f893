//! The masker against the simplest masker there is, kept here as the oracle: every line
//! on its own, every rule in order with the `regex` crate's `replace_all`, then the
//! secret values. Random rules (anchors, word boundaries, groups, rules whose
//! replacement another rule matches, rules that match across lines or match nothing,
//! patterns beyond ASCII), random secrets and random text (ASCII and not, `\r`, invalid
//! UTF-8), fed in random reads through the line splitter as a step's output is: the
//! output must be byte-identical.

use bitops::config::settings::{EnvVars, SECRET_MASK};
use bitops::report::mask::Masker;
use regex::bytes::Regex;
use std::sync::Arc;

use crate::p3::{self, Rng};

/// Rules as a user writes them (BitOps' `\1` for a group), with their replacement.
const RULES: &[(&str, &str)] = &[
    (r"token=\w+", "***"),
    (r"(password): \S+", r"\1: ***"),
    (r"\b\d{1,3}(\.\d{1,3}){3}\b", "<ip>"),
    (r"^\s*x", "X"),
    (r"k$", "K"),
    (r"(?i)\u{212A}ey", "[kelvin]"),
    (r"en", "token=a"),
    (r"\*+", "#"),
    (r"[^a]+b", "B"),
    (r"\s+", " "),
    (r"x*", "-"),
    (r"\Ax", "A"),
    (r"é+", "e"),
    (r"[[:digit:]]{2}", "DD"),
    (r"secret_[a-z]+", "***"),
    (r"\bword\b", "W"),
    (r"(?i)AKIA[0-9A-Z]{4}", "$0"),
    (r"ab|abc|b", "_"),
    (r"\d+\.?", "N"),
    (r"[a-z]+_\d", "v"),
];

const SECRETS: &[&str] = &[
    "hunter22",
    "abc123",
    "s3cr\net!",
    "tok-1.2.3.4",
    "wordy word",
];

const FRAGMENTS: &[&[u8]] = &[
    b"token=",
    b"abc",
    b"123",
    b".",
    b" ",
    b"1.2.3.4",
    b"\t",
    b"*",
    "é".as_bytes(),
    "\u{212A}".as_bytes(),
    b"k",
    b"key",
    b"\r",
    b"password: ",
    b"x",
    b"_",
    b"-",
    b"AKIA",
    b"akia12Ab",
    b"secret_",
    b"secret_abc",
    b"7",
    b"\xff",
    b"\n",
    b"\n",
    b"\n",
    b"word",
    b"en",
    b"b",
    b"hunter22",
    b"abc123",
    b"s3cr",
    b"et!",
    b"tok-",
    b"10.0.0.1",
    b"wordy",
];

/// BitOps' replacement syntax for the `regex` crate: `\1` is `${1}`, `$` is literal.
fn replacement(text: &str) -> String {
    let group = Regex::new(r"\\(\d+)").unwrap();
    let text = text.replace('$', "$$");
    group
        .replace_all(text.as_bytes(), &b"$${${1}}"[..])
        .into_owned()
        .into_iter()
        .map(char::from)
        .collect()
}

/// The oracle: `text` masked line by line.
fn oracle(rules: &[(&str, &str)], secrets: &[&str], text: &[u8]) -> Vec<u8> {
    let compiled: Vec<(Regex, String)> = rules
        .iter()
        .map(|(s, r)| (Regex::new(s).unwrap(), replacement(r)))
        .collect();
    // Each secret whole, and each of its lines, longest first.
    let mut values: Vec<String> = Vec::new();
    for s in secrets {
        values.push(s.to_string());
        values.extend(
            s.split('\n')
                .filter(|l| l.len() >= 4 && l.len() < s.len())
                .map(String::from),
        );
    }
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    let secret = (!values.is_empty()).then(|| {
        let alternation: Vec<String> = values.iter().map(|v| regex::escape(v)).collect();
        Regex::new(&alternation.join("|")).unwrap()
    });
    let mut out = Vec::new();
    for line in text.split_inclusive(|&b| b == b'\n') {
        let mut body = line.strip_suffix(b"\n").unwrap_or(line).to_vec();
        for (re, rep) in &compiled {
            body = re.replace_all(&body, rep.as_bytes()).into_owned();
        }
        if let Some(re) = &secret {
            body = re.replace_all(&body, SECRET_MASK.as_bytes()).into_owned();
        }
        out.extend_from_slice(&body);
        out.push(b'\n');
    }
    out
}

/// `text` as a step's output: in reads of random sizes, through the line splitter and
/// the masker.
fn masked(masker: &Arc<Masker>, text: &[u8], rng: &mut Rng, max_read: usize) -> Vec<u8> {
    let mut reads = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let end = (at + 1 + rng.below(max_read)).min(text.len());
        reads.push(&text[at..end]);
        at = end;
    }
    let mut out = Vec::new();
    p3::mask_reads(masker, reads, &mut |masked| out.extend_from_slice(masked));
    out
}

#[test]
fn the_masker_masks_as_the_line_by_line_oracle_does() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for case in 0..3000 {
        let rules: Vec<(&str, &str)> = (0..rng.below(6))
            .map(|_| RULES[rng.below(RULES.len())])
            .collect();
        let secrets: Vec<&str> = (0..rng.below(3))
            .map(|_| SECRETS[rng.below(SECRETS.len())])
            .collect();
        // Mostly ASCII text, as real output is; a non-ASCII fragment in some cases.
        let ascii_only = rng.below(3) > 0;
        let mut text = Vec::new();
        for _ in 0..rng.below(400) {
            let f = FRAGMENTS[rng.below(FRAGMENTS.len())];
            if ascii_only && !f.is_ascii() {
                continue;
            }
            text.extend_from_slice(f);
        }
        let mut env = EnvVars::default();
        for (i, s) in secrets.iter().enumerate() {
            env.0.insert(format!("S{i}_SECRET"), s.to_string());
        }
        let masker = Arc::new(Masker::new(&p3::rules(&rules), &env, &[]));
        let expected = oracle(&rules, &secrets, &text);
        let got = masked(&masker, &text, &mut rng, 300);
        assert!(
            got == expected,
            "case {case}: rules {rules:?}, secrets {secrets:?}\ntext:     {:?}\nexpected: {:?}\ngot:      {:?}",
            String::from_utf8_lossy(&text),
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(&got)
        );
        // The whole text as one chunk, with and without the pre-check.
        if text.ends_with(b"\n") {
            for check in [true, false] {
                assert!(
                    masker.mask_chunk(&text, check).0.as_ref() == expected.as_slice(),
                    "case {case} (one chunk, check {check}): rules {rules:?}, secrets {secrets:?}\ntext: {:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }
}

/// The inputs of the P3 benchmark, where the fast searchers do all the work.
#[test]
fn p3_like_output_is_masked_as_the_oracle_does() {
    let rules: Vec<(&str, &str)> = p3::MASKS.iter().map(|m| (*m, "***")).collect();
    let mut words = p3::DENSE_WORDS.to_vec();
    words.extend([
        "AKIAABCDEFGHIJKLMNOP",
        "-----BEGIN RSA KEY-----",
        "xoxb-12-ab",
        "1.2.3.4.5",
        "v1.2.3.4",
    ]);
    let mut rng = Rng(7);
    let mut text = Vec::new();
    for _ in 0..20_000 {
        let n = [1, 3, 8, 20][rng.below(4)];
        let line: Vec<&str> = (0..n).map(|_| words[rng.below(words.len())]).collect();
        text.extend_from_slice(line.join(" ").as_bytes());
        text.push(b'\n');
    }
    let masker = Arc::new(Masker::new(&p3::rules(&rules), &EnvVars::default(), &[]));
    let expected = oracle(&rules, &[], &text);
    assert!(!expected.windows(12).any(|w| w == b"token=abc123"));
    // Small reads, and reads as large as a pipe's (their chunks masked in two halves).
    for max_read in [300, 64 * 1024] {
        let got = masked(&masker, &text, &mut rng, max_read);
        assert!(
            got == expected,
            "P3-like output masked differently (reads up to {max_read})"
        );
    }
}
