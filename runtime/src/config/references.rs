//! `${env:NAME}` and `${file:path:key}` references in config values.

use std::collections::HashMap;
use std::env::VarError;
use std::path::Path;

use super::ConfigMap;
use super::error::{ConfigError, ConfigErrorKind};

/// Replaces the `${provider:...}` references in the values of `map`.
///
/// A reference has Kafka's syntax, `${provider:key}` or `${provider:path:key}` (Kafka's pattern
/// `\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}`): the provider runs to the first `:`, the path to the
/// next `:`, and the key is the rest, up to the first `}`. A value may hold several references
/// anywhere in it. Two providers are known:
///
/// - `${env:NAME}`: the environment variable `NAME` (Kafka's `EnvVarConfigProvider`; a path is
///   an error).
/// - `${file:path:key}`: the value of `key` in the `.properties` file at `path`, relative to
///   the working directory (Kafka's `FileConfigProvider`). Each file is read once per call.
///
/// Differences from Kafka Connect, on purpose:
///
/// - Kafka resolves only the providers listed in `config.providers` (and configured with
///   `config.providers.<name>.class`); Ferry always resolves `env` and `file`, and needs no
///   `config.providers`.
/// - Kafka leaves a reference as it is when the variable or key does not exist; Ferry refuses
///   the config, with an error naming the config key, the reference and the cause, so that a
///   typo does not reach a connector as a literal `${...}`.
///
/// Like Kafka: a reference to any other provider (`${vault:...}`), and text that does not
/// match the pattern (`${novalue}`, a `${` with no `}`), are left untouched; there is no escape
/// (`$${env:X}` is `$` followed by the value of `X`); and resolved text is not scanned again.
///
/// Errors have no origin, since a map does not know where it came from: add one with
/// [`ConfigError::with_origin`].
pub fn resolve(map: &ConfigMap) -> Result<ConfigMap, ConfigError> {
    resolve_with(map, &|name: &str| std::env::var(name))
}

/// [`resolve`], reading environment variables through `env`.
fn resolve_with(
    map: &ConfigMap,
    env: &dyn Fn(&str) -> Result<String, VarError>,
) -> Result<ConfigMap, ConfigError> {
    let mut files = FileCache::default();
    map.iter()
        .map(|(key, value)| {
            let resolved =
                resolve_value(value, env, &mut files).map_err(|(reference, cause)| {
                    ConfigError::new(
                        None,
                        ConfigErrorKind::Reference {
                            reference: reference.to_owned(),
                            cause,
                        },
                    )
                    .with_key(key)
                })?;
            Ok((key.clone(), resolved))
        })
        .collect()
}

/// One match of Kafka's reference pattern.
#[derive(Debug, PartialEq)]
struct Reference<'a> {
    /// The whole `${...}`.
    text: &'a str,
    provider: &'a str,
    path: Option<&'a str>,
    key: &'a str,
}

/// Finds the references in `value`, with their byte offsets, as Kafka's regex would.
fn find_references(value: &str) -> Vec<(usize, Reference<'_>)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = value[from..].find("${") {
        let start = from + i;
        let inner_start = start + 2;
        // No `}` further on: no later `${` can match either.
        let Some(j) = value[inner_start..].find('}') else {
            break;
        };
        let end = inner_start + j;
        let inner = &value[inner_start..end];
        match inner.split_once(':') {
            Some((provider, rest)) => {
                let (path, key) = match rest.split_once(':') {
                    Some((path, key)) => (Some(path), key),
                    None => (None, rest),
                };
                found.push((
                    start,
                    Reference {
                        text: &value[start..=end],
                        provider,
                        path,
                        key,
                    },
                ));
                from = end + 1;
            }
            // `${novalue}`: no match here; a match may still start inside it.
            None => from = start + 1,
        }
    }
    found
}

/// The `.properties` files read so far, by path (or why they could not be read).
#[derive(Debug, Default)]
struct FileCache {
    files: HashMap<String, Result<ConfigMap, String>>,
}

