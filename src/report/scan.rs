//! Masks found fast in ASCII output. For each mask rule: the places a match can start
//! (its literal prefixes, or the bytes a match can begin with), found with SIMD
//! searchers, and an anchored DFA run from each of them. One pass over a chunk tells
//! whether any rule can match at all: most output needs no masking.
//!
//! Only for ASCII text: there Unicode classes (`\w`, `\d`, `\s`, `\b`) mean what their
//! ASCII forms mean, so automata built without Unicode find exactly what the masks'
//! own regexes find. Pure.

use aho_corasick::AhoCorasick;
use aho_corasick::packed;
use memchr::memmem;
use regex_automata::dfa::{Automaton, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// At most this many prefixes per rule: more (a case-insensitive word, a large class)
/// and the rule is searched with its regex instead.
const MAX_PREFIXES: usize = 64;
/// Prefixes are cut to this many bytes.
const PREFIX_LEN: usize = 4;
/// A rule's DFA larger than this is not built; the rule is searched with its regex.
const DFA_LIMIT: usize = 1 << 20;

/// Where a rule's matches can start.
#[derive(Debug, Clone)]
enum Starts {
    /// One literal every match begins with.
    One(memmem::Finder<'static>),
    /// Several literals, two bytes or longer.
    Many(Searcher),
    /// The bytes a match can begin with.
    Bytes(ByteTable),
}

/// A set of bytes, as a table, and for a set of ASCII bytes as nibble tables too.
#[derive(Debug, Clone)]
struct ByteTable {
    set: Box<[bool; 256]>,
    nibbles: Option<Nibbles>,
}

impl ByteTable {
    fn new(set: [bool; 256]) -> ByteTable {
        let nibbles = set[128..].iter().all(|&b| !b).then(|| Nibbles::of(&set));
        ByteTable {
            set: Box::new(set),
            nibbles,
        }
    }

    /// The first position at or after `from` of a byte of the set.
    fn find(&self, hay: &[u8], from: usize) -> Option<usize> {
        let mut from = from;
        #[cfg(target_arch = "x86_64")]
        if let Some(nibbles) = &self.nibbles
            && std::arch::is_x86_feature_detected!("avx2")
        {
            // SAFETY: the CPU has AVX2 (checked just above).
            match unsafe { nibbles.find_avx2(hay, from) } {
                (Some(at), _) => return Some(at),
                (None, rest) => from = rest,
            }
        }
        hay[from..]
            .iter()
            .position(|&c| self.set[usize::from(c)])
            .map(|i| from + i)
    }
}

/// A set of ASCII bytes as two tables of 16, twice over (for the two 16-byte lanes of
/// a 32-byte register): the low nibble's entry has bit `h` when the byte with high
/// nibble `h` is in the set; the high nibble's entry is that bit (none from 8 up). A
/// byte is in the set when its two entries share a bit: two shuffles test 32 bytes.
#[derive(Debug, Clone)]
struct Nibbles {
    low: [u8; 32],
    high: [u8; 32],
}

impl Nibbles {
    fn of(set: &[bool; 256]) -> Nibbles {
        let mut low = [0u8; 32];
        let mut high = [0u8; 32];
        for h in 0..8 {
            high[h] = 1 << h;
            high[h + 16] = 1 << h;
            for l in 0..16 {
                if set[h << 4 | l] {
                    low[l] |= 1 << h;
                    low[l + 16] |= 1 << h;
                }
            }
        }
        Nibbles { low, high }
    }

    /// The first position at or after `from` of a byte of the set, looking at 32 bytes
    /// at a time; else `None` and where the bytes not looked at begin (fewer than 32).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn find_avx2(&self, hay: &[u8], from: usize) -> (Option<usize>, usize) {
        use std::arch::x86_64::*;
        // SAFETY: both tables are 32 bytes.
        let (low, high) = unsafe {
            (
                _mm256_loadu_si256(self.low.as_ptr().cast()),
                _mm256_loadu_si256(self.high.as_ptr().cast()),
            )
        };
        let nibble = _mm256_set1_epi8(0x0f);
        let mut at = from;
        while at + 32 <= hay.len() {
            // SAFETY: `at + 32 <= hay.len()`: the 32 bytes are within `hay`.
            let v = unsafe { _mm256_loadu_si256(hay.as_ptr().add(at).cast()) };
            let lo = _mm256_shuffle_epi8(low, _mm256_and_si256(v, nibble));
            let hi = _mm256_shuffle_epi8(high, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
            let none = _mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), _mm256_setzero_si256());
            let found = !(_mm256_movemask_epi8(none) as u32);
            if found != 0 {
                return (Some(at + found.trailing_zeros() as usize), at);
            }
            at += 32;
        }
        (None, at)
    }
}

