//! HTTP-level tests of the REST API and the `ferry connectors` CLI.