impl FileCache {
    fn get(&mut self, path: &str) -> &Result<ConfigMap, String> {
        self.files.entry(path.to_owned()).or_insert_with(|| {
            match super::load_properties(Path::new(path)) {
                Ok(map) => Ok(map),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

/// Resolves the references in one value; on error, the reference and the cause.
fn resolve_value<'v>(
    value: &'v str,
    env: &dyn Fn(&str) -> Result<String, VarError>,
    files: &mut FileCache,
) -> Result<String, (&'v str, String)> {
    let references = find_references(value);
    if references.is_empty() {
        return Ok(value.to_owned());
    }
    let mut out = String::with_capacity(value.len());
    let mut copied = 0;
    for (start, reference) in references {
        let replacement = match (reference.provider, reference.path) {
            ("env", None) => match env(reference.key) {
                Ok(v) => v,
                Err(VarError::NotPresent) => {
                    let cause = format!("environment variable {} is not set", reference.key);
                    return Err((reference.text, cause));
                }
                Err(VarError::NotUnicode(_)) => {
                    let cause = format!("environment variable {} is not UTF-8", reference.key);
                    return Err((reference.text, cause));
                }
            },
            ("env", Some(_)) => {
                let cause = "the env provider takes no path: write ${env:NAME}".to_owned();
                return Err((reference.text, cause));
            }
            ("file", Some(path)) => match files.get(path) {
                Ok(map) => match map.get(reference.key) {
                    Some(v) => v.clone(),
                    None => {
                        let cause = format!("no key {:?} in {path}", reference.key);
                        return Err((reference.text, cause));
                    }
                },
                Err(cause) => return Err((reference.text, cause.clone())),
            },
            ("file", None) => {
                let cause = "the file provider needs a path: write ${file:PATH:KEY}".to_owned();
                return Err((reference.text, cause));
            }
            // Another provider: untouched, as in Kafka.
            _ => continue,
        };
        out.push_str(&value[copied..start]);
        out.push_str(&replacement);
        copied = start + reference.text.len();
    }
    out.push_str(&value[copied..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Result<String, VarError> {
        match name {
            "USER" => Ok("ferry".to_owned()),
            "PASSWORD" => Ok("s3cr3t".to_owned()),
            "TRICKY" => Ok("${env:USER}".to_owned()),
            _ => Err(VarError::NotPresent),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn resolve_ok(pairs: &[(&str, &str)]) -> ConfigMap {
        match resolve_with(&map(pairs), &env) {
            Ok(map) => map,
            Err(e) => panic!("{e}"),
        }
    }

    fn resolve_err(pairs: &[(&str, &str)]) -> String {
        match resolve_with(&map(pairs), &env) {
            Ok(map) => panic!("expected an error, got {map:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn env_references_anywhere_and_several_per_value() {
        let resolved = resolve_ok(&[
            ("a", "${env:USER}"),
            ("url", "postgres://${env:USER}:${env:PASSWORD}@db/x"),
            ("plain", "no references"),
        ]);
        assert_eq!(
            resolved,
            map(&[
                ("a", "ferry"),
                ("plain", "no references"),
                ("url", "postgres://ferry:s3cr3t@db/x"),
            ])
        );
    }

    #[test]
    fn text_that_does_not_match_and_other_providers_are_untouched() {
        for value in [
            "${novalue}",
            "${env:USER",
            "$ {env:USER}",
            "${vault:secret/db:password}",
            "plain $ and { and }",
        ] {
            assert_eq!(resolve_ok(&[("k", value)])["k"], value);
        }
        // A failed match does not hide a later one.
        assert_eq!(resolve_ok(&[("k", "${x} ${env:USER}")])["k"], "${x} ferry");
    }

    #[test]
    fn no_escape_and_no_rescan() {
        assert_eq!(resolve_ok(&[("k", "$${env:USER}")])["k"], "$ferry");
        assert_eq!(resolve_ok(&[("k", "${env:TRICKY}")])["k"], "${env:USER}");
    }

    #[test]
    fn unknown_env_var_is_an_error_naming_key_reference_and_cause() {
        assert_eq!(
            resolve_err(&[("db.password", "x${env:NOPE}y")]),
            r#"key "db.password": cannot resolve ${env:NOPE}: environment variable NOPE is not set"#
        );
        assert_eq!(
            resolve_err(&[("k", "${env:a:b}")]),
            r#"key "k": cannot resolve ${env:a:b}: the env provider takes no path: write ${env:NAME}"#
        );
    }

    #[test]
    fn real_environment() {
        // Cargo sets this for the tests it runs.
        let Ok(expected) = std::env::var("CARGO_MANIFEST_DIR") else {
            return;
        };
        let resolved = match resolve(&map(&[("dir", "${env:CARGO_MANIFEST_DIR}/x")])) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(resolved["dir"], format!("{expected}/x"));
    }

    #[test]
    fn file_references() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.properties");
        std::fs::write(&secrets, "# secrets\nuser=app\npassword = p:w=d\n").unwrap();
        let secrets = secrets.display().to_string();
        let resolved = resolve_ok(&[
            ("user", &format!("${{file:{secrets}:user}}")),
            (
                "url",
                &format!("jdbc://${{file:{secrets}:user}}:${{file:{secrets}:password}}@h"),
            ),
        ]);
        assert_eq!(resolved["user"], "app");
        assert_eq!(resolved["url"], "jdbc://app:p:w=d@h");
    }

    #[test]
    fn file_reference_errors() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.properties");
        std::fs::write(&secrets, "user=app\n").unwrap();
        let secrets = secrets.display().to_string();

        let reference = format!("${{file:{secrets}:password}}");
        assert_eq!(
            resolve_err(&[("db.password", &reference)]),
            format!(
                r#"key "db.password": cannot resolve {reference}: no key "password" in {secrets}"#
            )
        );

        let missing = dir.path().join("missing.properties").display().to_string();
        let reference = format!("${{file:{missing}:password}}");
        let e = resolve_err(&[("db.password", &reference)]);
        assert!(
            e.starts_with(&format!(
                r#"key "db.password": cannot resolve {reference}: {missing}: cannot read file: "#
            )),
            "{e}"
        );
        assert!(e.contains("os error"), "{e}");

        assert_eq!(
            resolve_err(&[("k", "${file:password}")]),
            r#"key "k": cannot resolve ${file:password}: the file provider needs a path: write ${file:PATH:KEY}"#
        );
    }

    #[test]
    fn find_references_follows_kafkas_pattern() {
        let found = find_references("a${file:/p/x.properties:k:with:colons}b${env:X}");
        let found: Vec<_> = found.into_iter().map(|(_, r)| r).collect();
        assert_eq!(
            found,
            vec![
                Reference {
                    text: "${file:/p/x.properties:k:with:colons}",
                    provider: "file",
                    path: Some("/p/x.properties"),
                    key: "k:with:colons",
                },
                Reference {
                    text: "${env:X}",
                    provider: "env",
                    path: None,
                    key: "X",
                },
            ]
        );
        assert!(find_references("${a}${b}").is_empty());
    }
}