/// Teddy (SIMD) when the CPU has it, else an Aho-Corasick automaton.
#[derive(Debug, Clone)]
enum Searcher {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Searcher {
    fn new(literals: &[Vec<u8>]) -> Option<Searcher> {
        let packed = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(literals)
            .build();
        match packed {
            Some(s) => Some(Searcher::Packed(s)),
            None => Searcher::automaton(literals),
        }
    }

    /// The automaton, leftmost-first: its default kind reports the match that ends
    /// first, which may start after another (`bc` before `abcd` in `abcd`), and a
    /// start passed over is a mask missed.
    fn automaton(literals: &[Vec<u8>]) -> Option<Searcher> {
        AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(literals)
            .ok()
            .map(Searcher::Automaton)
    }

    /// The first position at or after `from` where one of the literals starts.
    fn find(&self, hay: &[u8], from: usize) -> Option<usize> {
        match self {
            Searcher::Packed(s) => s.find_in(hay, aho_corasick::Span::from(from..hay.len())),
            Searcher::Automaton(a) => a.find(aho_corasick::Input::new(hay).range(from..)),
        }
        .map(|m| m.start())
    }
}

/// One rule, searchable in ASCII text.
#[derive(Debug, Clone)]
struct Rule {
    starts: Starts,
    /// Anchored, leftmost-first, `^`/`$` at each line.
    dfa: dense::DFA<Vec<u32>>,
    /// The DFA's start state after each byte (the look-behind of `\b`, `^`), and at the
    /// start of the text (index 256).
    start_after: Box<[StateID; 257]>,
    /// For a rule found by one literal: its length, and the DFA's state after it from
    /// each start state (as `start_after`). The searcher has seen the literal, so the
    /// DFA need not step through it. `None` when a match may end inside it.
    skip: Option<(usize, Box<[StateID; 257]>)>,
}

/// The state after `literal` from each of `starts` (the dead state where the byte
/// before rules a match out, as `^` or `\b` may); `None` when a match may end inside
/// the literal.
fn states_after(
    dfa: &dense::DFA<Vec<u32>>,
    starts: &[StateID; 257],
    literal: &[u8],
) -> Option<Box<[StateID; 257]>> {
    let mut after = Box::new(*starts);
    for sid in after.iter_mut() {
        for &byte in literal {
            *sid = dfa.next_state(*sid, byte);
            if dfa.is_match_state(*sid) || dfa.is_quit_state(*sid) {
                return None;
            }
            if dfa.is_dead_state(*sid) {
                break;
            }
        }
    }
    Some(after)
}

/// The fast searchers of a masker's rules.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Per rule, in the masker's order; `None` for a rule searched with its regex.
    rules: Vec<Option<Rule>>,
    /// Every literal prefix of every rule, for the one pass that finds out whether a
    /// chunk needs masking at all.
    any_literal: Option<Searcher>,
    /// Every one-byte start of every rule, for the same pass.
    any_byte: Option<ByteTable>,
}

/// Patterns read as ASCII-only syntax, `^`/`$` at each line.
fn ascii_syntax() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .multi_line(true)
}

