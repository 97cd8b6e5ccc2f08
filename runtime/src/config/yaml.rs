//! YAML configs: parsing and flattening to Kafka Connect's dotted keys.
//!
//! This is the only place in Ferry that parses YAML. `serde_yaml` is archived upstream; a
//! maintained fork must be able to replace it here and nowhere else. Everything that touches
//! `serde_yaml` is in the "reading YAML" section below; the flattening works on the small
//! [`Node`] tree that section produces.
//!
//! Reading happens in up to three passes over the text, all through `serde_yaml`'s serde
//! interface, which gives no positions for successfully parsed nodes:
//!
//! 1. [`NodeSeed`] builds the [`Node`] tree (types, keys as written).
//! 2. [`RawSeed`] reads the raw text of numeric scalars, so that `1.10` stays `1.10` (not
//!    `1.1`) and `0x1F` stays `0x1F`: a number is passed on exactly as written.
//! 3. Only to report an error: [`LocateSeed`] walks to one node and fails there on purpose;
//!    `serde_yaml` attaches that node's line and column to the error.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::ConfigMap;
use super::error::{ConfigError, ConfigErrorKind, Location};

/// Parses a YAML config and flattens it to dotted keys (see the module docs of
/// [`config`](super) for the rules).
pub(super) fn parse(text: &str, origin: &str) -> Result<ConfigMap, ConfigError> {
    let mut root = read_tree(text).map_err(|e| yaml_error(origin, &e))?;
    if root.has_numbers() {
        read_raw_numbers(text, &mut root).map_err(|e| yaml_error(origin, &e))?;
    }
    flatten(&root).map_err(|problem| problem.into_error(text, origin))
}

// ---------------------------------------------------------------------------------------------
// The tree.

/// A YAML document as far as configs care. Map entries keep their order, so that an entry is
/// named by its index on the way down (see [`Target`]).
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    /// The number as written in the text (after pass 2; a normalised form before).
    Number(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    fn has_numbers(&self) -> bool {
        match self {
            Node::Number(_) => true,
            Node::Seq(items) => items.iter().any(Node::has_numbers),
            Node::Map(entries) => entries.iter().any(|(_, v)| v.has_numbers()),
            Node::Null | Node::Bool(_) | Node::Str(_) => false,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Number(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a map",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading YAML (all of serde_yaml's use is in this section).

fn read_tree(text: &str) -> Result<Node, serde_yaml::Error> {
    NodeSeed.deserialize(serde_yaml::Deserializer::from_str(text))
}

fn read_raw_numbers(text: &str, root: &mut Node) -> Result<(), serde_yaml::Error> {
    RawSeed(root).deserialize(serde_yaml::Deserializer::from_str(text))
}

/// The position of the node named by `target`, found by walking to it and failing there.
fn locate(text: &str, target: &Target) -> Option<Location> {
    let seed = LocateSeed {
        path: &target.path,
        key: target.key,
    };
    match seed.deserialize(serde_yaml::Deserializer::from_str(text)) {
        // The message may have the path in front: "a.b: ferry: located".
        Err(e) if e.to_string().contains(LOCATE_MARK) => e.location().map(|l| Location {
            line: l.line(),
            column: l.column(),
        }),
        _ => None,
    }
}

/// Turns a `serde_yaml` error into a [`ConfigError`], moving the position out of the message
/// into the error's location.
fn yaml_error(origin: &str, e: &serde_yaml::Error) -> ConfigError {
    let location = e.location().map(|l| Location {
        line: l.line(),
        column: l.column(),
    });
    let message = e.to_string();
    // serde_yaml puts the path in front of our own messages ("a.b: YAML tags ...").
    let message = if message.contains(TAGS_MESSAGE) {
        TAGS_MESSAGE.to_owned()
    } else {
        strip_positions(&message)
    };
    ConfigError::new(Some(origin), ConfigErrorKind::Syntax(message)).at(location)
}

/// Removes `serde_yaml`'s " at line N column M" and " at position N" from a message (the
/// position is reported once, in front).
fn strip_positions(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    loop {
        let Some(i) = rest.find(" at ") else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let after = &rest[i + " at ".len()..];
        if let Some(tail) = skip_position(after) {
            rest = tail;
        } else {
            out.push_str(" at ");
            rest = after;
        }
    }
}

/// If `s` starts with "line N column M" or "position N", returns what follows.
fn skip_position(s: &str) -> Option<&str> {
    fn number(s: &str) -> Option<&str> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        (end > 0).then(|| &s[end..])
    }
    if let Some(s) = s.strip_prefix("line ") {
        number(s)?.strip_prefix(" column ").and_then(number)
    } else {
        s.strip_prefix("position ").and_then(number)
    }
}

/// Pass 1: builds a [`Node`].
struct NodeSeed;

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.to_string()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Number(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Number(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Number(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NodeSeed)? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(NodeSeed)?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Node, A::Error> {
        Err(de::Error::custom(TAGS_MESSAGE))
    }
}

const TAGS_MESSAGE: &str = "YAML tags such as `!name` are not supported in configs";

/// A map key, as written (`1`, `true` and `~` are the keys "1", "true" and "~").
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(RawStrVisitor("a scalar key"))
    }
}

/// Takes a scalar's text as written.
struct RawStrVisitor(&'static str);

impl Visitor<'_> for RawStrVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
}

/// Pass 2: walks the tree built by pass 1 and replaces each number by its text as written.
struct RawSeed<'a>(&'a mut Node);

impl<'de> DeserializeSeed<'de> for RawSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.0 {
            Node::Number(raw) => {
                *raw = deserializer.deserialize_str(RawStrVisitor("a number"))?;
                Ok(())
            }
            Node::Seq(items) if items.iter().any(Node::has_numbers) => {
                deserializer.deserialize_seq(RawSeqVisitor(items))
            }
            Node::Map(entries) if entries.iter().any(|(_, v)| v.has_numbers()) => {
                deserializer.deserialize_map(RawMapVisitor(entries))
            }
            _ => deserializer.deserialize_ignored_any(IgnoredAny).map(|_| ()),
        }
    }
}

