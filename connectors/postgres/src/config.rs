//! Config keys shared by the JDBC-style connectors (Confluent's names): where the database
//! is, and the connection retry budget.

use std::time::Duration;

use ferry_api::config::{Default, Validator};
use ferry_api::{ConfigDef, ConfigType, ConfigValue, Importance, ParsedConfig};

use crate::connection::{Endpoint, Retry};
use crate::error::Result;

pub(crate) const CONNECTION_URL: &str = "connection.url";
pub(crate) const CONNECTION_USER: &str = "connection.user";
pub(crate) const CONNECTION_PASSWORD: &str = "connection.password";
pub(crate) const CONNECTION_ATTEMPTS: &str = "connection.attempts";
pub(crate) const CONNECTION_BACKOFF: &str = "connection.backoff.ms";

/// `connection.*`.
pub(crate) fn connection_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            CONNECTION_URL,
            ConfigType::String,
            Default::Required,
            Importance::High,
            "JDBC connection URL (jdbc:postgresql://host:port/database?user=...) or a libpq URL (postgres://user@host:port/database).",
        )
        .with_validator(Validator::Custom(|v| match v {
            ConfigValue::String(s) => Endpoint::parse_url(s, None, None)
                .map(|_| ())
                .map_err(|e| match e {
                    crate::Error::Url { reason, .. } => reason,
                    other => other.to_string(),
                }),
            _ => Ok(()),
        }))
        .define(
            CONNECTION_USER,
            ConfigType::String,
            Default::Null,
            Importance::High,
            "JDBC connection user (wins over a user in the URL).",
        )
        .define(
            CONNECTION_PASSWORD,
            ConfigType::Password,
            Default::Null,
            Importance::High,
            "JDBC connection password (wins over a password in the URL).",
        )
        .define(
            CONNECTION_ATTEMPTS,
            ConfigType::Int,
            Default::Value(ConfigValue::Int(3)),
            Importance::Low,
            "Maximum number of attempts to retrieve a valid JDBC connection. Must be a positive integer.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            CONNECTION_BACKOFF,
            ConfigType::Long,
            Default::Value(ConfigValue::Long(10_000)),
            Importance::Low,
            "Backoff time in milliseconds between connection attempts.",
        )
        .with_validator(Validator::at_least(0.0))
}

/// The endpoint and connection retry budget of a parsed config.
pub(crate) fn connection(config: &ParsedConfig) -> Result<(Endpoint, Retry)> {
    let url = config.string(CONNECTION_URL).ok().flatten().unwrap_or("");
    let endpoint = Endpoint::parse_url(
        url,
        config.string(CONNECTION_USER).ok().flatten(),
        config.string(CONNECTION_PASSWORD).ok().flatten(),
    )?;
    let retry = Retry {
        attempts: config
            .int(CONNECTION_ATTEMPTS)
            .ok()
            .flatten()
            .unwrap_or(3)
            .max(1) as u32,
        backoff: Duration::from_millis(
            config
                .long(CONNECTION_BACKOFF)
                .ok()
                .flatten()
                .unwrap_or(10_000)
                .max(0) as u64,
        ),
    };
    Ok((endpoint, retry))
}

/// A STRING value or its default (for keys declared with one).
pub(crate) fn string(config: &ParsedConfig, key: &str) -> String {
    config
        .string(key)
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_string()
}

/// A LIST value (empty when null).
pub(crate) fn list(config: &ParsedConfig, key: &str) -> Vec<String> {
    config
        .list(key)
        .ok()
        .flatten()
        .map(<[String]>::to_vec)
        .unwrap_or_default()
}

/// An integer value (0 when null).
pub(crate) fn long(config: &ParsedConfig, key: &str) -> i64 {
    config.long(key).ok().flatten().unwrap_or(0)
}

/// A BOOLEAN value (false when null).
pub(crate) fn boolean(config: &ParsedConfig, key: &str) -> bool {
    config.boolean(key).ok().flatten().unwrap_or(false)
}