/// What every match of a rule begins with.
struct Prefixes {
    /// The literal prefixes, cut to `PREFIX_LEN` bytes: each match begins with one.
    cut: Vec<Vec<u8>>,
    /// The longest literal every match begins with, when there is one.
    whole: Option<Vec<u8>>,
}

/// The literal prefixes every match of `pattern` (read as ASCII) begins with; `None`
/// when there is no short finite set of them or a match could be empty.
fn prefixes(pattern: &str) -> Option<Prefixes> {
    let hir = regex_automata::util::syntax::parse_with(pattern, &ascii_syntax()).ok()?;
    let mut seq = Extractor::new()
        .kind(ExtractKind::Prefix)
        .limit_class(64)
        .limit_total(MAX_PREFIXES)
        .extract(&hir);
    seq.dedup();
    // What every literal begins with (`token=` of `token=a` … `token=_`).
    let whole = seq
        .longest_common_prefix()
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec);
    // Four bytes tell starts apart well enough (the DFA checks each one), and keep the
    // sets small: a few literals for a SIMD searcher, not a class's every spelling.
    seq.keep_first_bytes(PREFIX_LEN);
    seq.dedup();
    let literals = seq.literals()?;
    if literals.is_empty() || literals.len() > MAX_PREFIXES || seq.min_literal_len()? == 0 {
        return None;
    }
    Some(Prefixes {
        cut: literals.iter().map(|l| l.as_bytes().to_vec()).collect(),
        whole,
    })
}

fn dfa(pattern: &str) -> Option<dense::DFA<Vec<u32>>> {
    dense::Builder::new()
        .configure(
            dense::Config::new()
                .start_kind(regex_automata::dfa::StartKind::Anchored)
                .match_kind(MatchKind::LeftmostFirst)
                .dfa_size_limit(Some(DFA_LIMIT))
                .determinize_size_limit(Some(2 * DFA_LIMIT)),
        )
        .syntax(ascii_syntax())
        .build(pattern)
        .ok()
}

fn rule(pattern: &str) -> Option<(Rule, Vec<Vec<u8>>)> {
    // A pattern that is not ASCII may mean more on ASCII text than its ASCII reading
    // does: `(?i)\u{212A}` (the Kelvin sign) matches `k`.
    if !pattern.is_ascii() || pattern.contains("\\x{") || pattern.contains("\\u") {
        return None;
    }
    let Prefixes {
        cut: literals,
        whole,
    } = prefixes(pattern)?;
    let dfa = dfa(pattern)?;
    let mut start_after = Box::new([StateID::ZERO; 257]);
    for (i, sid) in start_after.iter_mut().enumerate() {
        let behind = u8::try_from(i).ok();
        let config = start::Config::new()
            .anchored(Anchored::Yes)
            .look_behind(behind);
        *sid = dfa.start_state(&config).ok()?;
    }
    let mut skip = None;
    let starts = if literals.len() == 1 && literals[0].len() > 1 {
        // The whole literal is searched for, and the DFA goes on after it.
        let literal = whole
            .filter(|w| w.starts_with(&literals[0]))
            .unwrap_or_else(|| literals[0].clone());
        skip = states_after(&dfa, &start_after, &literal).map(|states| (literal.len(), states));
        Starts::One(memmem::Finder::new(&literal).into_owned())
    } else if literals.iter().all(|l| l.len() > 1) {
        Starts::Many(Searcher::new(&literals)?)
    } else {
        let mut bytes = [false; 256];
        for l in &literals {
            bytes[usize::from(l[0])] = true;
        }
        Starts::Bytes(ByteTable::new(bytes))
    };
    Some((
        Rule {
            starts,
            dfa,
            start_after,
            skip,
        },
        literals,
    ))
}

