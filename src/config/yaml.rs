//! YAML documents with line numbers.
//!
//! Every error about a config value must name its line, and `deployments` must keep its
//! file order.
//! This module builds a small tree from yaml-rust2's event stream that keeps both.
//! It also bounds what hostile input can cost: nesting depth, node count (alias
//! expansion, the "billion laughs") and file size.

use std::path::{Path, PathBuf};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Largest config file we read; far above any real config, far below memory trouble.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
const MAX_DEPTH: usize = 64;
const MAX_NODES: usize = 1_000_000;
/// Text after aliases are expanded: an alias bomb of long strings stays small in nodes.
const MAX_EXPANDED_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: usize,
    /// The line of the key this node is the value of (0 outside a map): a map value's own
    /// `line` is where its first entry is, often the line after its key.
    pub key_line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn new(value: Value, line: usize) -> Node {
        Node {
            value,
            line,
            key_line: 0,
        }
    }

    /// The line of this node's key when it has one, else its own line.
    pub fn key_line(&self) -> usize {
        if self.key_line > 0 {
            self.key_line
        } else {
            self.line
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a path of map keys; a `null` value counts as absent.
    pub fn get_path(&self, path: &[String]) -> Option<&Node> {
        let mut node = self;
        for key in path {
            node = node.get(key)?;
        }
        (!node.is_null()).then_some(node)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The scalar as text, the way a shell variable would carry it.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.clone()),
            Value::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// A short name of the node's kind for error messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// Short rendering of a value for messages: scalars as written, collections by kind.
    pub fn describe(&self) -> String {
        match self.scalar_text() {
            Some(text) => format!("{} `{}`", self.kind(), text),
            None => self.kind().to_string(),
        }
    }
}

/// A parsed file: its path (for messages) and its root node.
#[derive(Debug, Clone)]
pub struct Doc {
    pub path: PathBuf,
    pub root: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: Option<usize>,
    pub message: String,
}

impl YamlError {
    /// The error as a problem of the file it came from.
    pub fn at(self, path: &Path) -> crate::error::Problem {
        crate::error::Problem::error(self.message)
            .file(path)
            .line(self.line)
    }
}

/// Reads and parses a file, refusing files that are too large, binary or not UTF-8.
pub fn load_file(path: &Path) -> Result<Node, YamlError> {
    let plain = |message: String| YamlError {
        line: None,
        message,
    };
    let bytes = crate::files::read_limited(path, MAX_FILE_BYTES).map_err(|e| {
        plain(match e.kind() {
            std::io::ErrorKind::InvalidData => e.to_string(),
            _ => format!("cannot read it: {e}"),
        })
    })?;
    parse_cached(bytes)
}

/// `parse_bytes`, remembered by content: a run reads the same plugin schema and the same
/// small tool configs again for every step (and again when each step is re-resolved),
/// and parsing is a pure function of the bytes.
fn parse_cached(bytes: Vec<u8>) -> Result<Node, YamlError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    /// Files larger than this are parsed each time; at most this many are remembered.
    const MAX_CACHED_BYTES: usize = 64 * 1024;
    const MAX_ENTRIES: usize = 512;
    type Parsed = Result<Node, YamlError>;
    static CACHE: OnceLock<Mutex<HashMap<Vec<u8>, Parsed>>> = OnceLock::new();
    if bytes.len() > MAX_CACHED_BYTES {
        return parse_bytes(bytes);
    }
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = cache.lock().ok().and_then(|c| c.get(&bytes).cloned()) {
        return found;
    }
    let parsed = parse_bytes(bytes.clone());
    if let Ok(mut c) = cache.lock()
        && c.len() < MAX_ENTRIES
    {
        c.insert(bytes, parsed.clone());
    }
    parsed
}