struct RawSeqVisitor<'a>(&'a mut [Node]);

impl<'de> Visitor<'de> for RawSeqVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for item in self.0.iter_mut() {
            if seq.next_element_seed(RawSeed(item))?.is_none() {
                break;
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

struct RawMapVisitor<'a>(&'a mut [(String, Node)]);

impl<'de> Visitor<'de> for RawMapVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        for (_, value) in self.0.iter_mut() {
            if map.next_key::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            map.next_value_seed(RawSeed(value))?;
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// The message of the deliberate error that [`LocateSeed`] raises at its target.
const LOCATE_MARK: &str = "ferry: located";

/// Pass 3: walks `path` (entry/item indices) and fails at the target, on its key if `key`.
struct LocateSeed<'p> {
    path: &'p [usize],
    key: bool,
}

impl<'de> DeserializeSeed<'de> for LocateSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LocateSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.scalar()
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.scalar()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((&index, rest)) = self.path.split_first() else {
            return Err(de::Error::custom(LOCATE_MARK));
        };
        for _ in 0..index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        let seed = LocateSeed {
            path: rest,
            key: self.key,
        };
        seq.next_element_seed(seed)?;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((&index, rest)) = self.path.split_first() else {
            return Err(de::Error::custom(LOCATE_MARK));
        };
        for _ in 0..index {
            if map.next_entry::<IgnoredAny, IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        if rest.is_empty() && self.key {
            // Fails on the key itself, so the error carries the key's position.
            map.next_key_seed(FailSeed)?;
            return Ok(());
        }
        if map.next_key::<IgnoredAny>()?.is_some() {
            let seed = LocateSeed {
                path: rest,
                key: self.key,
            };
            map.next_value_seed(seed)?;
        }
        Ok(())
    }
}

