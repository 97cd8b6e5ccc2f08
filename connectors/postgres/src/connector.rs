//! What the `Connector` implementations of this crate have in common.

/// The `Connector` methods that only consult the connector's `config` module (named by
/// `$config`, which declares `config_def()` and `validate()`): the crate's version, the
/// config declaration and its validation.
///
/// `start` is left to each connector: `async_trait` rewrites the `async fn`s it sees in the
/// `impl` block, not those a macro expands to later.
macro_rules! config_methods {
    ($config:ident) => {
        fn version(&self) -> &'static str {
            crate::VERSION
        }

        fn config_def(&self) -> ferry_api::ConfigDef {
            $config::config_def()
        }

        fn validate(&self, config: &ferry_api::ConfigMap) -> Vec<ferry_api::ConfigIssue> {
            $config::validate(config)
        }
    };
}

pub(crate) use config_methods;
