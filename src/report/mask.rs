//! Masks applied to every line bitops writes: the `logging.masks` regexes and the
//! values of secret variables. Pure.

use std::borrow::Cow;

use regex::bytes::{Regex, RegexSet};

use crate::config::settings::{EnvVars, MaskRule};
use crate::report::scan::Scan;

pub use crate::config::settings::SECRET_MASK;

/// Secret values shorter than this are not masked: masking `1` or `ab` would mangle output.
const MIN_SECRET_LEN: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// What the masker was built from, to extend it with more secrets.
    source_rules: Vec<MaskRule>,
    /// Secret values as bytes: a value that is not UTF-8 is masked all the same.
    secrets: Vec<Vec<u8>>,
    rules: Vec<(Regex, Vec<u8>)>,
    /// Cheap pre-check: most lines match no rule at all.
    any: Option<RegexSet>,
    /// The same for a chunk of many lines (`^`/`$` at each line); `None` when a rule is
    /// anchored to the whole text (`\A`, `\z`), where only a line-by-line check is exact.
    any_line: Option<RegexSet>,
    /// The rules in multi-line mode, to mask a chunk of lines in one pass per rule.
    chunk_rules: Vec<Regex>,
    /// The rules' fast searchers for ASCII chunks, built when output is first masked
    /// (a masker that never sees a step's output costs no DFA).
    scan: std::sync::OnceLock<Scan>,
    /// Whether each replacement is ASCII (so masking keeps ASCII text ASCII).
    ascii_replacements: Vec<bool>,
    /// The secrets, when they do not fit one regex (thousands of values, or a value of
    /// hundreds of KiB): searched as literals, line by line. Masking never fails open.
    overflow: Option<Overflow>,
}

/// Secret values searched as literals (longest match first).
#[derive(Debug, Clone)]
enum Overflow {
    Literals(aho_corasick::AhoCorasick),
    /// Not even the literal searcher could be built: every line is masked whole.
    Everything,
}

pub use crate::config::settings::is_secret_name;

/// The values of the secret-named variables among `vars` (a step's exports).
pub fn secret_values(vars: &[(String, String)], extra_names: &[String]) -> Vec<String> {
    vars.iter()
        .filter(|(k, _)| is_secret_name(k, extra_names))
        .map(|(_, v)| v.clone())
        .collect()
}

/// A literal pattern for any bytes (to be used with Unicode off): letters and digits as
/// they are, every other byte as `\xHH`.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// `\1` in a BitOps replacement means group 1; the regex crate writes it `${1}`.
fn replacement(text: &str) -> Vec<u8> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                out.push_str(&format!("${{{n}}}"));
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// `text` with the matches `each_match` reports (in order, not overlapping; `re`'s) replaced
/// by `rep`, its groups taken from `re`'s match there; `None` when a match spans a newline
/// (line-by-line masking would not have made it) or is empty (an empty match after the
/// last newline, or twice at a line's start, is not one line by line).
fn replace_within_lines<'a>(
    re: &Regex,
    rep: &[u8],
    text: &'a [u8],
    each_match: impl FnOnce(&mut dyn FnMut(usize, usize) -> bool),
) -> Option<Cow<'a, [u8]>> {
    let mut out = Vec::new();
    let mut last = 0;
    let mut within_lines = true;
    let groups = rep.contains(&b'$');
    each_match(&mut |start, end| {
        within_lines = start < end && memchr::memchr(b'\n', &text[start..end]).is_none();
        if !within_lines {
            return false;
        }
        out.extend_from_slice(&text[last..start]);
        if groups {
            // The same match, found again with its groups.
            match re.captures_at(text, start) {
                Some(caps) if caps.get(0).is_some_and(|m| m.range() == (start..end)) => {
                    caps.expand(rep, &mut out)
                }
                _ => within_lines = false,
            }
        } else {
            out.extend_from_slice(rep);
        }
        last = end;
        within_lines
    });
    if !within_lines {
        return None;
    }
    if last == 0 {
        return Some(Cow::Borrowed(text));
    }
    out.extend_from_slice(&text[last..]);
    Some(Cow::Owned(out))
}

