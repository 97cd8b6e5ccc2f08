//! JSON configs: a flat object, or Kafka Connect's REST body `{"name": ..., "config": {...}}`.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserialize, MapAccess, SeqAccess, Visitor};

use super::ConfigMap;
use super::error::{ConfigError, ConfigErrorKind, Location};

/// Parses a JSON config.
///
/// - `{"name": "n", "config": {...}}` (a Kafka Connect REST body, recognised by a `config`
///   member that is an object): the entries of `config`, plus `name` as the `name` key, as
///   Kafka Connect does. A `name` inside `config` that differs from the outer one is an error.
///   `initial_state` (KIP-980) is allowed next to them and is not part of the config; any other
///   member is an error.
/// - Any other object: a flat config.
///
/// Values may be strings, numbers, booleans or null (an empty string, as in YAML). Numbers are
/// written as `serde_json` prints them: integers exactly, fractions in their shortest form
/// (`1.10` becomes `1.1`, `1e3` becomes `1000.0`). A key given twice is an error.
pub(super) fn parse(text: &str, origin: &str) -> Result<ConfigMap, ConfigError> {
    let root: Json = serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        let message = match message.rsplit_once(" at line ") {
            Some((head, _)) => head.to_owned(),
            None => message,
        };
        let location = (e.line() > 0).then(|| Location {
            line: e.line(),
            column: e.column(),
        });
        ConfigError::new(Some(origin), ConfigErrorKind::Syntax(message)).at(location)
    })?;
    let error = |key: Option<&str>, kind| {
        let e = ConfigError::new(Some(origin), kind);
        match key {
            Some(key) => e.with_key(key),
            None => e,
        }
    };
    let Json::Object(members) = root else {
        return Err(error(
            None,
            ConfigErrorKind::Expected {
                expected: "a JSON object",
                found: root.describe().to_owned(),
            },
        ));
    };
    check_unique(&members).map_err(|key| error(Some(key), duplicate()))?;
    let config = members.iter().find_map(|(k, v)| match v {
        Json::Object(config) if k == "config" => Some(config),
        _ => None,
    });
    let Some(config) = config else {
        return flat(&members).map_err(|(key, kind)| error(Some(key), kind));
    };
    // A REST body.
    check_unique(config).map_err(|key| error(Some(key), duplicate()))?;
    let mut map = flat(config).map_err(|(key, kind)| error(Some(key), kind))?;
    for (member, value) in &members {
        match member.as_str() {
            "config" | "initial_state" => {}
            "name" => {
                let Json::Str(name) = value else {
                    return Err(error(
                        Some("name"),
                        ConfigErrorKind::Expected {
                            expected: "the connector name as a string",
                            found: value.describe().to_owned(),
                        },
                    ));
                };
                if let Some(inner) = map.get("name").filter(|inner| *inner != name) {
                    return Err(error(
                        Some("name"),
                        ConfigErrorKind::Invalid(format!(
                            "the connector name {name:?} differs from the name {inner:?} in \"config\""
                        )),
                    ));
                }
                map.insert("name".to_owned(), name.clone());
            }
            other => {
                return Err(error(
                    None,
                    ConfigErrorKind::Invalid(format!(
                        "unexpected member {other:?} next to \"config\" (a connector request \
                         has \"name\" and \"config\")"
                    )),
                ));
            }
        }
    }
    Ok(map)
}

fn duplicate() -> ConfigErrorKind {
    ConfigErrorKind::Invalid("is given twice in the same JSON object".to_owned())
}

fn check_unique(members: &[(String, Json)]) -> Result<(), &str> {
    let mut seen = BTreeSet::new();
    match members.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        Some((key, _)) => Err(key),
        None => Ok(()),
    }
}

