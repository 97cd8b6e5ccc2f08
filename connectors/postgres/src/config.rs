//! Config keys shared by the JDBC-style connectors (Confluent's names): where the database
//! is, and the connection retry budget.

use std::time::Duration;

use ferry_api::config::{Int, Key, Long, Opt, Password, Str, Validator};
use ferry_api::{ConfigDef, ConfigValue, ConnectError, Importance, ParsedConfig};

use crate::connection::{Endpoint, Retry};

pub(crate) const CONNECTION_URL: Key<Str> = Key::required(
    "connection.url",
    Importance::High,
    "JDBC connection URL (jdbc:postgresql://host:port/database?user=...) or a libpq URL (postgres://user@host:port/database).",
)
.with_validator(Validator::custom("a jdbc:postgresql:// or postgres:// URL", |v| match v {
    ConfigValue::String(s) => Endpoint::parse_url(s, None, None)
        .map(|_| ())
        .map_err(|e| match e {
            crate::Error::Url { reason, .. } => reason,
            other => other.to_string(),
        }),
    _ => Ok(()),
}));
pub(crate) const CONNECTION_USER: Key<Opt<Str>> = Key::optional(
    "connection.user",
    Importance::High,
    "JDBC connection user (wins over a user in the URL).",
);
pub(crate) const CONNECTION_PASSWORD: Key<Opt<Password>> = Key::optional(
    "connection.password",
    Importance::High,
    "JDBC connection password (wins over a password in the URL).",
);
pub(crate) const CONNECTION_ATTEMPTS: Key<Int> = Key::new(
    "connection.attempts",
    3,
    Importance::Low,
    "Maximum number of attempts to retrieve a valid JDBC connection. Must be a positive integer.",
)
.with_validator(Validator::at_least(1.0));
pub(crate) const CONNECTION_BACKOFF: Key<Long> = Key::new(
    "connection.backoff.ms",
    10_000,
    Importance::Low,
    "Backoff time in milliseconds between connection attempts.",
)
.with_validator(Validator::at_least(0.0));

/// `connection.*`.
pub(crate) fn connection_def() -> ConfigDef {
    ConfigDef::new()
        .declare(&CONNECTION_URL)
        .declare(&CONNECTION_USER)
        .declare(&CONNECTION_PASSWORD)
        .declare(&CONNECTION_ATTEMPTS)
        .declare(&CONNECTION_BACKOFF)
}

/// The endpoint and connection retry budget of a parsed config.
pub(crate) fn connection(config: &ParsedConfig) -> Result<(Endpoint, Retry), ConnectError> {
    let endpoint = Endpoint::parse_url(
        config.value(&CONNECTION_URL)?,
        config.value(&CONNECTION_USER)?,
        config.value(&CONNECTION_PASSWORD)?,
    )?;
    let retry = Retry {
        attempts: config.value(&CONNECTION_ATTEMPTS)?.max(1) as u32,
        backoff: Duration::from_millis(config.value(&CONNECTION_BACKOFF)?.max(0) as u64),
    };
    Ok((endpoint, retry))
}