impl Masker {
    /// Regex rules (already validated by settings) plus every secret value in `env`.
    pub fn new(rules: &[MaskRule], env: &EnvVars, secret_names: &[String]) -> Masker {
        Masker::with_values(rules, env, secret_names, &[])
    }

    /// As `new`, also masking `extra` values.
    pub fn with_values(
        rules: &[MaskRule],
        env: &EnvVars,
        secret_names: &[String],
        extra: &[String],
    ) -> Masker {
        use std::os::unix::ffi::OsStrExt;
        // The raw variables: values that are not UTF-8 are secrets too.
        let secrets: Vec<Vec<u8>> = env
            .1
            .iter()
            .filter(|(k, _)| k.to_str().is_some_and(|k| is_secret_name(k, secret_names)))
            .map(|(_, v)| v.as_bytes().to_vec())
            .chain(
                env.0
                    .iter()
                    .filter(|(k, _)| is_secret_name(k, secret_names))
                    .map(|(_, v)| v.as_bytes().to_vec()),
            )
            .chain(extra.iter().map(|v| v.as_bytes().to_vec()))
            .collect();
        Masker::build(rules.to_vec(), secrets)
    }

    /// The same masker, also masking `values` (secrets found while the run goes on).
    pub fn extended(&self, values: &[String]) -> Option<Masker> {
        let new: Vec<&String> = values
            .iter()
            .filter(|v| {
                v.len() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s == v.as_bytes())
            })
            .collect();
        if new.is_empty() {
            return None;
        }
        let mut secrets = self.secrets.clone();
        secrets.extend(new.into_iter().map(|v| v.as_bytes().to_vec()));
        Some(Masker::build(self.source_rules.clone(), secrets))
    }

    fn build(source_rules: Vec<MaskRule>, mut secrets: Vec<Vec<u8>>) -> Masker {
        let mut compiled: Vec<(Regex, Vec<u8>)> = source_rules
            .iter()
            .filter_map(|r| Some((Regex::new(&r.search).ok()?, replacement(&r.replace))))
            .collect();
        secrets.retain(|v| v.len() >= MIN_SECRET_LEN);
        secrets.sort();
        secrets.dedup();
        // Output is masked a line at a time: each line of a multi-line secret (a PEM
        // key, base64 wrapped at 76 columns, a value ending in a newline) is a secret of
        // its own, as well as the whole value.
        let mut patterns: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
        for secret in &secrets {
            patterns.extend(
                secret
                    .split(|&b| b == b'\n')
                    .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                    .filter(|l| l.len() >= MIN_SECRET_LEN && l.len() < secret.len()),
            );
        }
        // Longest first, so a secret containing another is masked whole.
        patterns.sort_by_key(|s| std::cmp::Reverse(s.len()));
        patterns.dedup();
        let mut overflow = None;
        let mut any = None;
        if !patterns.is_empty() {
            let alternation = patterns
                .iter()
                .map(|s| escape_bytes(s))
                .collect::<Vec<_>>()
                .join("|");
            if let Ok(re) = Regex::new(&format!("(?-u:{alternation})")) {
                compiled.push((re, SECRET_MASK.as_bytes().to_vec()));
                any = RegexSet::new(compiled.iter().map(|(r, _)| r.as_str())).ok();
                if any.is_none() {
                    compiled.pop();
                }
            }
            if any.is_none() {
                // Too many or too large for the regexes: searched as literals.
                overflow = Some(
                    aho_corasick::AhoCorasick::builder()
                        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                        .build(&patterns)
                        .map_or(Overflow::Everything, Overflow::Literals),
                );
            }
        }
        if any.is_none() {
            any = RegexSet::new(compiled.iter().map(|(r, _)| r.as_str())).ok();
        }
        let anchored = compiled
            .iter()
            .any(|(r, _)| r.as_str().contains("\\A") || r.as_str().contains("\\z"));
        let any_line = if anchored {
            None
        } else {
            regex::bytes::RegexSetBuilder::new(compiled.iter().map(|(r, _)| r.as_str()))
                .multi_line(true)
                .build()
                .ok()
        };
        let chunk_rules = if any_line.is_some() && overflow.is_none() {
            compiled
                .iter()
                .filter_map(|(r, _)| {
                    regex::bytes::RegexBuilder::new(r.as_str())
                        .multi_line(true)
                        .build()
                        .ok()
                })
                .collect()
        } else {
            Vec::new()
        };
        let ascii_replacements = compiled.iter().map(|(_, rep)| rep.is_ascii()).collect();
        Masker {
            source_rules,
            secrets,
            rules: compiled,
            any,
            any_line,
            chunk_rules,
            scan: std::sync::OnceLock::new(),
            ascii_replacements,
            overflow,
        }
    }

    /// Masks complete lines (each ending in a newline) as `mask` would line by line, in
    /// one pass per rule; falls back to line by line when a match would span lines.
    pub fn mask_lines<'a>(&self, chunk: &'a [u8]) -> Cow<'a, [u8]> {
        self.mask_chunk(chunk, true).0
    }

    /// `mask_lines`, also saying whether the chunk was dense with masks (masked in passes
    /// over the whole chunk rather than line by line). `check` first tests the whole
    /// chunk with one pass (outside the fast searchers' ASCII path), which pays off when
    /// most chunks need no masking and is wasted when most do.
    pub fn mask_chunk<'a>(&self, chunk: &'a [u8], check: bool) -> (Cow<'a, [u8]>, bool) {
        if self.rules.is_empty() && self.overflow.is_none() {
            return (Cow::Borrowed(chunk), false);
        }
        // ASCII text is searched with the fast searchers (see `scan`).
        let ascii = self.whole_chunks() && chunk.is_ascii();
        if ascii && self.scan().complete() {
            return self.mask_sparse(chunk);
        }
        if check && !self.may_match(chunk) {
            return (Cow::Borrowed(chunk), false);
        }
        let masked = self.mask_passes(chunk, ascii);
        let dense = matches!(masked, Cow::Owned(_));
        (masked, dense)
    }

    /// An ASCII chunk, every rule with a fast searcher: the lines where no match can
    /// start are kept as they are (no rule changes them), the others masked; once many
    /// lines needed masking, the rest of the chunk is masked in passes.
    fn mask_sparse<'a>(&self, chunk: &'a [u8]) -> (Cow<'a, [u8]>, bool) {
        /// Lines masked on their own before the rest of the chunk is masked in passes.
        const FEW: usize = 8;
        let mut out = Vec::new();
        // How much of the chunk `out` holds, masked; 0 while nothing was masked.
        let mut copied = 0;
        let mut at = 0;
        let mut lines = 0;
        let mut dense = false;
        while at < chunk.len() {
            let Some(hit) = self.scan().first_start(&chunk[at..]) else {
                break;
            };
            let hit = at + hit;
            let start = memchr::memrchr(b'\n', &chunk[at..hit]).map_or(at, |i| at + i + 1);
            lines += 1;
            dense = lines > FEW;
            let end = if dense {
                chunk.len()
            } else {
                memchr::memchr(b'\n', &chunk[hit..]).map_or(chunk.len(), |i| hit + i + 1)
            };
            if let Cow::Owned(masked) = self.mask_passes(&chunk[start..end], true) {
                if copied == 0 {
                    out.reserve(chunk.len() + 64);
                }
                out.extend_from_slice(&chunk[copied..start]);
                out.extend_from_slice(&masked);
                copied = end;
            }
            at = end;
        }
        if copied == 0 {
            return (Cow::Borrowed(chunk), dense);
        }
        out.extend_from_slice(&chunk[copied..]);
        (Cow::Owned(out), dense)
    }

    /// Every rule, one pass over the chunk each.
    fn mask_passes<'a>(&self, chunk: &'a [u8], mut ascii: bool) -> Cow<'a, [u8]> {
        if self.whole_chunks() {
            let mut text = Cow::Borrowed(chunk);
            let mut whole = true;
            for (i, (re, (_, rep))) in self.chunk_rules.iter().zip(&self.rules).enumerate() {
                let masked = if ascii && self.scan().has(i) {
                    replace_within_lines(re, rep, &text, |each| {
                        self.scan().each_match(i, &text, each);
                    })
                } else {
                    replace_within_lines(re, rep, &text, |each| {
                        for m in re.find_iter(&text) {
                            if !each(m.start(), m.end()) {
                                break;
                            }
                        }
                    })
                };
                match masked {
                    Some(Cow::Owned(new)) => {
                        text = Cow::Owned(new);
                        ascii &= self.ascii_replacements[i];
                    }
                    Some(Cow::Borrowed(_)) => {}
                    None => {
                        whole = false;
                        break;
                    }
                }
            }
            if whole {
                return text;
            }
        }
        let mut out = Vec::with_capacity(chunk.len() + 64);
        for line in chunk.split_inclusive(|&b| b == b'\n') {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            out.extend_from_slice(&self.mask(body));
            if line.len() > body.len() {
                out.push(b'\n');
            }
        }
        Cow::Owned(out)
    }

    /// Whether chunks can be masked in passes of the rules' multi-line forms: every rule
    /// has one, and no secret is left to the literal searcher (which goes line by line).
    fn whole_chunks(&self) -> bool {
        self.chunk_rules.len() == self.rules.len() && self.overflow.is_none()
    }

    /// The fast searchers (only used when every rule has a multi-line form).
    fn scan(&self) -> &Scan {
        self.scan
            .get_or_init(|| Scan::new(self.rules.iter().map(|(r, _)| r.as_str())))
    }

    /// Whether any line of `chunk` may need masking (never a wrong "no").
    fn may_match(&self, chunk: &[u8]) -> bool {
        if self.overflow.is_some() {
            return true;
        }
        if self.rules.is_empty() {
            return false;
        }
        match &self.any_line {
            Some(set) => set.is_match(chunk),
            None => true,
        }
    }

    pub fn mask<'a>(&self, line: &'a [u8]) -> Cow<'a, [u8]> {
        // Without the pre-check (the rules did not fit one set), every rule is tried.
        let hits = self.any.as_ref().map(|set| set.matches(line));
        let mut out = Cow::Borrowed(line);
        // Each rule over what the ones before it left, as in one pass per rule: a rule
        // that does not match the line is skipped until a replacement changed the line.
        for (i, (re, rep)) in self.rules.iter().enumerate() {
            if hits.as_ref().is_some_and(|h| !h.matched(i)) && matches!(out, Cow::Borrowed(_)) {
                continue;
            }
            if let Cow::Owned(new) = re.replace_all(&out, rep.as_slice()) {
                out = Cow::Owned(new);
            }
        }
        match &self.overflow {
            None => out,
            Some(Overflow::Literals(ac)) => {
                if ac.is_match(out.as_ref()) {
                    Cow::Owned(ac.replace_all_bytes(&out, &vec![SECRET_MASK; ac.patterns_len()]))
                } else {
                    out
                }
            }
            Some(Overflow::Everything) if line.is_empty() => out,
            Some(Overflow::Everything) => Cow::Owned(SECRET_MASK.as_bytes().to_vec()),
        }
    }

    /// The length of the longest secret value: output held back at a cut must be at
    /// least this long, so a secret printed across the cut is seen whole.
    pub fn longest_secret(&self) -> usize {
        self.secrets.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// A place at or before `cut` where `text` can be split without splitting a match
    /// (0 when a match starts at the very beginning and spans `cut`).
    pub fn safe_cut(&self, text: &[u8], mut cut: usize) -> usize {
        // Moving the cut back can put it inside an earlier match: again until stable.
        loop {
            let before = cut;
            let mut spans: Vec<(usize, usize)> = self
                .rules
                .iter()
                .flat_map(|(re, _)| re.find_iter(text).map(|m| (m.start(), m.end())))
                .collect();
            if let Some(Overflow::Literals(ac)) = &self.overflow {
                spans.extend(ac.find_iter(text).map(|m| (m.start(), m.end())));
            }
            for (start, end) in spans {
                if start < cut && cut < end {
                    cut = start;
                }
            }
            if cut == before {
                return cut;
            }
        }
    }

    pub fn mask_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.mask(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }
}

