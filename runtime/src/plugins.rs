//! The one registry of built-in plugins. The runtime names connector types here and
//! nowhere else.

use ferry_api::{ConfigMap, ConnectError, ConnectorPlugin, Converter};

/// Every built-in connector.
pub static CONNECTORS: &[ConnectorPlugin] = &[
    ferry_file::FILE_SOURCE,
    ferry_file::FILE_SINK,
    ferry_postgres::POSTGRES_SOURCE,
    ferry_postgres::POSTGRES_CDC_SOURCE,
    ferry_postgres::POSTGRES_SINK,
    ferry_s3::S3_SINK,
];

/// The connector plugin of a class name or alias.
pub fn connector(class: &str) -> Option<&'static ConnectorPlugin> {
    CONNECTORS
        .iter()
        .find(|p| p.info().is_named(class))
        .or_else(|| test_connector(class))
}

/// Connectors of the runtime's unit tests ([`testing`]); none in a real build.
#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
fn test_connector(class: &str) -> Option<&'static ConnectorPlugin> {
    testing::PLUGINS.iter().find(|p| p.info().is_named(class))
}

#[cfg(not(test))]
fn test_connector(_class: &str) -> Option<&'static ConnectorPlugin> {
    None
}

/// A configured converter of a class name or alias.
pub fn converter(
    class: &str,
    config: &ConfigMap,
    is_key: bool,
) -> Result<Box<dyn Converter>, ConnectError> {
    let plugin = ferry_converters::converter_plugin(class).ok_or_else(|| {
        let known: Vec<&str> = ferry_converters::CONVERTERS
            .iter()
            .map(|c| c.class)
            .collect();
        ConnectError::Config(format!(
            "unknown converter class \"{class}\" (known: {})",
            known.join(", ")
        ))
    })?;
    let mut converter = (plugin.new)();
    converter.configure(config, is_key)?;
    Ok(converter)
}

/// Every class name users may write in `connector.class`, for error messages.
pub fn connector_names() -> Vec<&'static str> {
    CONNECTORS
        .iter()
        .flat_map(|p| std::iter::once(p.info().class).chain(p.info().aliases.iter().copied()))
        .collect()
}