/// Parses file content, refusing binary data and text that is not UTF-8.
pub fn parse_bytes(bytes: Vec<u8>) -> Result<Node, YamlError> {
    let plain = |message: String| YamlError {
        line: None,
        message,
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(plain(format!(
            "it is {} bytes; config files over {} bytes are refused",
            bytes.len(),
            MAX_FILE_BYTES
        )));
    }
    if bytes.contains(&0) {
        return Err(plain(
            "it is a binary file, not YAML text (it contains NUL bytes)".into(),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        plain(format!(
            "it is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<Node, YamlError> {
    // A byte-order mark is not content (PyYAML drops it too).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    // Every document, so that a second one is an error rather than ignored.
    if let Err(e) = parser.load(&mut builder, true) {
        let mut line = e.marker().line();
        let message = if e.info().contains("recursion limit") {
            format!("nesting deeper than {MAX_DEPTH} levels (the YAML parser's recursion limit)")
        } else if let Some((open_line, bracket)) = unclosed_flow(text).filter(|(l, _)| *l <= line) {
            // The parser notices a missing `]`/`}` only lines later: point at the opening.
            line = open_line;
            format!(
                "invalid YAML: this `{bracket}` is never closed (the parser noticed at line {}: {})",
                e.marker().line(),
                e.info()
            )
        } else {
            format!("invalid YAML: {}", e.info())
        };
        return Err(YamlError {
            line: Some(line),
            message,
        });
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root.unwrap_or(Node::new(Value::Null, 1)))
}

/// The first flow bracket (`[` or `{`) that is never closed: its line and itself.
/// Quotes and comments are skipped; block scalars are not understood (used only to
/// explain a parse error, never to accept or refuse a file).
fn unclosed_flow(text: &str) -> Option<(usize, char)> {
    let mut stack: Vec<(usize, char)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '#') if prev.is_whitespace() => break,
                (None, '\'' | '"') => quote = Some(c),
                (None, '[' | '{') => stack.push((i + 1, c)),
                (None, ']' | '}') => {
                    stack.pop();
                }
                _ => {}
            }
            prev = c;
        }
    }
    stack.first().copied()
}

enum Frame {
    Seq {
        anchor: usize,
        line: usize,
        items: Vec<Node>,
    },
    Map {
        anchor: usize,
        line: usize,
        entries: Vec<(String, Node)>,
        key: Option<(String, usize)>,
        /// The keys so far, once the map is large enough that scanning `entries` for a
        /// duplicate would make a thousand-key map quadratic.
        seen: Option<std::collections::HashSet<String>>,
    },
}

/// Maps with more keys than this find duplicates through a set.
const SCAN_KEYS: usize = 16;

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    /// Bytes of text, aliases expanded.
    bytes: usize,
    documents: usize,
    error: Option<YamlError>,
}

impl Builder {
    fn fail(&mut self, line: usize, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line: Some(line),
                message,
            });
        }
    }

    fn count(&mut self, (n, bytes): (usize, usize), line: usize) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.nodes > MAX_NODES {
            self.fail(
                line,
                format!("the document expands to more than {MAX_NODES} values (alias bomb?)"),
            );
            return false;
        }
        if self.bytes > MAX_EXPANDED_BYTES {
            self.fail(
                line,
                format!(
                    "the document expands to more than {} MiB of text (alias bomb?)",
                    MAX_EXPANDED_BYTES / 1024 / 1024
                ),
            );
            return false;
        }
        true
    }

    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, key, seen, ..
            }) => match key.take() {
                None => {
                    let line = node.line;
                    match node.scalar_text() {
                        Some(k) => {
                            let duplicate = match seen {
                                Some(set) => !set.insert(k.clone()),
                                None => entries.iter().any(|(existing, _)| *existing == k),
                            };
                            if duplicate {
                                self.fail(line, format!("duplicate key `{k}`"));
                            } else {
                                if seen.is_none() && entries.len() >= SCAN_KEYS {
                                    let keys = entries.iter().map(|(e, _)| e.clone());
                                    *seen = Some(keys.chain([k.clone()]).collect());
                                }
                                *key = Some((k, line));
                            }
                        }
                        None if node.is_null() => *key = Some((String::new(), line)),
                        None => self.fail(line, "map keys must be plain text".into()),
                    }
                }
                Some((k, key_line)) => entries.push((k, Node { key_line, ..node })),
            },
        }
    }
}

/// Values and bytes of text in a node.
fn node_size(node: &Node) -> (usize, usize) {
    let add = |(a, b): (usize, usize), (c, d): (usize, usize)| (a + c, b + d);
    match &node.value {
        Value::Seq(items) => items.iter().map(node_size).fold((1, 0), add),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| add((0, k.len()), node_size(v)))
            .fold((1, 0), add),
        Value::Str(s) | Value::Float(s) => (1, s.len()),
        _ => (1, 8),
    }
}