impl LocateSeed<'_> {
    fn scalar<E: de::Error>(&self) -> Result<(), E> {
        if self.path.is_empty() {
            Err(E::custom(LOCATE_MARK))
        } else {
            Ok(())
        }
    }
}

/// Fails on whatever it is given, with [`LOCATE_MARK`].
struct FailSeed;

impl<'de> DeserializeSeed<'de> for FailSeed {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(LocateSeed {
            path: &[],
            key: false,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Flattening (no YAML library below this line).

/// A node in the tree, by the indices of map entries and list items leading to it. If `key`,
/// the target is the key of the last map entry rather than its value.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    path: Vec<usize>,
    key: bool,
}

/// Where a flattened key was written, to report duplicates.
#[derive(Debug, Clone)]
struct Spelling {
    /// The keys on the way down, as written: `["a", "b"]` for `a: {b: 1}`, `["a.b"]` for `a.b: 1`.
    segments: Vec<String>,
    target: Target,
}

impl Spelling {
    /// `a.b` for one segment, `a: {b: ...}` for two, `a: {b: {c: ...}}` for three.
    fn render(&self) -> String {
        match self.segments.split_last() {
            None => String::new(),
            Some((last, [])) => last.clone(),
            Some((last, outer)) => {
                let mut s = String::new();
                for segment in outer {
                    s.push_str(segment);
                    s.push_str(": {");
                }
                s.push_str(last);
                s.push_str(": ...");
                s.push_str(&"}".repeat(outer.len()));
                s
            }
        }
    }
}

/// A flattening error, before positions are looked up.
#[derive(Debug)]
enum Problem {
    At {
        target: Target,
        key: Option<String>,
        kind: ConfigErrorKind,
    },
    Duplicate(Box<Duplicate>),
    /// The same key twice in one YAML map, at least one of them a map.
    Repeated(Box<Repeated>),
}

#[derive(Debug)]
struct Repeated {
    /// The flattened key of both entries.
    key: String,
    first: Target,
    second: Target,
    /// A key of the nested map, written dotted, to show how to write it (if it has one).
    hint: Option<String>,
}

#[derive(Debug)]
struct Duplicate {
    key: String,
    first: Spelling,
    second: Spelling,
}

impl Problem {
    fn into_error(self, text: &str, origin: &str) -> ConfigError {
        match self {
            Problem::At { target, key, kind } => {
                let error = ConfigError::new(Some(origin), kind).at(locate(text, &target));
                match key {
                    Some(key) => error.with_key(key),
                    None => error,
                }
            }
            Problem::Duplicate(duplicate) => {
                let Duplicate { key, first, second } = *duplicate;
                let first_at = locate(text, &first.target);
                let second_at = locate(text, &second.target);
                let describe = |spelling: &Spelling, at: Option<Location>| match at {
                    Some(at) => format!("\"{}\" (line {})", spelling.render(), at.line),
                    None => format!("\"{}\"", spelling.render()),
                };
                ConfigError::new(
                    Some(origin),
                    ConfigErrorKind::DuplicateKey {
                        first: describe(&first, first_at),
                        second: describe(&second, second_at),
                    },
                )
                .with_key(key)
                .at(second_at)
            }
            Problem::Repeated(repeated) => {
                let first_at = locate(text, &repeated.first);
                let second_at = locate(text, &repeated.second);
                let lines = match (first_at, second_at) {
                    (Some(a), Some(b)) => format!(" (lines {} and {})", a.line, b.line),
                    _ => String::new(),
                };
                let mut message =
                    format!("is written twice in the same map{lines}, which YAML does not allow");
                if let Some(hint) = &repeated.hint {
                    message.push_str(&format!(
                        "; write the nested keys dotted instead, e.g. \"{hint}\""
                    ));
                }
                ConfigError::new(Some(origin), ConfigErrorKind::Invalid(message))
                    .with_key(repeated.key)
                    .at(second_at)
            }
        }
    }
}

/// The flattened entries so far, with where each was written.
type Flat = BTreeMap<String, (String, Spelling)>;

fn flatten(root: &Node) -> Result<ConfigMap, Problem> {
    let mut flat = Flat::new();
    match root {
        // An empty document (or one with only comments) is an empty config.
        Node::Null => {}
        Node::Map(_) => walk(root, &mut Vec::new(), &mut Vec::new(), &mut flat)?,
        other => {
            return Err(Problem::At {
                target: Target {
                    path: Vec::new(),
                    key: false,
                },
                key: None,
                kind: ConfigErrorKind::Expected {
                    expected: "a map of config keys at the top level",
                    found: other.describe().to_owned(),
                },
            });
        }
    }
    Ok(flat.into_iter().map(|(k, (v, _))| (k, v)).collect())
}

fn walk(
    node: &Node,
    segments: &mut Vec<String>,
    path: &mut Vec<usize>,
    flat: &mut Flat,
) -> Result<(), Problem> {
    if let Node::Map(entries) = node {
        let mut seen = BTreeMap::<&str, usize>::new();
        for (index, (key, value)) in entries.iter().enumerate() {
            path.push(index);
            check_key(key, segments, path)?;
            if let Some(&first) = seen.get(key.as_str()) {
                // Two leaves are caught below as two spellings of one key; a map repeated in
                // the same map would be merged silently, so it is refused here.
                let pair = [&entries[first].1, value];
                if pair.iter().any(|node| matches!(node, Node::Map(_))) {
                    let mut full = segments.clone();
                    full.push(key.clone());
                    let full = full.join(".");
                    let child = pair.iter().find_map(|node| match node {
                        Node::Map(children) => children.first().map(|(child, _)| child),
                        _ => None,
                    });
                    let mut first_path = path.clone();
                    if let Some(last) = first_path.last_mut() {
                        *last = first;
                    }
                    return Err(Problem::Repeated(Box::new(Repeated {
                        hint: child.map(|child| format!("{full}.{child}")),
                        key: full,
                        first: Target {
                            path: first_path,
                            key: true,
                        },
                        second: Target {
                            path: path.clone(),
                            key: true,
                        },
                    })));
                }
            }
            seen.insert(key, index);
            segments.push(key.clone());
            walk(value, segments, path, flat)?;
            segments.pop();
            path.pop();
        }
        return Ok(());
    }
    let key = segments.join(".");
    let value = leaf_value(node, &key, path)?;
    let spelling = Spelling {
        segments: segments.clone(),
        target: Target {
            path: path.clone(),
            key: true,
        },
    };
    if let Some((_, first)) = flat.get(&key) {
        return Err(Problem::Duplicate(Box::new(Duplicate {
            key,
            first: first.clone(),
            second: spelling,
        })));
    }
    flat.insert(key, (value, spelling));
    Ok(())
}

fn check_key(key: &str, outer: &[String], path: &[usize]) -> Result<(), Problem> {
    let message = if key == "<<" {
        "YAML merge keys (`<<`) are not supported in configs; write the keys out"
    } else if key.is_empty() || key.starts_with('.') || key.ends_with('.') || key.contains("..") {
        "a key must not be empty, start or end with `.`, or contain `..`"
    } else {
        return Ok(());
    };
    let mut full = outer.join(".");
    if !full.is_empty() {
        full.push('.');
    }
    full.push_str(key);
    Err(Problem::At {
        target: Target {
            path: path.to_vec(),
            key: true,
        },
        key: Some(full),
        kind: ConfigErrorKind::Invalid(message.to_owned()),
    })
}

/// The string Kafka would see for a leaf value.
fn leaf_value(node: &Node, key: &str, path: &[usize]) -> Result<String, Problem> {
    match node {
        Node::Null => Ok(String::new()),
        Node::Seq(items) => {
            let mut joined = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let at = |kind| {
                    let mut item_path = path.to_vec();
                    item_path.push(index);
                    Problem::At {
                        target: Target {
                            path: item_path,
                            key: false,
                        },
                        key: Some(key.to_owned()),
                        kind,
                    }
                };
                let text = match item {
                    Node::Map(_) | Node::Seq(_) | Node::Null => {
                        return Err(at(ConfigErrorKind::Expected {
                            expected: "a scalar or a list of scalars",
                            found: format!("a list with {} in it", item.describe()),
                        }));
                    }
                    scalar => scalar_text(scalar),
                };
                if text.contains(',') {
                    return Err(at(ConfigErrorKind::Invalid(format!(
                        "list item {text:?} contains a comma, and Kafka splits list values at \
                         commas; write it as separate items"
                    ))));
                }
                joined.push(text);
            }
            Ok(joined.join(","))
        }
        scalar => Ok(scalar_text(scalar)),
    }
}

fn scalar_text(node: &Node) -> String {
    match node {
        Node::Bool(b) => b.to_string(),
        Node::Number(n) | Node::Str(n) => n.clone(),
        Node::Null | Node::Seq(_) | Node::Map(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ConfigMap {
        match parse(text, "test.yaml") {
            Ok(map) => map,
            Err(e) => panic!("{e}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match parse(text, "test.yaml") {
            Ok(map) => panic!("expected an error, got {map:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn nested_maps_flatten_with_dots() {
        let expected = map(&[("key.converter.schemas.enable", "false")]);
        for text in [
            "key: {converter: {schemas: {enable: false}}}",
            "key.converter.schemas.enable: false",
            "key.converter: {schemas.enable: false}",
            "key:\n  converter.schemas:\n    enable: false\n",
            "key:\n  converter:\n    schemas:\n      enable: false\n",
        ] {
            assert_eq!(parse_ok(text), expected, "{text}");
        }
    }

    #[test]
    fn a_key_that_is_both_value_and_prefix_is_dotted_where_it_collides() {
        let text = "\
topics: a,b
topics.dir: /data
transforms: mask
transforms.mask:
  type: org.apache.kafka.connect.transforms.MaskField$Value
  fields: [ssn]
key.converter: org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable: false
";
        assert_eq!(
            parse_ok(text),
            map(&[
                (
                    "key.converter",
                    "org.apache.kafka.connect.json.JsonConverter"
                ),
                ("key.converter.schemas.enable", "false"),
                ("topics", "a,b"),
                ("topics.dir", "/data"),
                ("transforms", "mask"),
                ("transforms.mask.fields", "ssn"),
                (
                    "transforms.mask.type",
                    "org.apache.kafka.connect.transforms.MaskField$Value"
                ),
            ])
        );
        // The same, nested one level further in.
        let text = "key:\n  converter: x.JsonConverter\n  converter.schemas.enable: true\n";
        assert_eq!(
            parse_ok(text),
            map(&[
                ("key.converter", "x.JsonConverter"),
                ("key.converter.schemas.enable", "true"),
            ])
        );
    }

    #[test]
    fn two_spellings_of_one_key_are_an_error_naming_both() {
        let text = "name: x\na:\n  b: 1\nc: 2\n\n\na.b: 3\n";
        assert_eq!(
            parse_err(text),
            r#"test.yaml:7:1: key "a.b" is given twice: as "a: {b: ...}" (line 3) and as "a.b" (line 7)"#
        );
        let text = "key.converter:\n  schemas.enable: true\nkey:\n  converter:\n    schemas:\n      enable: false\n";
        assert_eq!(
            parse_err(text),
            r#"test.yaml:6:7: key "key.converter.schemas.enable" is given twice: as "key.converter: {schemas.enable: ...}" (line 2) and as "key: {converter: {schemas: {enable: ...}}}" (line 6)"#
        );
    }

    #[test]
    fn duplicates_in_flow_maps_are_located_too() {
        assert_eq!(
            parse_err("a: {b: 1}\na.b: 2\n"),
            r#"test.yaml:2:1: key "a.b" is given twice: as "a: {b: ...}" (line 1) and as "a.b" (line 2)"#
        );
        assert_eq!(
            parse_err("x: {a.b: 1, a: {b: 2}}\n"),
            r#"test.yaml:1:17: key "x.a.b" is given twice: as "x: {a.b: ...}" (line 1) and as "x: {a: {b: ...}}" (line 1)"#
        );
    }

    #[test]
    fn a_value_and_a_map_under_one_key_in_one_map_are_an_error() {
        assert_eq!(
            parse_err("topics: a\ntopics:\n  dir: /d\n"),
            r#"test.yaml:2:1: key "topics": is written twice in the same map (lines 1 and 2), which YAML does not allow; write the nested keys dotted instead, e.g. "topics.dir""#
        );
        assert_eq!(
            parse_err("x:\n  t: {a: 1}\n  t: {b: 2}\n"),
            r#"test.yaml:3:3: key "x.t": is written twice in the same map (lines 2 and 3), which YAML does not allow; write the nested keys dotted instead, e.g. "x.t.a""#
        );
        assert_eq!(
            parse_err("a: 1\nb: 2\na: {}\n"),
            r#"test.yaml:3:1: key "a": is written twice in the same map (lines 1 and 3), which YAML does not allow"#
        );
    }

    #[test]
    fn the_same_key_twice_in_one_map_is_an_error() {
        assert_eq!(
            parse_err("tasks.max: 1\ntasks.max: 2\n"),
            r#"test.yaml:2:1: key "tasks.max" is given twice: as "tasks.max" (line 1) and as "tasks.max" (line 2)"#
        );
    }

    #[test]
    fn scalars_become_what_kafka_would_see() {
        let text = "\
t: true
f: False
int: 10
neg: -3
big: 123456789012345678901234567890
float: 1.10
exp: 1e3
hex: 0x1F
octal_looking: 017
quoted_number: \"10\"
quoted_bool: 'true'
yes_is_a_string: yes
text: hello world
dollar: ${env:HOME}
";
        assert_eq!(
            parse_ok(text),
            map(&[
                ("big", "123456789012345678901234567890"),
                ("dollar", "${env:HOME}"),
                ("exp", "1e3"),
                ("f", "false"),
                ("float", "1.10"),
                ("hex", "0x1F"),
                ("int", "10"),
                ("neg", "-3"),
                ("octal_looking", "017"),
                ("quoted_bool", "true"),
                ("quoted_number", "10"),
                ("t", "true"),
                ("text", "hello world"),
                ("yes_is_a_string", "yes"),
            ])
        );
    }

    #[test]
    fn numbers_keep_their_text_in_lists_nested_maps_and_through_aliases() {
        let text = "a: {b: [1.50, 2]}\nc: &x 0.10\nd: *x\ne: &m {f: 2.0, g: s}\nh: *m\n";
        assert_eq!(
            parse_ok(text),
            map(&[
                ("a.b", "1.50,2"),
                ("c", "0.10"),
                ("d", "0.10"),
                ("e.f", "2.0"),
                ("e.g", "s"),
                ("h.f", "2.0"),
                ("h.g", "s"),
            ])
        );
    }

    #[test]
    fn null_is_an_empty_string_and_the_key_is_kept() {
        let text = "a: ~\nb: null\nc:\nd: ''\n";
        assert_eq!(
            parse_ok(text),
            map(&[("a", ""), ("b", ""), ("c", ""), ("d", "")])
        );
    }

    #[test]
    fn empty_document_and_empty_maps_give_no_keys() {
        assert_eq!(parse_ok(""), ConfigMap::new());
        assert_eq!(parse_ok("# only a comment\n"), ConfigMap::new());
        assert_eq!(parse_ok("a: {}\nb: 1\n"), map(&[("b", "1")]));
    }

    #[test]
    fn lists_of_scalars_are_comma_joined() {
        let text = "topics: [a, b]\nports:\n  - 1\n  - 2\nflags: [true, x]\nnone: []\n";
        assert_eq!(
            parse_ok(text),
            map(&[
                ("flags", "true,x"),
                ("none", ""),
                ("ports", "1,2"),
                ("topics", "a,b")
            ])
        );
    }

    #[test]
    fn a_list_of_maps_is_an_error_with_key_and_line() {
        let text = "name: x\ntransforms:\n  - type: Mask\n    fields: a\n";
        assert_eq!(
            parse_err(text),
            r#"test.yaml:3:5: key "transforms": expected a scalar or a list of scalars, found a list with a map in it"#
        );
        let text = "topics: [a, [b, c]]\n";
        assert_eq!(
            parse_err(text),
            r#"test.yaml:1:13: key "topics": expected a scalar or a list of scalars, found a list with a list in it"#
        );
        let text = "topics:\n  - a\n  -\n";
        assert!(
            parse_err(text).starts_with(r#"test.yaml:3:4: key "topics": expected a scalar or a list of scalars, found a list with null in it"#),
            "{}",
            parse_err(text)
        );
    }

    #[test]
    fn a_list_item_with_a_comma_is_an_error() {
        assert_eq!(
            parse_err("topics:\n  - a\n  - 'b,c'\n"),
            r#"test.yaml:3:5: key "topics": list item "b,c" contains a comma, and Kafka splits list values at commas; write it as separate items"#
        );
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = parse("name: x\ntasks.max: [1, 2\n", "bad.yaml").unwrap_err();
        let location = e.location().unwrap();
        assert_eq!(location.line, 3, "{e}");
        let text = e.to_string();
        assert!(text.starts_with("bad.yaml:3:1: "), "{text}");
        assert!(!text.contains(" at line "), "{text}");
        assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)));

        let e = parse("a: b\n  c: d\n", "bad.yaml").unwrap_err();
        assert!(e.to_string().starts_with("bad.yaml:2:4: "), "{e}");
    }

    #[test]
    fn the_top_level_must_be_a_map() {
        assert_eq!(
            parse_err("- a\n- b\n"),
            "test.yaml:1:1: expected a map of config keys at the top level, found a list"
        );
        assert_eq!(
            parse_err("just text"),
            "test.yaml:1:1: expected a map of config keys at the top level, found a string"
        );
    }

    #[test]
    fn bad_keys_are_errors() {
        assert_eq!(
            parse_err("a:\n  .b: 1\n"),
            r#"test.yaml:2:3: key "a..b": a key must not be empty, start or end with `.`, or contain `..`"#
        );
        assert_eq!(
            parse_err("base: &b {x: 1}\nc:\n  <<: *b\n"),
            r#"test.yaml:3:3: key "c.<<": YAML merge keys (`<<`) are not supported in configs; write the keys out"#
        );
        let e = parse_err("? [a, b]\n: c\n");
        assert!(e.starts_with("test.yaml:1:3: "), "{e}");
        assert!(e.contains("expected a scalar key"), "{e}");
    }

    #[test]
    fn tags_and_multiple_documents_are_errors() {
        let e = parse_err("a: !secret xyz\n");
        assert!(e.starts_with("test.yaml:1:4: YAML tags"), "{e}");
        let e = parse_err("a: 1\n---\nb: 2\n");
        assert!(e.contains("more than one document"), "{e}");
    }

    #[test]
    fn strip_positions_removes_only_positions() {
        assert_eq!(
            strip_positions(
                "did not find expected key at line 3 column 5, while parsing a block mapping at line 1 column 1"
            ),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(strip_positions("x at position 7"), "x");
        assert_eq!(strip_positions("look at me"), "look at me");
    }

    #[test]
    fn locate_finds_keys_values_and_items() {
        let text = "a: 1\nb:\n  c: [x, y]\n";
        let at = |path: &[usize], key| {
            locate(
                text,
                &Target {
                    path: path.to_vec(),
                    key,
                },
            )
            .map(|l| (l.line, l.column))
        };
        assert_eq!(at(&[0], true), Some((1, 1)));
        assert_eq!(at(&[0], false), Some((1, 4)));
        assert_eq!(at(&[1, 0], true), Some((3, 3)));
        assert_eq!(at(&[1, 0, 1], false), Some((3, 10)));
        assert_eq!(at(&[5], true), None);
    }
}