impl Scan {
    /// Searchers for `patterns`, the rules in the masker's order.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Scan {
        let mut rules = Vec::new();
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut any_byte: Option<[bool; 256]> = None;
        for pattern in patterns {
            let built = rule(pattern);
            if let Some((r, prefixes)) = &built {
                match &r.starts {
                    Starts::Bytes(b) => {
                        let all = any_byte.get_or_insert([false; 256]);
                        for (on, &this) in all.iter_mut().zip(b.set.iter()) {
                            *on |= this;
                        }
                    }
                    _ => literals.extend(prefixes.iter().cloned()),
                }
            }
            rules.push(built.map(|(r, _)| r));
        }
        literals.sort();
        literals.dedup();
        let any_literal = if literals.is_empty() {
            None
        } else {
            Searcher::new(&literals)
        };
        Scan {
            rules,
            any_literal,
            any_byte: any_byte.map(ByteTable::new),
        }
    }

    /// Whether rule `i` can be searched here (in ASCII text).
    pub fn has(&self, i: usize) -> bool {
        self.rules.get(i).is_some_and(Option::is_some)
    }

    /// Whether every rule can be searched here.
    pub fn complete(&self) -> bool {
        self.rules.iter().all(Option::is_some)
    }

    /// The first place in `ascii` where a match of some rule may start: no rule matches
    /// anything before it (when `complete()`).
    pub fn first_start(&self, ascii: &[u8]) -> Option<usize> {
        let literal = self.any_literal.as_ref().and_then(|s| s.find(ascii, 0));
        // Bytes are looked for only before the first literal.
        let before = literal.map_or(ascii, |at| &ascii[..at]);
        let byte = self.any_byte.as_ref().and_then(|b| b.find(before, 0));
        byte.or(literal)
    }

    /// The matches of rule `i` in `ascii`, as `find_iter` of its regex would give them
    /// (leftmost-first, not overlapping): calls `each(start, end)` for each, until it
    /// returns false.
    pub fn each_match(&self, i: usize, ascii: &[u8], each: &mut dyn FnMut(usize, usize) -> bool) {
        let Some(Some(rule)) = self.rules.get(i) else {
            return;
        };
        let mut at = 0;
        while at < ascii.len() {
            let Some(start) = rule.next_start(ascii, at) else {
                break;
            };
            match rule.match_at(ascii, start) {
                Some(end) => {
                    if !each(start, end) {
                        return;
                    }
                    // Matches are never empty: every one begins with a prefix.
                    at = end.max(start + 1);
                }
                None => at = start + 1,
            }
        }
    }
}

impl Rule {
    fn next_start(&self, hay: &[u8], from: usize) -> Option<usize> {
        match &self.starts {
            Starts::One(f) => f.find(&hay[from..]).map(|i| from + i),
            Starts::Many(s) => s.find(hay, from),
            Starts::Bytes(b) => b.find(hay, from),
        }
    }

