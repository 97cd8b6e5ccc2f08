//! `ferry-converters`: Kafka Connect's converters (Connect data ⇄ record bytes), byte for
//! byte as the Java ones, for the runtime and for connectors that write a converter's format
//! themselves (the S3 sink's JsonFormat).
//!
//! Each converter is a module named after it; [`CONVERTERS`] is the one list that registers
//! them under their Kafka class names and short aliases. [`to_schemaless_json`] and
//! [`from_schemaless_json`] are the JSON of the worker's internal topics.

pub mod byte_array;
pub mod json;
pub mod string;

pub use byte_array::ByteArrayConverter;
pub use ferry_api::Converter;
pub use json::{JsonConverter, from_schemaless_json, to_schemaless_json};
pub use string::StringConverter;

/// A converter plugin: its Kafka class name, the short names it also answers to, and a
/// constructor of an unconfigured instance.
#[derive(Debug)]
pub struct ConverterPlugin {
    /// Kafka's fully qualified class name (`org.apache.kafka.connect.json.JsonConverter`).
    pub class: &'static str,
    /// Short names, as Kafka's plugin aliases: the simple class name and the name without
    /// the `Converter` suffix.
    pub aliases: &'static [&'static str],
    /// A new, unconfigured converter.
    pub new: fn() -> Box<dyn Converter>,
}

/// Every converter Ferry ships.
pub static CONVERTERS: &[ConverterPlugin] = &[
    ConverterPlugin {
        class: "org.apache.kafka.connect.json.JsonConverter",
        aliases: &["JsonConverter", "Json"],
        new: || Box::new(JsonConverter::new()),
    },
    ConverterPlugin {
        class: "org.apache.kafka.connect.storage.StringConverter",
        aliases: &["StringConverter", "String"],
        new: || Box::new(StringConverter::new()),
    },
    ConverterPlugin {
        class: "org.apache.kafka.connect.converters.ByteArrayConverter",
        aliases: &["ByteArrayConverter", "ByteArray"],
        new: || Box::new(ByteArrayConverter::new()),
    },
];

/// The converter registered under `name` (a class name or an alias; case-sensitive, as
/// Kafka's plugin lookup).
pub fn converter_plugin(name: &str) -> Option<&'static ConverterPlugin> {
    let name = name.trim();
    CONVERTERS
        .iter()
        .find(|p| p.class == name || p.aliases.contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_are_found_by_class_and_alias() {
        for (name, class) in [
            (
                "org.apache.kafka.connect.json.JsonConverter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            (
                "JsonConverter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("Json", "org.apache.kafka.connect.json.JsonConverter"),
            (
                "StringConverter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            (
                "org.apache.kafka.connect.converters.ByteArrayConverter",
                "org.apache.kafka.connect.converters.ByteArrayConverter",
            ),
            (
                "ByteArray",
                "org.apache.kafka.connect.converters.ByteArrayConverter",
            ),
        ] {
            assert_eq!(
                converter_plugin(name).map(|p| p.class),
                Some(class),
                "{name}"
            );
        }
        assert!(converter_plugin("jsonconverter").is_none());
        assert!(converter_plugin("AvroConverter").is_none());
    }

    #[test]
    fn every_plugin_builds_and_accepts_an_empty_config() {
        for plugin in CONVERTERS {
            let mut c = (plugin.new)();
            c.configure(&Default::default(), false).unwrap();
            let def = c.config_def();
            assert!(
                def.validate(&Default::default()).is_empty(),
                "{}",
                plugin.class
            );
        }
    }
}
