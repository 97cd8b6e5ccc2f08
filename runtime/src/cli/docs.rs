//! `ferry docs`: reference documentation written from the code, so that it cannot drift from
//! what Ferry accepts.
//!
//! `docs/configuration.md` is generated from the ConfigDefs (the one declaration of each key)
//! of the worker, of every connector, of the error handling, and of every registered
//! converter and connector plugin, read only through `ConfigDef::keys()`. A test fails when
//! the committed file differs from what this module generates.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ferry_api::config::{ConfigKey, Default, Validator};
use ferry_api::{ConfigDef, ConnectorType};

use crate::worker::config::{connector_config_def, sink_config_def, worker_config_def};
use crate::worker_group::config::distributed_config_def;
use crate::{errors, plugins};

/// `ferry docs` options.
#[derive(Debug, Args)]
pub struct DocsArgs {
    /// The document to write.
    #[arg(value_enum, default_value_t = Topic::Configuration)]
    pub topic: Topic,
    /// Write it to this file instead of stdout (`docs/configuration.md` in the repository).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The documents `ferry docs` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Topic {
    /// Every config key: worker, connectors, error handling, converters.
    Configuration,
}

/// The markdown of `topic`.
pub fn render(topic: Topic) -> String {
    match topic {
        Topic::Configuration => configuration(),
    }
}

const REGENERATE: &str =
    "cargo run -p ferry-runtime -- docs configuration --out docs/configuration.md";

fn configuration() -> String {
    let source_errors = errors::config_def(ConnectorType::Source);
    let sink_only: Vec<String> = errors::config_def(ConnectorType::Sink)
        .keys()
        .iter()
        .filter(|k| !source_errors.keys().iter().any(|s| s.name == k.name))
        .map(|k| format!("`{}`", k.name))
        .collect();
    let errors_intro = format!(
        "{ERRORS}\n\nSink connectors only: {}.",
        sink_only.join(", ")
    );
    let mut out = INTRO.replace("{REGENERATE}", REGENERATE);
    for (heading, intro, def) in [
        ("## Worker", WORKER, worker_config_def()),
        (
            "## Distributed worker",
            DISTRIBUTED,
            distributed_config_def(),
        ),
        ("## Every connector", CONNECTOR, connector_config_def()),
        ("## Sink connectors", SINK, sink_config_def()),
        (
            "## Error handling",
            &errors_intro,
            errors::config_def(ConnectorType::Sink),
        ),
    ] {
        section(&mut out, heading, intro, &def);
    }

    out.push_str(CONVERTERS);
    for plugin in ferry_converters::CONVERTERS {
        let intro = format!("Also named {}.", names(plugin.aliases));
        let heading = format!("### `{}`", plugin.class);
        section(&mut out, &heading, &intro, &(plugin.new)().config_def());
    }

    out.push_str(CONNECTORS);
    for plugin in plugins::CONNECTORS {
        let info = plugin.info();
        let kind = match plugin.connector_type() {
            ConnectorType::Source => "A source connector",
            ConnectorType::Sink => "A sink connector",
        };
        let intro = format!("{kind}, also named {}.", names(info.aliases));
        let heading = format!("### `{}`", info.class);
        section(
            &mut out,
            &heading,
            &intro,
            &plugin.new_connector().config_def(),
        );
    }
    out
}

fn names(aliases: &[&str]) -> String {
    let quoted: Vec<String> = aliases.iter().map(|a| format!("`{a}`")).collect();
    quoted.join(", ")
}

/// A heading, its introduction, and the table of `def`'s keys in declaration order.
fn section(out: &mut String, heading: &str, intro: &str, def: &ConfigDef) {
    let _ = write!(out, "\n{heading}\n\n{intro}\n\n");
    if def.keys().is_empty() {
        out.push_str("No keys.\n");
        return;
    }
    out.push_str("| Key | Type | Default | Valid values | Importance | Description |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for key in def.keys() {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            key.name,
            key.ty.name(),
            cell(&default(&key.default)),
            cell(&valid_values(key)),
            key.importance.name().to_ascii_lowercase(),
            cell(&prose(key.doc)),
        );
    }
}