    /// The end of the leftmost-first match starting at `start` (a place `next_start`
    /// gave), if there is one.
    fn match_at(&self, hay: &[u8], start: usize) -> Option<usize> {
        let dfa = &self.dfa;
        let behind = start.checked_sub(1).map_or(256, |p| usize::from(hay[p]));
        let (mut sid, from) = match &self.skip {
            Some((len, after)) => (after[behind], start + len),
            None => (self.start_after[behind], start),
        };
        let mut end = None;
        // A DFA reports a match one byte late: entering a match state on byte `at`
        // means a match ended just before it.
        for (at, &byte) in hay.iter().enumerate().skip(from) {
            sid = dfa.next_state(sid, byte);
            if dfa.is_special_state(sid) {
                if dfa.is_match_state(sid) {
                    end = Some(at);
                } else if dfa.is_dead_state(sid) || dfa.is_quit_state(sid) {
                    return end;
                }
            }
        }
        sid = dfa.next_eoi_state(sid);
        if dfa.is_match_state(sid) {
            end = Some(hay.len());
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, hay: &str) -> Vec<(usize, usize)> {
        let scan = Scan::new([pattern]);
        assert!(scan.has(0), "{pattern} has no fast search");
        let mut found = Vec::new();
        scan.each_match(0, hay.as_bytes(), &mut |s, e| {
            found.push((s, e));
            true
        });
        found
    }

    fn by_regex(pattern: &str, hay: &str) -> Vec<(usize, usize)> {
        regex::bytes::RegexBuilder::new(pattern)
            .multi_line(true)
            .build()
            .unwrap()
            .find_iter(hay.as_bytes())
            .map(|m| (m.start(), m.end()))
            .collect()
    }

    #[test]
    fn finds_what_the_regex_finds() {
        let hay = "a token=abc1 x1.2.3.4 10.0.0.1z 1.2.3.4\npassword: hunter2 token=\ntoken=x1 xtoken=y token=\nend$ ^start\npassword: p secret_abc aws_secret secret_ arn:aws:iam::123456789012:x arn:aws:iam::12";
        for pattern in [
            r"token=\w+",
            r"\b\d{1,3}(\.\d{1,3}){3}\b",
            r"password: \S+",
            r"(?i)TOKEN=\w*",
            r"^start|end$",
            r"^\w+",
            r"\w+$",
            r"x[0-9]\.|a t",
            r"^token=\w*",
            r"\btoken=\w+\b",
            r"(?m)^password: \S+$",
            r"1\.2\.3\.4",
            r"token=",
            r"secret_[a-z]+",
            r"arn:aws:iam::\d{12}",
        ] {
            assert_eq!(matches(pattern, hay), by_regex(pattern, hay), "{pattern}");
        }
    }

    #[test]
    fn rules_without_a_prefix_or_beyond_ascii_are_left_to_the_regex() {
        let scan = Scan::new([r"x*", r"\w+", r"(?i)\u{212A}ey", "é+", r"\p{Greek}+", "a"]);
        assert!(!scan.has(0), "a match may be empty");
        assert!(scan.has(1), r"\w starts with one of 63 bytes");
        assert!(!scan.has(2) && !scan.has(3) && !scan.has(4));
        assert!(scan.has(5));
        assert!(!scan.complete());
    }

    #[test]
    fn byte_tables_find_the_first_byte_of_their_set() {
        let mut set = [false; 256];
        for b in b"0123456789-~" {
            set[usize::from(*b)] = true;
        }
        let table = ByteTable::new(set);
        assert!(
            table.nibbles.is_some(),
            "an ASCII set is searched 32 bytes at a time"
        );
        // Every byte value, in lengths around the 32-byte steps, from every start.
        let hay: Vec<u8> = (0..300u32).map(|i| (i * 97 % 256) as u8).collect();
        for len in [0, 1, 31, 32, 33, 64, 65, 200, 300] {
            for from in 0..len {
                let hay = &hay[..len];
                let expected = hay[from..]
                    .iter()
                    .position(|&c| set[usize::from(c)])
                    .map(|i| from + i);
                assert_eq!(table.find(hay, from), expected, "len {len}, from {from}");
            }
        }
        // A set with a byte beyond ASCII is searched byte by byte.
        set[0xe9] = true;
        let table = ByteTable::new(set);
        assert!(table.nibbles.is_none());
        assert_eq!(table.find("caf\u{e9}".as_bytes(), 0), None);
        assert_eq!(table.find(b"x\xe9", 0), Some(1));
    }

    #[test]
    fn the_automaton_finds_the_leftmost_start() {
        // Used where Teddy cannot be (no SIMD, too many literals).
        let literals = [b"abcd".to_vec(), b"bc".to_vec()];
        let s = Searcher::automaton(&literals).unwrap();
        assert_eq!(s.find(b"xabcd", 0), Some(1));
        assert_eq!(s.find(b"xabcd", 2), Some(2));
        assert_eq!(s.find(b"xabce", 0), Some(2));
    }

    #[test]
    fn first_start_sees_literals_and_start_bytes() {
        let scan = Scan::new([r"token=\w+", r"\b\d+\b"]);
        assert!(scan.complete());
        assert_eq!(scan.first_start(b"nothing to hide here\n"), None);
        assert_eq!(scan.first_start(b"the token=x\n"), Some(4));
        assert_eq!(scan.first_start(b"port 8080\n"), Some(5));
    }
}