/// `<<: *base` (YAML 1.1 merge keys, as PyYAML reads them): the merged maps' keys come
/// first, and a key written in the map itself wins.
fn merge_keys(entries: Vec<(String, Node)>) -> Result<Vec<(String, Node)>, String> {
    if !entries.iter().any(|(k, _)| k == "<<") {
        return Ok(entries);
    }
    let mut merged: Vec<(String, Node)> = Vec::new();
    let mut own: Vec<(String, Node)> = Vec::new();
    for (k, v) in entries {
        if k != "<<" {
            own.push((k, v));
            continue;
        }
        let maps = match v.value {
            Value::Map(m) => vec![m],
            Value::Seq(items) => items
                .into_iter()
                .map(|i| match i.value {
                    Value::Map(m) => Ok(m),
                    _ => Err("`<<` merges maps; this list holds something else".to_string()),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("`<<` merges a map or a list of maps (`<<: *base`)".into()),
        };
        for map in maps {
            for (mk, mv) in map {
                if !merged.iter().any(|(k, _)| *k == mk) {
                    merged.push((mk, mv));
                }
            }
        }
    }
    merged.retain(|(k, _)| !own.iter().any(|(o, _)| o == k));
    merged.extend(own);
    Ok(merged)
}

fn resolve_plain(text: &str) -> Value {
    use yaml_rust2::Yaml;
    match Yaml::from_str(text) {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Int(i),
        Yaml::Real(r) => Value::Float(r),
        _ => Value::Str(text.to_string()),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line();
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(
                        line,
                        "a second YAML document (`---`): bitops reads one document per file".into(),
                    );
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if !self.count((1, text.len()), line) {
                    return;
                }
                if text.contains('\0') {
                    self.fail(
                        line,
                        "a value holds a NUL character (`\\0`), which no command line or variable can carry".into(),
                    );
                    return;
                }
                let value = match (&tag, style) {
                    (Some(t), _) if t.suffix == "str" => Value::Str(text),
                    (_, TScalarStyle::Plain) => resolve_plain(&text),
                    _ => Value::Str(text),
                };
                self.push_value(Node::new(value, line), anchor);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(line, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                if !self.count((1, 0), line) {
                    return;
                }
                self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        anchor,
                        line,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        anchor,
                        line,
                        entries: Vec::new(),
                        key: None,
                        seen: None,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        anchor,
                        line,
                        items,
                    }) => (Node::new(Value::Seq(items), line), anchor),
                    Some(Frame::Map {
                        anchor,
                        line,
                        entries,
                        ..
                    }) => match merge_keys(entries) {
                        Ok(entries) => (Node::new(Value::Map(entries), line), anchor),
                        Err(why) => {
                            self.fail(line, why);
                            return;
                        }
                    },
                    None => return,
                };
                self.push_value(node, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => {
                    if self.count(node_size(&node), line) {
                        self.push_value(
                            Node {
                                line,
                                key_line: 0,
                                ..node
                            },
                            0,
                        );
                    }
                }
                None => self.fail(line, "alias to an unknown anchor".into()),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_lines_and_types() {
        let node = parse("b: 1\na:\n  x: 'true'\n  y: true\n  z: [1, two]\n").unwrap();
        let keys: Vec<_> = node.entries().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
        let a = node.get("a").unwrap();
        assert_eq!(a.line, 3);
        assert_eq!(a.get("x").unwrap().value, Value::Str("true".into()));
        assert_eq!(a.get("y").unwrap().value, Value::Bool(true));
        assert_eq!(a.get("y").unwrap().line, 4);
        assert_eq!(node.get("b").unwrap().value, Value::Int(1));
    }

    #[test]
    fn reports_syntax_error_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line.is_some());
        assert!(err.message.starts_with("invalid YAML"));
    }

    #[test]
    fn refuses_duplicate_keys_in_large_maps() {
        // Past SCAN_KEYS keys, duplicates are found through a set: before, at and after
        // the key that starts it, and in nested maps, with the duplicate's line.
        for (count, dup_of) in [
            (SCAN_KEYS - 1, 0),
            (SCAN_KEYS, 0),
            (SCAN_KEYS + 1, SCAN_KEYS),
            (40, 39),
            (40, 3),
        ] {
            let mut text: String = (0..count).map(|i| format!("k{i}: {i}\n")).collect();
            let ok = parse(&text).unwrap();
            assert_eq!(ok.entries().len(), count);
            text.push_str(&format!("k{dup_of}: again\n"));
            let err = parse(&text).unwrap_err();
            assert!(
                err.message.contains(&format!("duplicate key `k{dup_of}`")),
                "{count}: {}",
                err.message
            );
            assert_eq!(err.line, Some(count + 1));
            let nested = format!(
                "top:\n{}",
                text.lines().map(|l| format!("  {l}\n")).collect::<String>()
            );
            assert!(
                parse(&nested)
                    .unwrap_err()
                    .message
                    .contains("duplicate key")
            );
        }
    }

    #[test]
    fn refuses_duplicate_keys() {
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("duplicate key `a`"));
    }

    #[test]
    fn refuses_alias_bomb() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{}", err.message);
    }

    #[test]
    fn refuses_deep_nesting() {
        let text = "[".repeat(200) + &"]".repeat(200);
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("nesting"), "{}", err.message);
    }

    #[test]
    fn empty_document_is_null() {
        assert!(parse("").unwrap().is_null());
        assert!(parse("# only a comment\n").unwrap().is_null());
    }

    #[test]
    fn a_file_read_again_is_parsed_as_it_is_now() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "a: 1\n").unwrap();
        let first = load_file(&path).unwrap();
        assert_eq!(first, load_file(&path).unwrap());
        std::fs::write(&path, "a: 2\n").unwrap();
        let changed = load_file(&path).unwrap();
        assert_eq!(
            changed.get("a").and_then(Node::scalar_text).as_deref(),
            Some("2")
        );
        std::fs::write(&path, "a: [\n").unwrap();
        assert!(load_file(&path).is_err());
        assert!(
            load_file(&path).is_err(),
            "an error is remembered as an error"
        );
    }
}