fn default(default: &Default) -> String {
    match default {
        Default::Required => "*required*".into(),
        Default::Null => "null".into(),
        Default::Value(v) => code(&v.to_string()),
    }
}

fn code(text: &str) -> String {
    if text.is_empty() {
        "`\"\"`".into()
    } else {
        format!("`{text}`")
    }
}

fn valid_values(key: &ConfigKey) -> String {
    let Some(validator) = &key.validator else {
        return String::new();
    };
    let one_of = |allowed: &[&str]| {
        allowed
            .iter()
            .map(|a| code(a))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match validator {
        Validator::Range { min, max } => {
            let bound = |b: &Option<f64>| b.map(number).unwrap_or_default();
            match (min, max) {
                (Some(_), Some(_)) => format!("[{},...,{}]", bound(min), bound(max)),
                (Some(_), None) => format!("[{},...]", bound(min)),
                (None, _) => format!("[...,{}]", bound(max)),
            }
        }
        Validator::OneOf(allowed) => one_of(allowed),
        Validator::OneOfIgnoreCase(allowed) => format!("{} (any case)", one_of(allowed)),
        Validator::NonEmptyString => "non-empty".into(),
        Validator::Custom { expected, .. } => prose(expected),
    }
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Doc text made safe for one table cell: no line breaks, and no characters markdown would
/// read as a cell border, an HTML tag or emphasis.
fn prose(text: &str) -> String {
    text.replace('<', "&lt;").replace('*', "\\*")
}

fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

const INTRO: &str = "\
# Configuration reference

Generated from the code's config declarations by `ferry docs configuration`; do not edit it
by hand. After changing a key, regenerate it from the repository's root with
`{REGENERATE}`.

Every key Ferry reads, as declared in the code: the worker's, the ones every connector has,
error handling, each converter's and each built-in connector's. The names are Kafka
Connect's, so existing configs keep working.

## Writing a config

A worker or connector config is, in the end, a flat map from dotted key names to text values,
as in Kafka Connect. Ferry reads it from any of these:

- **YAML** (`.yaml`, `.yml`, and files of any other extension). Nested maps become dotted
  keys, and a dotted key may be written at any depth, so `key: {converter: {schemas.enable:
  false}}` and `key.converter.schemas.enable: false` set the same key. When one key is also
  the start of longer ones (`key.converter` and `key.converter.schemas.enable`), write it
  dotted at the level where the two meet. A YAML list is a comma-separated LIST value
  (`topics: [a, b]` is `a,b`). Setting one key twice, in any two spellings, is an error that
  names both places.
- **Java properties** (`.properties`), read as Kafka reads them, so Kafka's quickstart files
  load unchanged.
- **JSON** (`.json`): a flat object, or a Kafka Connect REST body `{\"name\": ..., \"config\":
  {...}}`. The REST API takes the same bodies.

A value may take text from outside the file: `${env:NAME}` is replaced by the environment
variable `NAME`, and `${file:path:key}` by the value of `key` in the properties file at
`path`. Both are always on (Kafka's `config.providers` is not needed), and a missing
variable, file or key is an error rather than a literal `${...}`.

A config is checked before anything starts, and every problem is reported at once with the
key, the value given and what was expected.

In the tables below, **Type** is Kafka's config type (BOOLEAN is `true` or `false` in any
case, LIST is comma separated, CLASS is a class name or one of its short names, and PASSWORD
values are shown as `[hidden]` in logs and in the REST API); **Default** is *required* for a
key that must be given and null for one that is unset unless given; **Valid values** gives
ranges as `[min,...,max]`.
";

const WORKER: &str = "\
Keys of every worker, `ferry standalone worker.yaml ...` and `ferry distributed worker.yaml`
alike. A converter's own keys are written after the key that names it:
`key.converter.schemas.enable`, `value.converter.decimal.format` (see Converters).";

const DISTRIBUTED: &str = "\
Keys only `ferry distributed` reads, on top of the worker keys. There `bootstrap.servers` must
name a broker, and `heartbeat.interval.ms` must be below `session.timeout.ms`. The
replication factors default to -1, the broker's own default, where Kafka Connect's default
is 3, so that a group runs against a single-node `ferry broker` as it is.";

const CONNECTOR: &str = "\
Keys of every connector config, whatever its class. A connector that names its own
converters gives their keys with the same prefixes as the worker.";

const SINK: &str = "\
Keys of every sink connector. Exactly one of `topics` and `topics.regex` must be given.";

const ERRORS: &str = "\
How a connector's tasks handle records that fail in a converter or that a sink task reports
as bad, as Kafka Connect's (KIP-298, KIP-610).";

const CONVERTERS: &str = "
## Converters

A converter is named by `key.converter` or `value.converter`, of the worker or of a
connector, and its keys are written with that key as a prefix: `value.converter.schemas.enable:
false`.
";

const CONNECTORS: &str = "
## Built-in connectors

Each connector's own keys; the keys of every connector, of sink connectors and of error
handling apply as well. `connector.class` takes the class name or any of its other names.
";

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::ConfigValue;
    use ferry_api::config::Type;

    /// Every golden test docs/formats.md names (`path.rs::module::test`) exists, so the page
    /// cannot point at tests that were renamed or moved.
    #[test]
    fn formats_md_names_tests_that_exist() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let doc = std::fs::read_to_string(format!("{root}/docs/formats.md")).unwrap();
        let reference =
            regex_lite::Regex::new(r"`([a-z0-9_/]+\.rs)::(?:[a-z0-9_]+::)*([A-Za-z0-9_]+)`")
                .unwrap();
        let mut missing = Vec::new();
        let mut checked = 0;
        for found in reference.captures_iter(&doc) {
            let (file, test) = (&found[1], &found[2]);
            if file.starts_with("path/") {
                continue; // the page's own example of the notation
            }
            checked += 1;
            let source = std::fs::read_to_string(format!("{root}/{file}")).unwrap_or_default();
            if !source.contains(&format!("fn {test}(")) {
                missing.push(format!("{file}::{test}"));
            }
        }
        assert!(
            checked > 50,
            "only {checked} test references found in docs/formats.md"
        );
        assert!(
            missing.is_empty(),
            "docs/formats.md names tests that do not exist: {missing:#?}"
        );
    }

    /// The committed reference must be what the code declares.
    #[test]
    fn docs_configuration_md_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        let generated = render(Topic::Configuration);
        if committed != generated {
            let line = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
            panic!(
                "docs/configuration.md is stale (first difference at line {}); regenerate it \
                 from the repository's root with:\n\n    {REGENERATE}\n",
                line + 1
            );
        }
    }

    #[test]
    fn every_registered_plugin_and_section_is_documented() {
        let doc = render(Topic::Configuration);
        let classes = plugins::CONNECTORS.iter().map(|p| p.info().class);
        for class in classes.chain(ferry_converters::CONVERTERS.iter().map(|c| c.class)) {
            assert!(doc.contains(&format!("### `{class}`")), "{class}");
        }
        for key in [
            "`group.id`",
            "`tasks.max`",
            "`topics.regex`",
            "`errors.tolerance`",
        ] {
            assert!(doc.contains(&format!("| {key} |")), "{key}");
        }
    }

    #[test]
    fn validators_read_as_their_expectations() {
        let def = ConfigDef::new()
            .define(
                "a",
                Type::Int,
                Default::Null,
                ferry_api::Importance::Low,
                "x | y",
            )
            .with_validator(Validator::between(-1.0, 9.0))
            .define(
                "b",
                Type::String,
                Default::Null,
                ferry_api::Importance::Low,
                "<t>",
            )
            .with_validator(Validator::custom("a name", |v| match v {
                ConfigValue::String(s) if s.is_empty() => Err("a name".into()),
                _ => Ok(()),
            }));
        let mut out = String::new();
        section(&mut out, "## T", "", &def);
        assert!(
            out.contains("| `a` | INT | null | [-1,...,9] | low | x \\| y |"),
            "{out}"
        );
        assert!(
            out.contains("| `b` | STRING | null | a name | low | &lt;t> |"),
            "{out}"
        );
    }
}