/// Masks a stream of output chunks: while chunks are dense with masks, the whole-chunk
/// pre-check (wasted then) is skipped, and a large chunk is masked in two halves on two
/// cores (lines are masked independently of each other; the halves are written in order).
#[derive(Debug, Default)]
pub struct MaskStream {
    masking: std::sync::atomic::AtomicBool,
    /// The thread masking second halves, started when output first keeps needing masks.
    helper: std::sync::Mutex<Option<Helper>>,
}

/// A chunk this large is split in two while output keeps needing masks.
const SPLIT_AT: usize = 32 * 1024;

type Job = (std::sync::Arc<Masker>, Vec<u8>);

/// A thread that masks the chunks it is sent, answering with each one masked and
/// whether anything was masked in it. It ends with the stream (its channel closes).
#[derive(Debug)]
struct Helper {
    to: std::sync::mpsc::Sender<Job>,
    from: std::sync::mpsc::Receiver<(Vec<u8>, bool, bool)>,
}

impl Helper {
    fn start() -> Option<Helper> {
        let (to, jobs) = std::sync::mpsc::channel::<Job>();
        let (done, from) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("bitops-mask".into())
            .spawn(move || {
                for (m, chunk) in jobs {
                    let answer = match m.mask_chunk(&chunk, false) {
                        (Cow::Owned(masked), dense) => (masked, true, dense),
                        (Cow::Borrowed(_), dense) => (chunk, false, dense),
                    };
                    if done.send(answer).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Helper { to, from })
    }
}

impl MaskStream {
    pub fn mask<'a>(&self, m: &std::sync::Arc<Masker>, chunk: &'a [u8]) -> Cow<'a, [u8]> {
        use std::sync::atomic::Ordering;
        let masking = self.masking.load(Ordering::Relaxed);
        let (masked, dense) = if masking && chunk.len() >= SPLIT_AT {
            self.mask_halves(m, chunk)
                .unwrap_or_else(|| m.mask_chunk(chunk, false))
        } else {
            m.mask_chunk(chunk, !masking)
        };
        self.masking.store(dense, Ordering::Relaxed);
        masked
    }