fn flat(members: &[(String, Json)]) -> Result<ConfigMap, (&str, ConfigErrorKind)> {
    members
        .iter()
        .map(|(key, value)| {
            let text = match value {
                Json::Null => String::new(),
                Json::Bool(b) => b.to_string(),
                Json::Number(n) => n.to_string(),
                Json::Str(s) => s.clone(),
                Json::Array | Json::Object(_) => {
                    return Err((
                        key.as_str(),
                        ConfigErrorKind::Expected {
                            expected: "a string, number, boolean or null",
                            found: value.describe().to_owned(),
                        },
                    ));
                }
            };
            Ok((key.clone(), text))
        })
        .collect()
}

/// A JSON value whose objects keep every member, duplicates included.
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
    /// Arrays are never config values; their items are not kept.
    Array,
    Object(Vec<(String, Json)>),
}

impl Json {
    fn describe(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::Str(_) => "a string",
            Json::Array => "an array",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Json::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(entry) = map.next_entry()? {
            members.push(entry);
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ConfigMap {
        match parse(text, "REST body") {
            Ok(map) => map,
            Err(e) => panic!("{e}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match parse(text, "REST body") {
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
    fn flat_object_of_scalars() {
        let text = r#"{"connector.class": "FileStreamSource", "tasks.max": 1, "x.enable": true,
                       "ratio": 0.5, "neg": -2, "empty": null}"#;
        assert_eq!(
            parse_ok(text),
            map(&[
                ("connector.class", "FileStreamSource"),
                ("empty", ""),
                ("neg", "-2"),
                ("ratio", "0.5"),
                ("tasks.max", "1"),
                ("x.enable", "true"),
            ])
        );
    }

    #[test]
    fn rest_body_puts_the_name_into_the_config() {
        let text = r#"{"name": "local-file-source",
                       "config": {"connector.class": "FileStreamSource", "tasks.max": "1"}}"#;
        assert_eq!(
            parse_ok(text),
            map(&[
                ("connector.class", "FileStreamSource"),
                ("name", "local-file-source"),
                ("tasks.max", "1"),
            ])
        );
        // The same name inside "config" is fine; initial_state is not config.
        let text = r#"{"name": "a", "initial_state": "PAUSED", "config": {"name": "a"}}"#;
        assert_eq!(parse_ok(text), map(&[("name", "a")]));
        // No outer name: the config as it is.
        assert_eq!(
            parse_ok(r#"{"config": {"topics": "t"}}"#),
            map(&[("topics", "t")])
        );
    }

    #[test]
    fn rest_body_errors() {
        assert_eq!(
            parse_err(r#"{"name": "a", "config": {"name": "b"}}"#),
            r#"REST body: key "name": the connector name "a" differs from the name "b" in "config""#
        );
        assert_eq!(
            parse_err(r#"{"name": 5, "config": {}}"#),
            r#"REST body: key "name": expected the connector name as a string, found a number"#
        );
        assert_eq!(
            parse_err(r#"{"name": "a", "tasks": [], "config": {}}"#),
            r#"REST body: unexpected member "tasks" next to "config" (a connector request has "name" and "config")"#
        );
    }

    #[test]
    fn nested_values_are_errors() {
        assert_eq!(
            parse_err(r#"{"tasks.max": {"a": 1}}"#),
            r#"REST body: key "tasks.max": expected a string, number, boolean or null, found an object"#
        );
        assert_eq!(
            parse_err(r#"{"config": {"topics": ["a"]}}"#),
            r#"REST body: key "topics": expected a string, number, boolean or null, found an array"#
        );
        assert_eq!(
            parse_err("[1]"),
            "REST body: expected a JSON object, found an array"
        );
    }

    #[test]
    fn duplicate_keys_are_errors() {
        assert_eq!(
            parse_err(r#"{"a": "1", "a": "2"}"#),
            r#"REST body: key "a": is given twice in the same JSON object"#
        );
        assert_eq!(
            parse_err(r#"{"config": {"a": "1", "a": "2"}}"#),
            r#"REST body: key "a": is given twice in the same JSON object"#
        );
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = parse("{\n  \"a\": \"1\",\n  \"b\" 2\n}", "x.json").unwrap_err();
        assert_eq!(e.location(), Some(Location { line: 3, column: 7 }));
        assert_eq!(e.to_string(), "x.json:3:7: expected `:`");
    }
}
