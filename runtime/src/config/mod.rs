//! Loading connector and worker configs from YAML, `.properties` and REST JSON.
//!
//! Every format ends up as a [`ConfigMap`], Kafka Connect's flat map of dotted string keys to
//! string values. [`load_file`] picks the format by extension:
//!
//! | extension             | format                                                        |
//! |-----------------------|---------------------------------------------------------------|
//! | `.yaml`, `.yml`       | YAML, flattened (below)                                       |
//! | `.properties`         | Java properties, exactly as Kafka reads them                  |
//! | `.json`               | a flat JSON object, or a REST body `{"name", "config"}`       |
//! | anything else         | YAML (which also reads JSON)                                  |
//!
//! **YAML.** Nested maps flatten by joining keys with `.`, and dotted keys may be written at
//! any depth, so these are the same config:
//!
//! ```yaml
//! key: {converter: {schemas: {enable: false}}}
//! key.converter.schemas.enable: false
//! key.converter: {schemas.enable: false}
//! ```
//!
//! A key that is both a value and a prefix of other keys (`topics` and `topics.dir`,
//! `transforms` and `transforms.mask.type`) is written dotted where the two meet:
//!
//! ```yaml
//! transforms: mask
//! transforms.mask:
//!   type: org.apache.kafka.connect.transforms.MaskField$Value
//!   fields: [ssn, card]
//! ```
//!
//! Writing the same flattened key twice, in any two spellings, is an error that names both
//! with their lines; so is one key written twice in the same map (YAML forbids it; write the
//! longer key dotted instead). Values become the strings Kafka would see: booleans `true`/`false`
//! (`True` too, but `yes`/`on` are plain strings, as in YAML 1.2), numbers exactly as written
//! (`1.10` stays `1.10`), a list of scalars is joined with commas (`topics: [a, b]` is `a,b`,
//! Kafka's LIST type). **Null** (`~`, `null`, or nothing after the colon) is the empty string,
//! and the key is kept: that is what `key=` means in a `.properties` file, and what lets a
//! REST body's `null` be stored. A list of maps or of lists, a null list item, a list item
//! containing a comma, YAML tags (`!x`), merge keys (`<<`), several documents in one file, and
//! a top level that is not a map are errors. An empty file is an empty config.
//!
//! **Properties.** `key=value`, `key: value` and `key value`; `#` and `!` comments; a
//! trailing `\` continues the line; escapes `\t \n \r \f \\ \uXXXX`, and `\=`, `\:`, `\ ` in
//! keys. Kafka's quickstart files (`connect-standalone.properties`,
//! `connect-file-source.properties`, `connect-file-sink.properties`) load as they are. A key
//! given twice keeps the last value, as in Java. Files are read as UTF-8, or as ISO-8859-1
//! (Java's encoding for them) when they are not valid UTF-8.
//!
//! **JSON.** Values may be strings, numbers, booleans or null (the empty string); a key given
//! twice in one object is an error. Fractional numbers are written in their shortest form
//! (`1.10` is `1.1`): quote them to keep them as written. In a REST body, `name` is added to
//! the config as `name`, as Kafka Connect does.
//!
//! **References.** After loading, [`resolve`] replaces `${env:NAME}` and `${file:path:key}`
//! (a key of a `.properties` file) anywhere in a value. Both providers are always on; Kafka's
//! `config.providers` is not needed. An unknown variable, file or key is an error.
//!
//! Every error ([`ConfigError`]) is one line: `file:line:column: key "k": what was expected`.

mod error;
mod json;
mod properties;
mod references;
mod yaml;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::{ConfigError, ConfigErrorKind, Location};
pub use references::resolve;

/// Kafka Connect's flat config: dotted keys to string values, sorted by key.
pub type ConfigMap = BTreeMap<String, String>;

/// The text formats a config can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML, flattened to dotted keys.
    Yaml,
    /// Java `.properties`.
    Properties,
    /// A flat JSON object, or a Kafka Connect REST body `{"name": ..., "config": {...}}`.
    Json,
}

