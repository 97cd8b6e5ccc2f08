//! [`ConfigError`]: what went wrong while loading a config, and where.

use std::fmt;

/// A position in a config file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number (in characters), starting at 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What was wrong. The [`fmt::Display`] of a kind is the tail of the one-line message of
/// [`ConfigError`]; the origin, location and key are added in front of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read.
    #[error("cannot read file: {0}")]
    Io(std::io::Error),
    /// The text is not valid in its format (YAML or JSON syntax, a malformed `\uXXXX` escape in
    /// a `.properties` file, more than one YAML document, ...).
    #[error("{0}")]
    Syntax(String),
    /// A value (or the whole document) has the wrong shape.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the format allows here.
        expected: &'static str,
        /// What the text has instead.
        found: String,
    },
    /// The same flattened key is written twice. Each spelling is rendered as the user wrote it,
    /// e.g. `a: {b: ...}` or `a.b`, followed by its line when known.
    #[error("is given twice: as {first} and as {second}")]
    DuplicateKey {
        /// The first spelling, e.g. `"a: {b: ...}" (line 3)`.
        first: String,
        /// The second spelling, e.g. `"a.b" (line 7)`.
        second: String,
    },
    /// A `${provider:...}` reference could not be resolved.
    #[error("cannot resolve {reference}: {cause}")]
    Reference {
        /// The reference as written, e.g. `${env:DB_PASSWORD}`.
        reference: String,
        /// Why, e.g. `environment variable DB_PASSWORD is not set`.
        cause: String,
    },
    /// Anything else that is not valid, explained in words.
    #[error("{0}")]
    Invalid(String),
}

/// An error while loading, parsing or resolving a config.
///
/// It carries the origin (a file path, `REST body`, ...), the config key when the error is
/// about one, the position in the text when known, and what was expected. Its `Display` is a
/// single line in the usual `file:line:column: message` shape, e.g.
///
/// ```text
/// configs/bad.yaml:3:7: key "tasks.max": expected a scalar or a list of scalars, found a list of maps
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{}", Rendered(&self.0))]
pub struct ConfigError(Box<Inner>);

/// Boxed, so that a `Result<_, ConfigError>` stays small.
#[derive(Debug)]
struct Inner {
    origin: Option<String>,
    key: Option<String>,
    location: Option<Location>,
    kind: ConfigErrorKind,
}

impl ConfigError {
    pub(crate) fn new(origin: Option<&str>, kind: ConfigErrorKind) -> Self {
        Self(Box::new(Inner {
            origin: origin.map(str::to_owned),
            key: None,
            location: None,
            kind,
        }))
    }

    pub(crate) fn with_key(mut self, key: impl Into<String>) -> Self {
        self.0.key = Some(key.into());
        self
    }

    pub(crate) fn at(mut self, location: Option<Location>) -> Self {
        self.0.location = location;
        self
    }

    /// Sets the origin (a file path or `REST body`) if the error has none yet; errors from
    /// [`resolve`](super::resolve) have none, because a [`ConfigMap`](super::ConfigMap) does
    /// not know where it came from.
    #[must_use]
    pub fn with_origin(mut self, origin: impl fmt::Display) -> Self {
        if self.0.origin.is_none() {
            self.0.origin = Some(origin.to_string());
        }
        self
    }

    /// Where the config came from: a file path, `REST body`, ...
    pub fn origin(&self) -> Option<&str> {
        self.0.origin.as_deref()
    }

    /// The (flattened) config key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        self.0.key.as_deref()
    }

    /// The position in the text, if known.
    pub fn location(&self) -> Option<Location> {
        self.0.location
    }

    /// What went wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.0.kind
    }
}

/// Renders `origin:line:column: key "k": message`, leaving out the parts that are unknown.
struct Rendered<'a>(&'a Inner);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        let mut prefix = false;
        if let Some(origin) = &e.origin {
            write!(f, "{origin}")?;
            prefix = true;
        }
        if let Some(location) = e.location {
            if !prefix {
                write!(f, "line ")?;
            } else {
                write!(f, ":")?;
            }
            write!(f, "{location}")?;
            prefix = true;
        }
        if prefix {
            write!(f, ": ")?;
        }
        match (&e.key, &e.kind) {
            // "key "a.b" is given twice: ..." reads better without the colon.
            (Some(key), ConfigErrorKind::DuplicateKey { .. }) => {
                write!(f, "key {key:?} {}", e.kind)
            }
            (Some(key), kind) => write!(f, "key {key:?}: {kind}"),
            (None, kind) => write!(f, "{kind}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_every_known_part_on_one_line() {
        let e = ConfigError::new(
            Some("configs/bad.yaml"),
            ConfigErrorKind::Expected {
                expected: "a scalar or a list of scalars",
                found: "a list of maps".into(),
            },
        )
        .with_key("tasks.max")
        .at(Some(Location { line: 3, column: 7 }));
        assert_eq!(
            e.to_string(),
            r#"configs/bad.yaml:3:7: key "tasks.max": expected a scalar or a list of scalars, found a list of maps"#
        );
    }

    #[test]
    fn display_leaves_out_unknown_parts() {
        let e = ConfigError::new(None, ConfigErrorKind::Invalid("bad".into()));
        assert_eq!(e.to_string(), "bad");
        let e = e.with_origin("REST body");
        assert_eq!(e.to_string(), "REST body: bad");
        // An origin that is already set is kept.
        let e = e.with_origin("other");
        assert_eq!(e.origin(), Some("REST body"));
        let e = ConfigError::new(None, ConfigErrorKind::Invalid("bad".into()))
            .at(Some(Location { line: 2, column: 1 }));
        assert_eq!(e.to_string(), "line 2:1: bad");
    }

    #[test]
    fn duplicate_key_reads_as_a_sentence() {
        let e = ConfigError::new(
            Some("c.yaml"),
            ConfigErrorKind::DuplicateKey {
                first: r#""a: {b: ...}" (line 3)"#.into(),
                second: r#""a.b" (line 7)"#.into(),
            },
        )
        .with_key("a.b")
        .at(Some(Location { line: 7, column: 1 }));
        assert_eq!(
            e.to_string(),
            r#"c.yaml:7:1: key "a.b" is given twice: as "a: {b: ...}" (line 3) and as "a.b" (line 7)"#
        );
    }

    #[test]
    fn io_error_names_the_os_error() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = ConfigError::new(Some("x.yaml"), ConfigErrorKind::Io(io));
        assert!(
            e.to_string().starts_with("x.yaml: cannot read file: "),
            "{e}"
        );
    }
}
