//! Kafka Connect's `JsonConverter` (`org.apache.kafka.connect.json.JsonConverter`), and the
//! schemaless JSON of the worker's internal topics.

mod converter;
mod parse;
mod path;
mod read;
mod write;

#[cfg(test)]
mod tests;

pub use converter::{
    DECIMAL_FORMAT_CONFIG, DECIMAL_FORMAT_DEFAULT, DecimalFormat, JsonConverter,
    REPLACE_NULL_WITH_DEFAULT_CONFIG, REPLACE_NULL_WITH_DEFAULT_DEFAULT, SCHEMAS_CACHE_SIZE_CONFIG,
    SCHEMAS_CACHE_SIZE_DEFAULT, SCHEMAS_ENABLE_CONFIG, SCHEMAS_ENABLE_DEFAULT,
    from_schemaless_json, json_converter_config_def, to_schemaless_json,
};