impl Format {
    /// The format for a file name: `.yaml`/`.yml` → YAML, `.properties` → properties, `.json`
    /// → JSON, anything else → YAML (a superset of JSON). The extension is matched without
    /// regard to case.
    pub fn from_path(path: &Path) -> Format {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("properties") => Format::Properties,
            Some("json") => Format::Json,
            _ => Format::Yaml,
        }
    }
}

/// Reads a config file, in the format given by its extension ([`Format::from_path`]).
///
/// References (`${env:...}`) are not resolved; see [`resolve`]. Errors name the file as
/// given in `path`.
pub fn load_file(path: &Path) -> Result<ConfigMap, ConfigError> {
    let format = Format::from_path(path);
    if format == Format::Properties {
        return load_properties(path);
    }
    let origin = path.display().to_string();
    let bytes = read(path, &origin)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ConfigError::new(
            Some(&origin),
            ConfigErrorKind::Syntax(format!(
                "the file is not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            )),
        )
    })?;
    parse_str(without_bom(&text), format, &origin)
}

/// The text without a leading UTF-8 byte order mark, which some Windows editors write.
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Parses config text in the given format. `origin` names where the text came from in errors
/// (a file path, `REST body`, ...).
pub fn parse_str(text: &str, format: Format, origin: &str) -> Result<ConfigMap, ConfigError> {
    match format {
        Format::Yaml => yaml::parse(text, origin),
        Format::Properties => properties::parse(text, origin),
        Format::Json => json::parse(text, origin),
    }
}

/// Reads a `.properties` file (UTF-8, or ISO-8859-1 when it is not valid UTF-8).
fn load_properties(path: &Path) -> Result<ConfigMap, ConfigError> {
    let origin = path.display().to_string();
    let text = properties::decode(read(path, &origin)?);
    properties::parse(without_bom(&text), &origin)
}