    /// `chunk` masked as two halves (cut after a newline), the second by the helper.
    fn mask_halves<'a>(
        &self,
        m: &std::sync::Arc<Masker>,
        chunk: &'a [u8],
    ) -> Option<(Cow<'a, [u8]>, bool)> {
        let half = chunk.len() / 2;
        let cut = half + memchr::memchr(b'\n', &chunk[half..])? + 1;
        if cut >= chunk.len() {
            return None;
        }
        let mut helper = self.helper.lock().ok()?;
        if helper.is_none() {
            *helper = Helper::start();
        }
        let h = helper.as_ref()?;
        h.to.send((m.clone(), chunk[cut..].to_vec())).ok()?;
        let (first, first_dense) = m.mask_chunk(&chunk[..cut], false);
        let (second, changed, second_dense) = h.from.recv().ok()?;
        let dense = first_dense || second_dense;
        if !changed && matches!(first, Cow::Borrowed(_)) {
            return Some((Cow::Borrowed(chunk), dense));
        }
        let mut out = first.into_owned();
        out.extend_from_slice(&second);
        Some((Cow::Owned(out), dense))
    }
}

/// Masking on values, before they are escaped into JSON, XML, shell words or text: a
/// secret holding `"`, `\\` or a newline is then seen whole, as it was given.
pub trait Mask {
    fn mask_with(&mut self, m: &Masker);
}

impl Mask for String {
    fn mask_with(&mut self, m: &Masker) {
        if let Cow::Owned(masked) = m.mask_str(self) {
            *self = masked;
        }
    }
}

impl Mask for std::path::PathBuf {
    fn mask_with(&mut self, m: &Masker) {
        let text = self.to_string_lossy();
        if let Cow::Owned(masked) = m.mask_str(&text) {
            *self = masked.into();
        }
    }
}

impl<T: Mask> Mask for Option<T> {
    fn mask_with(&mut self, m: &Masker) {
        if let Some(v) = self {
            v.mask_with(m);
        }
    }
}

impl<T: Mask> Mask for Vec<T> {
    fn mask_with(&mut self, m: &Masker) {
        for v in self {
            v.mask_with(m);
        }
    }
}

impl<A: Mask, B: Mask> Mask for (A, B) {
    fn mask_with(&mut self, m: &Masker) {
        self.0.mask_with(m);
        self.1.mask_with(m);
    }
}

impl Mask for serde_json::Value {
    fn mask_with(&mut self, m: &Masker) {
        use serde_json::Value;
        match self {
            Value::String(s) => s.mask_with(m),
            Value::Array(items) => items.mask_with(m),
            Value::Object(map) => {
                let masked: serde_json::Map<String, Value> = std::mem::take(map)
                    .into_iter()
                    .map(|(mut k, mut v)| {
                        k.mask_with(m);
                        v.mask_with(m);
                        (k, v)
                    })
                    .collect();
                *map = masked;
            }
            _ => {}
        }
    }
}