fn read(path: &Path, origin: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| ConfigError::new(Some(origin), ConfigErrorKind::Io(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load_ok(path: &Path) -> ConfigMap {
        match load_file(path) {
            Ok(map) => map,
            Err(e) => panic!("{e}"),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The same worker config in every format.
    const WORKER_PROPERTIES: &str = "\
bootstrap.servers=localhost:9092
key.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=false
offset.flush.interval.ms=10000
listeners=http://0.0.0.0:8083
broker.listeners=
topics=a,b
topics.dir=/data
tasks.max=1
";

    const WORKER_YAML: &str = "\
bootstrap.servers: localhost:9092
key:
  converter: org.apache.kafka.connect.json.JsonConverter
  converter.schemas.enable: false
value.converter: org.apache.kafka.connect.json.JsonConverter
value.converter.schemas:
  enable: false
offset: {flush: {interval.ms: 10000}}
listeners: http://0.0.0.0:8083
broker.listeners: ~
topics: [a, b]
topics.dir: /data
tasks.max: 1
";

    const WORKER_JSON: &str = r#"{
  "bootstrap.servers": "localhost:9092",
  "key.converter": "org.apache.kafka.connect.json.JsonConverter",
  "key.converter.schemas.enable": false,
  "value.converter": "org.apache.kafka.connect.json.JsonConverter",
  "value.converter.schemas.enable": "false",
  "offset.flush.interval.ms": 10000,
  "listeners": "http://0.0.0.0:8083",
  "broker.listeners": null,
  "topics": "a,b",
  "topics.dir": "/data",
  "tasks.max": 1
}"#;

    #[test]
    fn yaml_properties_and_json_give_the_same_map() {
        let properties = parse_str(WORKER_PROPERTIES, Format::Properties, "w.properties");
        let yaml = parse_str(WORKER_YAML, Format::Yaml, "w.yaml");
        let json = parse_str(WORKER_JSON, Format::Json, "w.json");
        let properties = properties.unwrap();
        assert_eq!(properties.len(), 11);
        assert_eq!(properties["broker.listeners"], "");
        assert_eq!(yaml.unwrap(), properties);
        assert_eq!(json.unwrap(), properties);
    }

    #[test]
    fn kafka_quickstart_connector_as_yaml_equals_the_properties_file() {
        let properties = parse_str(
            include_str!("testdata/connect-file-source.properties"),
            Format::Properties,
            "connect-file-source.properties",
        )
        .unwrap();
        let yaml = "\
name: local-file-source
connector.class: FileStreamSource
tasks.max: 1
file: test.txt
topic: connect-test
";
        assert_eq!(parse_str(yaml, Format::Yaml, "c.yaml").unwrap(), properties);
    }

    #[test]
    fn load_file_picks_the_format_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let expected = map(&[("a.b", "1"), ("name", "n")]);
        for (name, text) in [
            ("c.yaml", "name: n\na: {b: 1}\n"),
            ("c.yml", "name: n\na: {b: 1}\n"),
            ("c.YAML", "name: n\na: {b: 1}\n"),
            ("c.properties", "name=n\na.b=1\n"),
            ("c.json", r#"{"name": "n", "a.b": 1}"#),
            ("rest.json", r#"{"name": "n", "config": {"a.b": "1"}}"#),
            ("c.conf", "name: n\na: {b: 1}\n"),
            ("c", r#"{"name": "n", "a": {"b": 1}}"#),
        ] {
            let path = write(dir.path(), name, text);
            assert_eq!(load_ok(&path), expected, "{name}");
        }
    }

    #[test]
    fn format_from_path() {
        assert_eq!(Format::from_path(Path::new("a/b.yml")), Format::Yaml);
        assert_eq!(
            Format::from_path(Path::new("b.Properties")),
            Format::Properties
        );
        assert_eq!(Format::from_path(Path::new("b.json")), Format::Json);
        assert_eq!(Format::from_path(Path::new("b.txt")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("b")), Format::Yaml);
    }

    #[test]
    fn unreadable_file_names_the_file_and_the_os_error() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["missing.yaml", "missing.properties"] {
            let path = dir.path().join(name);
            let e = load_file(&path).unwrap_err();
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("{}: cannot read file: ", path.display())),
                "{text}"
            );
            assert!(text.contains("os error 2"), "{text}");
            assert!(matches!(e.kind(), ConfigErrorKind::Io(_)));
            assert_eq!(e.origin(), Some(path.display().to_string().as_str()));
        }
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "bad.yaml", "name: x\ntasks.max:\n  - a: 1\n");
        let e = load_file(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                r#"{}:3:5: key "tasks.max": expected a scalar or a list of scalars, found a list with a map in it"#,
                path.display()
            )
        );
        assert_eq!(e.key(), Some("tasks.max"));
        assert_eq!(e.location(), Some(Location { line: 3, column: 5 }));
    }

    #[test]
    fn yaml_that_is_not_utf8_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.yaml");
        std::fs::write(&path, b"name: caf\xe9\n").unwrap();
        let e = load_file(&path).unwrap_err().to_string();
        assert!(e.contains("not UTF-8"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("bom.json", "\u{feff}{\"a\": 1}"),
            ("bom.properties", "\u{feff}a=1\n"),
            ("bom.yaml", "\u{feff}a: 1\n"),
        ] {
            let path = write(dir.path(), name, text);
            assert_eq!(load_ok(&path), map(&[("a", "1")]), "{name}");
        }
    }

    #[test]
    fn properties_file_in_latin1_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.properties");
        std::fs::write(&path, b"name=caf\xe9\n").unwrap();
        assert_eq!(load_ok(&path), map(&[("name", "café")]));
    }

    /// A tree of nested YAML maps, built from dotted keys cut into chunks.
    #[derive(Default)]
    struct Tree(BTreeMap<String, Branch>);

    enum Branch {
        Leaf(String),
        Map(Tree),
    }

    impl Tree {
        fn insert(&mut self, chunks: &[String], value: &str) {
            let Some((first, rest)) = chunks.split_first() else {
                return;
            };
            if rest.is_empty() {
                self.0.insert(first.clone(), Branch::Leaf(value.to_owned()));
            } else if let Branch::Map(tree) = self
                .0
                .entry(first.clone())
                .or_insert_with(|| Branch::Map(Tree::default()))
            {
                tree.insert(rest, value);
            }
        }

        fn yaml(&self, indent: usize, out: &mut String) {
            for (key, branch) in &self.0 {
                out.push_str(&" ".repeat(indent));
                match branch {
                    Branch::Leaf(value) => out.push_str(&format!("{key}: '{value}'\n")),
                    Branch::Map(tree) => {
                        out.push_str(&format!("{key}:\n"));
                        tree.yaml(indent + 2, out);
                    }
                }
            }
        }
    }

    /// Java's `Properties.store` escaping (the `\\`, `=`, `:`, `#`, `!` and whitespace).
    fn escape(text: &str, is_key: bool) -> String {
        let mut out = String::new();
        for (i, c) in text.chars().enumerate() {
            match c {
                ' ' if is_key || i == 0 => out.push_str("\\ "),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\u{c}' => out.push_str("\\f"),
                '\\' | '=' | ':' | '#' | '!' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
        out
    }

    proptest::proptest! {
        /// However the dotted keys are nested, the YAML is the same config as the properties.
        #[test]
        fn any_nesting_of_dotted_keys_flattens_to_the_same_map(
            entries in proptest::collection::btree_map(
                proptest::collection::vec("[a-d]{1,2}", 1..5),
                "[a-z0-9 .,:=]{0,6}",
                1..8,
            ),
            cuts in proptest::collection::vec(proptest::collection::vec(proptest::bool::ANY, 4), 8),
        ) {
            // No key may be a prefix of another: that must be written dotted (tested above).
            let keys: Vec<&Vec<String>> = entries.keys().collect();
            let prefix_free = keys.iter().all(|a| {
                keys.iter().all(|b| a == b || !b.starts_with(a))
            });
            proptest::prop_assume!(prefix_free);

            let mut tree = Tree::default();
            let mut properties = String::new();
            let mut expected = ConfigMap::new();
            for ((segments, value), cut) in entries.iter().zip(&cuts) {
                // Cut the key into chunks where `cut` says so: a.b.c → [a, b.c], [a.b, c], ...
                let mut chunks = vec![segments[0].clone()];
                for (segment, &new_chunk) in segments[1..].iter().zip(cut) {
                    if new_chunk {
                        chunks.push(segment.clone());
                    } else if let Some(last) = chunks.last_mut() {
                        last.push('.');
                        last.push_str(segment);
                    }
                }
                tree.insert(&chunks, value);
                let key = segments.join(".");
                properties.push_str(&format!("{}={}\n", escape(&key, true), escape(value, false)));
                expected.insert(key, value.clone());
            }
            let mut yaml = String::new();
            tree.yaml(0, &mut yaml);

            let from_yaml = parse_str(&yaml, Format::Yaml, "p.yaml");
            proptest::prop_assert_eq!(from_yaml.as_ref().ok(), Some(&expected), "{}", yaml);
            let from_properties = parse_str(&properties, Format::Properties, "p.properties");
            proptest::prop_assert_eq!(from_properties.ok(), Some(expected), "{}", properties);
        }

        /// Any key and value written with Java's escaping reads back the same.
        #[test]
        fn properties_round_trip(
            entries in proptest::collection::btree_map(
                "[a-z.]{1,3}[ -~\t\n\r\u{c}éあ😀]{0,8}",
                "[ -~\t\n\r\u{c}éあ😀]{0,10}",
                0..6,
            ),
        ) {
            let text: String = entries
                .iter()
                .map(|(k, v)| format!("{}={}\n", escape(k, true), escape(v, false)))
                .collect();
            let parsed = parse_str(&text, Format::Properties, "p.properties");
            proptest::prop_assert_eq!(parsed.ok(), Some(entries), "{}", text);
        }
    }

    #[test]
    fn load_then_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = write(dir.path(), "secrets.properties", "password=hunter2\n");
        let path = write(
            dir.path(),
            "conn.yaml",
            &format!(
                "name: pg\nconnection:\n  password: ${{file:{}:password}}\n",
                secrets.display()
            ),
        );
        let resolved = resolve(&load_ok(&path)).unwrap();
        assert_eq!(resolved["connection.password"], "hunter2");

        let path = write(
            dir.path(),
            "bad.yaml",
            "x: ${env:FERRY_TEST_SURELY_UNSET_42}\n",
        );
        let e = resolve(&load_ok(&path))
            .map_err(|e| e.with_origin(path.display()))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                r#"{}: key "x": cannot resolve ${{env:FERRY_TEST_SURELY_UNSET_42}}: environment variable FERRY_TEST_SURELY_UNSET_42 is not set"#,
                path.display()
            )
        );
    }
}