impl Mask for crate::error::Problem {
    fn mask_with(&mut self, m: &Masker) {
        self.message.mask_with(m);
        self.hint.mask_with(m);
        self.key.mask_with(m);
        self.file.mask_with(m);
    }
}

/// The masks of a run: the `logging.masks` regexes, the values of secret variables in
/// the environment, and the values of secret-named variables a step exports (a
/// schema's `export_env: API_TOKEN` whose value comes from a config file).
pub fn for_plan(ctx: &crate::plan::Context, plan: &crate::plan::Plan) -> Masker {
    let names = &ctx.settings.secret_env;
    let exported: Vec<String> = plan
        .steps
        .iter()
        .flat_map(|step| secret_values(&step.env, names))
        .collect();
    Masker::with_values(&ctx.settings.masks, &ctx.env, names, &exported)
}

/// A copy of `value` with every secret masked.
pub fn masked<T: Mask + Clone>(value: &T, m: &Masker) -> T {
    let mut copy = value.clone();
    copy.mask_with(m);
    copy
}

/// Serialisable data as pretty JSON, its strings masked before they are escaped.
pub fn json_pretty<T: serde::Serialize>(value: &T, m: &Masker) -> String {
    let mut json = serde_json::to_value(value).unwrap_or_default();
    json.mask_with(m);
    serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_rules_with_groups_and_secret_values() {
        let rules = vec![MaskRule {
            search: "(password)=\\S+".into(),
            replace: "\\1=***".into(),
        }];
        let mut env = EnvVars::default();
        env.0.insert("DB_PASSWORD".into(), "hunter22".into());
        env.0.insert("API_TOKEN".into(), "t0k".into()); // too short to mask
        env.0.insert("PLAIN".into(), "visible".into());
        let m = Masker::new(&rules, &env, &[]);
        assert_eq!(m.mask_str("login password=abc ok"), "login password=*** ok");
        assert_eq!(
            m.mask_str("x hunter22 y visible t0k"),
            "x ***** y visible t0k"
        );
        assert!(matches!(m.mask(b"nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn safe_cut_moves_before_a_match() {
        let mut env = EnvVars::default();
        env.0.insert("X_SECRET".into(), "hunter2".into());
        let m = Masker::new(&[], &env, &[]);
        assert_eq!(m.safe_cut(b"aaa hunter2 bbb", 7), 4);
        assert_eq!(m.safe_cut(b"aaa hunter2 bbb", 12), 12);
    }

    #[test]
    fn chunks_are_masked_as_lines_are() {
        let rules = vec![
            MaskRule {
                search: "(key)=\\w+".into(),
                replace: "\\1=***".into(),
            },
            MaskRule {
                search: "^start".into(),
                replace: "S".into(),
            },
            MaskRule {
                search: "end$".into(),
                replace: "E".into(),
            },
            MaskRule {
                search: "a\\s+b".into(),
                replace: "AB".into(),
            },
        ];
        let mut env = EnvVars::default();
        env.0.insert("X_TOKEN".into(), "tok-value".into());
        let m = Masker::new(&rules, &env, &[]);
        for chunk in [
            &b"start key=1 end\nno match\nmid start tok-value end x\n"[..],
            b"a\nb key=2\n",
            b"a  b\n",
            b"plain\nlines\n",
        ] {
            let by_line: Vec<u8> = chunk
                .split_inclusive(|&b| b == b'\n')
                .flat_map(|l| {
                    let mut v = m.mask(&l[..l.len() - 1]).into_owned();
                    v.push(b'\n');
                    v
                })
                .collect();
            assert_eq!(
                String::from_utf8_lossy(&m.mask_lines(chunk)),
                String::from_utf8_lossy(&by_line)
            );
        }
    }

    #[test]
    fn dollar_in_replacement_is_literal() {
        let rules = vec![MaskRule {
            search: "a".into(),
            replace: "$x".into(),
        }];
        let m = Masker::new(&rules, &EnvVars::default(), &[]);
        assert_eq!(m.mask_str("cat"), "c$xt");
    }

    /// Secrets too many or too large for one regex are masked all the same (the
    /// masker used to give up on every secret when their regex could not be compiled).
    #[test]
    fn secrets_beyond_what_one_regex_holds_are_masked() {
        let mut x: u64 = 11;
        let mut word = |n: usize| -> String {
            (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        [(x >> 33) as usize % 62] as char
                })
                .collect()
        };
        let many: Vec<String> = (0..6000).map(|_| word(48)).collect();
        let huge = vec![word(400_000)];
        let logging = vec![MaskRule {
            search: "user=\\w+".into(),
            replace: "user=***".into(),
        }];
        for (secrets, rules) in [(&many, &logging), (&huge, &Vec::new())] {
            let m = Masker::with_values(rules, &EnvVars::default(), &[], secrets);
            assert!(
                m.overflow.is_some(),
                "{} secrets fit the regexes: make them larger",
                secrets.len()
            );
            for secret in [&secrets[0], &secrets[secrets.len() - 1]] {
                let line = format!("user=bob got {secret} done");
                let expected = if rules.is_empty() {
                    format!("user=bob got {SECRET_MASK} done")
                } else {
                    format!("user=*** got {SECRET_MASK} done")
                };
                assert_eq!(m.mask_str(&line), expected);
                let chunk = format!("{line}\nplain\n");
                assert_eq!(
                    String::from_utf8_lossy(&m.mask_lines(chunk.as_bytes())),
                    format!("{expected}\nplain\n")
                );
                // A cut inside the secret moves before it.
                let at = line.find(secret.as_str()).unwrap();
                assert_eq!(m.safe_cut(line.as_bytes(), at + 10), at);
            }
        }
    }
}
