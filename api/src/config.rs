//! Config declarations: each key is declared once (name, type, default, importance, doc,
//! validator), and that declaration drives parsing, validation, REST `validate` and docs.
//!
//! Values arrive as Kafka Connect's flat string map ([`ConfigMap`]) and are parsed with
//! Kafka's rules (`ConfigDef.parseType`): booleans are `true`/`false` in any case, numbers are
//! trimmed, lists are comma separated with each item trimmed.
//!
//! A component declares each key as a typed [`Key`] constant, builds its [`ConfigDef`] from
//! those constants ([`ConfigDef::declare`]) and reads them back typed
//! ([`ParsedConfig::value`]), so a default is written only in the declaration:
//!
//! ```
//! use ferry_api::config::{ConfigDef, Importance, Int, Key, Opt, Str, Validator};
//!
//! const FILE: Key<Opt<Str>> = Key::optional("file", Importance::High, "The file.");
//! const BATCH_SIZE: Key<Int> = Key::new("batch.size", 2000, Importance::Low, "Lines per poll.")
//!     .with_validator(Validator::at_least(1.0));
//!
//! let def = ConfigDef::new().declare(&FILE).declare(&BATCH_SIZE);
//! let parsed = def.parse(&Default::default()).map_err(|issues| issues[0].to_string())?;
//! assert_eq!(parsed.value(&FILE)?, None);
//! assert_eq!(parsed.value(&BATCH_SIZE)?, 2000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use crate::error::ConnectError;

/// Kafka Connect's flat config map.
pub type ConfigMap = BTreeMap<String, String>;

/// The text shown instead of a password.
pub const HIDDEN: &str = "[hidden]";

/// The type of a config key (Kafka's `ConfigDef.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `true` / `false`.
    Boolean,
    /// Text.
    String,
    /// 32-bit integer.
    Int,
    /// 16-bit integer.
    Short,
    /// 64-bit integer.
    Long,
    /// Floating point.
    Double,
    /// Comma-separated list.
    List,
    /// A class (plugin) name.
    Class,
    /// Secret text: never shown, never logged.
    Password,
}

impl Type {
    /// Kafka's name of the type (`INT`, `LIST`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Type::Boolean => "BOOLEAN",
            Type::String => "STRING",
            Type::Int => "INT",
            Type::Short => "SHORT",
            Type::Long => "LONG",
            Type::Double => "DOUBLE",
            Type::List => "LIST",
            Type::Class => "CLASS",
            Type::Password => "PASSWORD",
        }
    }
    fn expectation(self) -> &'static str {
        match self {
            Type::Boolean => "true or false",
            Type::String | Type::Class | Type::Password => "a string",
            Type::Int => "a 32-bit integer",
            Type::Short => "a 16-bit integer",
            Type::Long => "a 64-bit integer",
            Type::Double => "a number",
            Type::List => "a comma-separated list",
        }
    }
}

/// How much a key matters to users (Kafka's `ConfigDef.Importance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Most users set it.
    High,
    /// Some users set it.
    Medium,
    /// Rarely set.
    Low,
}

impl Importance {
    /// `HIGH`, `MEDIUM` or `LOW`.
    pub fn name(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

/// A parsed config value.
#[derive(Clone, PartialEq)]
pub enum ConfigValue {
    /// BOOLEAN.
    Boolean(bool),
    /// STRING.
    String(String),
    /// INT.
    Int(i32),
    /// SHORT.
    Short(i16),
    /// LONG.
    Long(i64),
    /// DOUBLE.
    Double(f64),
    /// LIST.
    List(Vec<String>),
    /// CLASS.
    Class(String),
    /// PASSWORD; `Debug` and `Display` show [`HIDDEN`].
    Password(String),
}

impl fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Password(_) => f.write_str(HIDDEN),
            other => write!(f, "{other}"),
        }
    }
}

/// The value as it would be written in a config file (passwords hidden).
impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Boolean(v) => write!(f, "{v}"),
            ConfigValue::String(v) | ConfigValue::Class(v) => f.write_str(v),
            ConfigValue::Int(v) => write!(f, "{v}"),
            ConfigValue::Short(v) => write!(f, "{v}"),
            ConfigValue::Long(v) => write!(f, "{v}"),
            ConfigValue::Double(v) => write!(f, "{v}"),
            ConfigValue::List(v) => f.write_str(&v.join(",")),
            ConfigValue::Password(_) => f.write_str(HIDDEN),
        }
    }
}

/// A check of a parsed value; returns what was expected when the value is wrong.
#[derive(Clone, Copy)]
pub enum Validator {
    /// A number within `[min, max]` (either bound optional).
    Range {
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
    /// One of the given strings (case-sensitive, as Kafka's `ValidString`).
    OneOf(&'static [&'static str]),
    /// One of the given strings, ignoring case (Kafka's `CaseInsensitiveValidString`).
    OneOfIgnoreCase(&'static [&'static str]),
    /// A string that is not empty.
    NonEmptyString,
    /// Any check ([`Validator::custom`]).
    Custom {
        /// What a valid value is, for documentation (`ferry docs`, REST `validate`).
        expected: &'static str,
        /// The check; returns what was expected (which may be more precise than
        /// `expected`) when the value is wrong.
        check: fn(&ConfigValue) -> Result<(), String>,
    },
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Range { min, max } => write!(f, "Range({min:?}, {max:?})"),
            Validator::OneOf(v) | Validator::OneOfIgnoreCase(v) => write!(f, "OneOf({v:?})"),
            Validator::NonEmptyString => f.write_str("NonEmptyString"),
            Validator::Custom { expected, .. } => write!(f, "Custom({expected:?})"),
        }
    }
}

impl Validator {
    /// A check of its own: `expected` says what a valid value is, for documentation;
    /// `check` returns what was expected when a value is wrong.
    pub const fn custom(
        expected: &'static str,
        check: fn(&ConfigValue) -> Result<(), String>,
    ) -> Validator {
        Validator::Custom { expected, check }
    }

    /// A number at least `min`.
    pub const fn at_least(min: f64) -> Validator {
        Validator::Range {
            min: Some(min),
            max: None,
        }
    }
    /// A number within `[min, max]`.
    pub const fn between(min: f64, max: f64) -> Validator {
        Validator::Range {
            min: Some(min),
            max: Some(max),
        }
    }

    fn check(&self, value: &ConfigValue) -> Result<(), String> {
        match self {
            Validator::Range { min, max } => {
                let n = match value {
                    ConfigValue::Int(v) => *v as f64,
                    ConfigValue::Short(v) => *v as f64,
                    ConfigValue::Long(v) => *v as f64,
                    ConfigValue::Double(v) => *v,
                    _ => return Ok(()),
                };
                let fmt_bound = |b: f64| {
                    if b.fract() == 0.0 {
                        format!("{}", b as i64)
                    } else {
                        format!("{b}")
                    }
                };
                match (min, max) {
                    (Some(lo), Some(hi)) if n < *lo || n > *hi => Err(format!(
                        "a value between {} and {}",
                        fmt_bound(*lo),
                        fmt_bound(*hi)
                    )),
                    (Some(lo), None) if n < *lo => {
                        Err(format!("a value of at least {}", fmt_bound(*lo)))
                    }
                    (None, Some(hi)) if n > *hi => {
                        Err(format!("a value of at most {}", fmt_bound(*hi)))
                    }
                    _ => Ok(()),
                }
            }
            Validator::OneOf(allowed) | Validator::OneOfIgnoreCase(allowed) => {
                let ignore_case = matches!(self, Validator::OneOfIgnoreCase(_));
                let matches = |s: &str| {
                    allowed.iter().any(|a| {
                        if ignore_case {
                            a.eq_ignore_ascii_case(s)
                        } else {
                            *a == s
                        }
                    })
                };
                let ok = match value {
                    ConfigValue::String(s) | ConfigValue::Class(s) => matches(s),
                    ConfigValue::List(items) => items.iter().all(|s| matches(s)),
                    _ => true,
                };
                if ok {
                    Ok(())
                } else {
                    Err(format!("one of {}", allowed.join(", ")))
                }
            }
            Validator::NonEmptyString => match value {
                ConfigValue::String(s) if s.trim().is_empty() => Err("a non-empty string".into()),
                _ => Ok(()),
            },
            Validator::Custom { check, .. } => check(value),
        }
    }
}

/// The default of a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Default {
    /// The key must be given.
    Required,
    /// Absent means null (Kafka's `null` default).
    Null,
    /// Absent means this value.
    Value(ConfigValue),
}

/// One declared key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    /// Dotted name, as in Kafka (`tasks.max`).
    pub name: &'static str,
    /// Type.
    pub ty: Type,
    /// Default.
    pub default: Default,
    /// Importance.
    pub importance: Importance,
    /// User documentation.
    pub doc: &'static str,
    /// Optional check.
    pub validator: Option<Validator>,
}

/// A problem with one key of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key.
    pub key: String,
    /// The value given, if any (passwords are [`HIDDEN`]).
    pub value: Option<String>,
    /// What was expected, or what is wrong.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "key \"{}\": value \"{}\": {}", self.key, v, self.message),
            None => write!(f, "key \"{}\": {}", self.key, self.message),
        }
    }
}

/// The declared keys of a component.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    /// No keys.
    pub fn new() -> Self {
        ConfigDef::default()
    }

    /// Declares a key from its parts, for keys only known at run time (a typed [`Key`] with
    /// [`ConfigDef::declare`] is the usual way). Declaring a name twice replaces the first
    /// declaration.
    pub fn define(
        self,
        name: &'static str,
        ty: Type,
        default: Default,
        importance: Importance,
        doc: &'static str,
    ) -> Self {
        self.insert(ConfigKey {
            name,
            ty,
            default,
            importance,
            doc,
            validator: None,
        })
    }

    /// Declares a typed key (its validator included). Declaring a name twice replaces the
    /// first declaration.
    pub fn declare<S: Shape>(self, key: &Key<S>) -> Self {
        self.insert(key.declaration())
    }

    fn insert(mut self, key: ConfigKey) -> Self {
        match self.keys.iter_mut().find(|k| k.name == key.name) {
            Some(slot) => *slot = key,
            None => self.keys.push(key),
        }
        self
    }

    /// Sets the validator of the key declared last.
    pub fn with_validator(mut self, validator: Validator) -> Self {
        if let Some(k) = self.keys.last_mut() {
            k.validator = Some(validator);
        }
        self
    }

    /// Adds every key of `other` (later declarations win).
    pub fn merge(mut self, other: &ConfigDef) -> Self {
        for key in &other.keys {
            match self.keys.iter_mut().find(|k| k.name == key.name) {
                Some(slot) => *slot = key.clone(),
                None => self.keys.push(key.clone()),
            }
        }
        self
    }

    /// The declared keys, in declaration order.
    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    /// A declared key.
    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Every problem of `config`, one per key (missing, wrong type, failed validator).
    pub fn validate(&self, config: &ConfigMap) -> Vec<ConfigIssue> {
        match self.parse(config) {
            Ok(_) => Vec::new(),
            Err(issues) => issues,
        }
    }

    /// Parses and validates `config`, reporting every problem at once. Keys that are not
    /// declared are kept in [`ParsedConfig::originals`] but not checked (connectors and
    /// the worker share one map, as in Kafka Connect).
    pub fn parse(&self, config: &ConfigMap) -> Result<ParsedConfig, Vec<ConfigIssue>> {
        let mut values = BTreeMap::new();
        let mut issues = Vec::new();
        for key in &self.keys {
            let raw = config.get(key.name);
            let parsed = match raw {
                Some(text) => match parse_value(key.ty, text) {
                    Some(v) => Some(v),
                    None => {
                        issues.push(ConfigIssue {
                            key: key.name.to_string(),
                            value: Some(shown(key.ty, text)),
                            message: format!(
                                "expected {} ({})",
                                key.ty.expectation(),
                                key.ty.name()
                            ),
                        });
                        continue;
                    }
                },
                None => match &key.default {
                    Default::Required => {
                        issues.push(ConfigIssue {
                            key: key.name.to_string(),
                            value: None,
                            message: format!(
                                "missing required key (expected {}): {}",
                                key.ty.expectation(),
                                key.doc
                            ),
                        });
                        continue;
                    }
                    Default::Null => None,
                    Default::Value(v) => Some(v.clone()),
                },
            };
            if let (Some(v), Some(validator)) = (&parsed, &key.validator)
                && let Err(expected) = validator.check(v)
            {
                issues.push(ConfigIssue {
                    key: key.name.to_string(),
                    value: Some(shown(key.ty, raw.map(String::as_str).unwrap_or(""))),
                    message: format!("expected {expected}"),
                });
                continue;
            }
            values.insert(key.name, parsed);
        }
        if issues.is_empty() {
            Ok(ParsedConfig {
                values,
                originals: config.clone(),
            })
        } else {
            Err(issues)
        }
    }

    /// Parses `config` for use by a component that is starting: every problem becomes part of
    /// one [`ConnectError::Config`] (validation, which reports them one by one, comes first).
    pub fn parse_for_use(&self, config: &ConfigMap) -> Result<ParsedConfig, ConnectError> {
        self.parse(config).map_err(|issues| {
            ConnectError::Config(
                issues
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }

    /// A copy of `config` with the values of PASSWORD keys replaced by [`HIDDEN`].
    pub fn mask(&self, config: &ConfigMap) -> ConfigMap {
        config
            .iter()
            .map(|(k, v)| {
                let hidden = self.key(k).is_some_and(|key| key.ty == Type::Password);
                (
                    k.clone(),
                    if hidden {
                        HIDDEN.to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    }
}

fn shown(ty: Type, text: &str) -> String {
    if ty == Type::Password {
        HIDDEN.to_string()
    } else {
        text.to_string()
    }
}

/// Parses one value with Kafka's rules for `ty`; `None` when it is not of that type.
fn parse_value(ty: Type, text: &str) -> Option<ConfigValue> {
    let t = text.trim();
    Some(match ty {
        Type::Boolean => {
            if t.eq_ignore_ascii_case("true") {
                ConfigValue::Boolean(true)
            } else if t.eq_ignore_ascii_case("false") {
                ConfigValue::Boolean(false)
            } else {
                return None;
            }
        }
        Type::String => ConfigValue::String(t.to_string()),
        Type::Class => ConfigValue::Class(t.to_string()),
        Type::Password => ConfigValue::Password(text.to_string()),
        Type::Int => ConfigValue::Int(t.parse().ok()?),
        Type::Short => ConfigValue::Short(t.parse().ok()?),
        Type::Long => ConfigValue::Long(t.parse().ok()?),
        Type::Double => ConfigValue::Double(t.parse().ok()?),
        Type::List => ConfigValue::List(if t.is_empty() {
            Vec::new()
        } else {
            t.split(',').map(|s| s.trim().to_string()).collect()
        }),
    })
}

/// A config parsed against a [`ConfigDef`].
#[derive(Debug, Clone)]
pub struct ParsedConfig {
    values: BTreeMap<&'static str, Option<ConfigValue>>,
    originals: ConfigMap,
}

impl ParsedConfig {
    /// The map it was parsed from (undeclared keys included).
    pub fn originals(&self) -> &ConfigMap {
        &self.originals
    }

    /// The originals whose keys start with `prefix`, with the prefix removed
    /// (Kafka's `originalsWithPrefix`).
    pub fn originals_with_prefix(&self, prefix: &str) -> ConfigMap {
        self.originals
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix)
                    .map(|rest| (rest.to_string(), v.clone()))
            })
            .collect()
    }

    /// The value of a typed key: a plain value for a required key or one with a default
    /// (`i32`, `&str`, `&[String]`, ...), an `Option` for a key declared with
    /// [`Key::optional`]. An error when the config was not parsed with that key declared.
    pub fn value<S: Shape>(&self, key: &Key<S>) -> Result<S::Out<'_>, ConnectError> {
        let value = self.get(key.name)?;
        S::read(value).ok_or_else(|| {
            ConnectError::Config(match value {
                None => format!(
                    "key \"{}\" has no value (it is declared without a default)",
                    key.name
                ),
                Some(_) => format!(
                    "key \"{}\" is not declared as {}",
                    key.name,
                    S::Kind::TYPE.name()
                ),
            })
        })
    }

    /// The parsed value of a declared key; `None` when its value is null.
    pub fn get(&self, name: &str) -> Result<Option<&ConfigValue>, ConnectError> {
        self.values
            .get(name)
            .map(Option::as_ref)
            .ok_or_else(|| ConnectError::Config(format!("key \"{name}\" is not declared")))
    }

    fn typed<'a, T>(
        &'a self,
        name: &str,
        want: &str,
        f: impl FnOnce(&'a ConfigValue) -> Option<T>,
    ) -> Result<Option<T>, ConnectError> {
        match self.get(name)? {
            None => Ok(None),
            Some(v) => f(v).map(Some).ok_or_else(|| {
                ConnectError::Config(format!("key \"{name}\" is not declared as {want}"))
            }),
        }
    }

    /// A STRING, CLASS or PASSWORD value (null → `None`).
    pub fn string(&self, name: &str) -> Result<Option<&str>, ConnectError> {
        self.typed(name, "a string", |v| match v {
            ConfigValue::String(s) | ConfigValue::Class(s) | ConfigValue::Password(s) => {
                Some(s.as_str())
            }
            _ => None,
        })
    }
    /// A BOOLEAN value.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ConnectError> {
        self.typed(name, "a boolean", |v| match v {
            ConfigValue::Boolean(b) => Some(*b),
            _ => None,
        })
    }
    /// An INT, SHORT or LONG value, widened.
    pub fn long(&self, name: &str) -> Result<Option<i64>, ConnectError> {
        self.typed(name, "an integer", |v| match v {
            ConfigValue::Int(n) => Some(i64::from(*n)),
            ConfigValue::Short(n) => Some(i64::from(*n)),
            ConfigValue::Long(n) => Some(*n),
            _ => None,
        })
    }
    /// An INT value.
    pub fn int(&self, name: &str) -> Result<Option<i32>, ConnectError> {
        self.typed(name, "an int", |v| match v {
            ConfigValue::Int(n) => Some(*n),
            ConfigValue::Short(n) => Some(i32::from(*n)),
            _ => None,
        })
    }
    /// A DOUBLE value.
    pub fn double(&self, name: &str) -> Result<Option<f64>, ConnectError> {
        self.typed(name, "a double", |v| match v {
            ConfigValue::Double(n) => Some(*n),
            _ => None,
        })
    }
    /// A LIST value.
    pub fn list(&self, name: &str) -> Result<Option<&[String]>, ConnectError> {
        self.typed(name, "a list", |v| match v {
            ConfigValue::List(items) => Some(items.as_slice()),
            _ => None,
        })
    }
}

/// A key declared with its Rust type: name, default, importance, doc and validator in one
/// `const`, from which a [`ConfigDef`] is built ([`ConfigDef::declare`]) and a parsed value
/// read back ([`ParsedConfig::value`]).
///
/// `S` is a [`Kind`] ([`Int`], [`Str`], [`List`], ...) for a key that always has a value
/// (required, or with a default), or [`Opt`] of a kind for a key whose default is null.
pub struct Key<S: Shape> {
    name: &'static str,
    fallback: Fallback<<S::Kind as Kind>::Const>,
    importance: Importance,
    doc: &'static str,
    validator: Option<Validator>,
    shape: PhantomData<fn() -> S>,
}

/// What an absent key means.
#[derive(Debug, Clone, Copy)]
enum Fallback<C> {
    Required,
    Null,
    Value(C),
}

impl<S: Shape> fmt::Debug for Key<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("type", &S::Kind::TYPE)
            .finish_non_exhaustive()
    }
}

/// The dotted name, for messages (`format!("{FLUSH_SIZE} must ...")`).
impl<S: Shape> fmt::Display for Key<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl<T: Kind> Key<T> {
    /// A key that must be given.
    pub const fn required(name: &'static str, importance: Importance, doc: &'static str) -> Self {
        Key::with_fallback(name, Fallback::Required, importance, doc)
    }

    /// A key that is `default` when absent. A [`List`] default needs the kind named,
    /// `Key::<List>::new("topics", &["a"], ...)`, so that the array becomes a slice.
    pub const fn new(
        name: &'static str,
        default: T::Const,
        importance: Importance,
        doc: &'static str,
    ) -> Self {
        Key::with_fallback(name, Fallback::Value(default), importance, doc)
    }
}

impl<T: Kind> Key<Opt<T>> {
    /// A key that is null when absent (Kafka's `null` default); it reads as an `Option`.
    pub const fn optional(name: &'static str, importance: Importance, doc: &'static str) -> Self {
        Key::with_fallback(name, Fallback::Null, importance, doc)
    }
}

impl<S: Shape> Key<S> {
    const fn with_fallback(
        name: &'static str,
        fallback: Fallback<<S::Kind as Kind>::Const>,
        importance: Importance,
        doc: &'static str,
    ) -> Self {
        Key {
            name,
            fallback,
            importance,
            doc,
            validator: None,
            shape: PhantomData,
        }
    }

    /// The key with a check of its value.
    pub const fn with_validator(mut self, validator: Validator) -> Self {
        self.validator = Some(validator);
        self
    }

    /// The dotted name (`tasks.max`).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    fn declaration(&self) -> ConfigKey {
        ConfigKey {
            name: self.name,
            ty: S::Kind::TYPE,
            default: match self.fallback {
                Fallback::Required => Default::Required,
                Fallback::Null => Default::Null,
                Fallback::Value(v) => Default::Value(S::Kind::value_of(v)),
            },
            importance: self.importance,
            doc: self.doc,
            validator: self.validator,
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The Rust side of a config [`Type`]: how its default is written in a `const` and what a
/// read gives. Implemented by [`Bool`], [`Int`], [`Short`], [`Long`], [`Double`], [`Str`],
/// [`List`], [`Class`] and [`Password`].
pub trait Kind: Shape<Kind = Self> {
    /// The declared type.
    const TYPE: Type;
    /// How a default is written (`i32`, `&'static str`, `&'static [&'static str]`, ...).
    type Const: Copy + 'static;
    /// What a read gives (`i32`, `&str`, `&[String]`, ...).
    type Value<'a>;
    /// A default as a parsed value.
    fn value_of(default: Self::Const) -> ConfigValue;
    /// The typed form of a parsed value; `None` when the value is of another type.
    fn from_value(value: &ConfigValue) -> Option<Self::Value<'_>>;
}

/// Whether a [`Key`] always has a value (a [`Kind`]) or may be null ([`Opt`] of a kind).
pub trait Shape: sealed::Sealed + 'static {
    /// The type of the value.
    type Kind: Kind;
    /// What a read gives: the kind's value, or an `Option` of it.
    type Out<'a>;
    /// The typed form of a parsed value (`None` for null); `None` when it does not fit.
    fn read(value: Option<&ConfigValue>) -> Option<Self::Out<'_>>;
}

/// A key whose default is null: it reads as `Option<T's value>`.
pub struct Opt<T: Kind>(PhantomData<fn() -> T>);

impl<T: Kind> fmt::Debug for Opt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opt({})", T::TYPE.name())
    }
}

impl<T: Kind> sealed::Sealed for Opt<T> {}

impl<T: Kind> Shape for Opt<T> {
    type Kind = T;
    type Out<'a> = Option<T::Value<'a>>;
    fn read(value: Option<&ConfigValue>) -> Option<Self::Out<'_>> {
        match value {
            None => Some(None),
            Some(v) => T::from_value(v).map(Some),
        }
    }
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident: $ty:ident, $const:ty, $value:ty,
        |$d:ident| $to:expr, |$v:ident| $from:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $kind {}

        impl sealed::Sealed for $kind {}

        impl Kind for $kind {
            const TYPE: Type = Type::$ty;
            type Const = $const;
            type Value<'a> = $value;
            fn value_of($d: Self::Const) -> ConfigValue {
                $to
            }
            fn from_value($v: &ConfigValue) -> Option<Self::Value<'_>> {
                $from
            }
        }

        impl Shape for $kind {
            type Kind = $kind;
            type Out<'a> = $value;
            fn read(value: Option<&ConfigValue>) -> Option<Self::Out<'_>> {
                value.and_then(<$kind as Kind>::from_value)
            }
        }
    )*};
}

kinds! {
    /// BOOLEAN: reads as `bool`.
    Bool: Boolean, bool, bool,
        |d| ConfigValue::Boolean(d),
        |v| match v { ConfigValue::Boolean(b) => Some(*b), _ => None };
    /// INT: reads as `i32`.
    Int: Int, i32, i32,
        |d| ConfigValue::Int(d),
        |v| match v { ConfigValue::Int(n) => Some(*n), _ => None };
    /// SHORT: reads as `i16`.
    Short: Short, i16, i16,
        |d| ConfigValue::Short(d),
        |v| match v { ConfigValue::Short(n) => Some(*n), _ => None };
    /// LONG: reads as `i64`.
    Long: Long, i64, i64,
        |d| ConfigValue::Long(d),
        |v| match v { ConfigValue::Long(n) => Some(*n), _ => None };
    /// DOUBLE: reads as `f64`.
    Double: Double, f64, f64,
        |d| ConfigValue::Double(d),
        |v| match v { ConfigValue::Double(n) => Some(*n), _ => None };
    /// STRING: reads as `&str`.
    Str: String, &'static str, &'a str,
        |d| ConfigValue::String(d.to_string()),
        |v| match v { ConfigValue::String(s) => Some(s.as_str()), _ => None };
    /// LIST: reads as `&[String]`; a default is written `Key::<List>::new(name, &["a", "b"], ...)`.
    List: List, &'static [&'static str], &'a [String],
        |d| ConfigValue::List(d.iter().map(|s| s.to_string()).collect()),
        |v| match v { ConfigValue::List(items) => Some(items.as_slice()), _ => None };
    /// CLASS: reads as `&str`, the class name as given.
    Class: Class, &'static str, &'a str,
        |d| ConfigValue::Class(d.to_string()),
        |v| match v { ConfigValue::Class(s) => Some(s.as_str()), _ => None };
    /// PASSWORD: reads as `&str`, the secret itself (never shown elsewhere).
    Password: Password, &'static str, &'a str,
        |d| ConfigValue::Password(d.to_string()),
        |v| match v { ConfigValue::Password(s) => Some(s.as_str()), _ => None };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                "file",
                Type::String,
                Default::Null,
                Importance::High,
                "The file.",
            )
            .define(
                "topic",
                Type::String,
                Default::Required,
                Importance::High,
                "The topic.",
            )
            .with_validator(Validator::NonEmptyString)
            .define(
                "batch.size",
                Type::Int,
                Default::Value(ConfigValue::Int(2000)),
                Importance::Low,
                "Max records per poll.",
            )
            .with_validator(Validator::at_least(1.0))
            .define(
                "secret",
                Type::Password,
                Default::Null,
                Importance::Low,
                "A secret.",
            )
            .define(
                "topics",
                Type::List,
                Default::Value(ConfigValue::List(vec![])),
                Importance::High,
                "Topics.",
            )
    }

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_with_defaults() {
        let c = def()
            .parse(&map(&[
                ("topic", "t"),
                ("topics", " a, b ,c"),
                ("other", "x"),
            ]))
            .unwrap();
        assert_eq!(c.string("file").unwrap(), None);
        assert_eq!(c.int("batch.size").unwrap(), Some(2000));
        assert_eq!(c.list("topics").unwrap().unwrap(), ["a", "b", "c"]);
        assert_eq!(c.originals().get("other").map(String::as_str), Some("x"));
        assert!(c.string("undeclared").is_err());
    }

    #[test]
    fn reports_every_problem_with_key_value_and_expectation() {
        let issues = def().validate(&map(&[("batch.size", "ten"), ("secret", "s3cr3t")]));
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(
            text[0].starts_with("key \"topic\": missing required key"),
            "{text:?}"
        );
        assert_eq!(
            text[1],
            "key \"batch.size\": value \"ten\": expected a 32-bit integer (INT)"
        );
        let issues = def().validate(&map(&[("topic", "t"), ("batch.size", "0")]));
        assert_eq!(
            issues[0].to_string(),
            "key \"batch.size\": value \"0\": expected a value of at least 1"
        );
    }

    #[test]
    fn passwords_never_show() {
        let d = def();
        let masked = d.mask(&map(&[("secret", "s3cr3t"), ("topic", "t")]));
        assert_eq!(masked["secret"], HIDDEN);
        let c = d
            .parse(&map(&[("secret", "s3cr3t"), ("topic", "t")]))
            .unwrap();
        assert_eq!(format!("{:?}", c.get("secret").unwrap()), "Some([hidden])");
        assert_eq!(c.string("secret").unwrap(), Some("s3cr3t"));
    }

    const FILE: Key<Opt<Str>> = Key::optional("file", Importance::High, "The file.");
    const TOPIC: Key<Str> = Key::required("topic", Importance::High, "The topic.")
        .with_validator(Validator::NonEmptyString);
    const BATCH_SIZE: Key<Int> =
        Key::new("batch.size", 2000, Importance::Low, "Max records per poll.")
            .with_validator(Validator::at_least(1.0));
    const TOPICS: Key<List> = Key::<List>::new("topics", &["a", "b"], Importance::High, "Topics.");
    const SECRET: Key<Opt<Password>> = Key::optional("secret", Importance::Low, "A secret.");
    const RATIO: Key<Double> = Key::new("ratio", 0.5, Importance::Low, "A ratio.");
    const FACTOR: Key<Short> = Key::new("factor", -1, Importance::Low, "A factor.");
    const LINGER: Key<Long> = Key::new("linger.ms", 5, Importance::Low, "Linger.");
    const ENABLED: Key<Bool> = Key::new("enabled", true, Importance::Low, "Enabled.");
    const CLASS: Key<Class> = Key::new("class", "a.B", Importance::Low, "A class.");

    fn typed_def() -> ConfigDef {
        ConfigDef::new()
            .declare(&FILE)
            .declare(&TOPIC)
            .declare(&BATCH_SIZE)
            .declare(&TOPICS)
            .declare(&SECRET)
            .declare(&RATIO)
            .declare(&FACTOR)
            .declare(&LINGER)
            .declare(&ENABLED)
            .declare(&CLASS)
    }

    #[test]
    fn typed_keys_declare_what_define_declares() {
        let typed = typed_def();
        let by_hand = def();
        for name in ["file", "topic", "batch.size", "secret"] {
            let (a, b) = (typed.key(name).unwrap(), by_hand.key(name).unwrap());
            assert_eq!(
                (a.name, a.ty, &a.default, a.importance, a.doc),
                (b.name, b.ty, &b.default, b.importance, b.doc),
            );
            assert_eq!(
                format!("{:?}", a.validator),
                format!("{:?}", b.validator),
                "{name}"
            );
        }
        let topics = typed.key("topics").unwrap();
        assert_eq!(
            topics.default,
            Default::Value(ConfigValue::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(typed.key("class").unwrap().ty, Type::Class);
        assert_eq!(typed.key("factor").unwrap().ty, Type::Short);
    }

    #[test]
    fn typed_reads_give_defaults_values_and_options() {
        let def = typed_def();
        let c = def.parse(&map(&[("topic", "t")])).unwrap();
        assert_eq!(c.value(&FILE).unwrap(), None);
        assert_eq!(c.value(&TOPIC).unwrap(), "t");
        assert_eq!(c.value(&BATCH_SIZE).unwrap(), 2000);
        assert_eq!(c.value(&TOPICS).unwrap(), ["a", "b"]);
        assert_eq!(c.value(&SECRET).unwrap(), None);
        assert_eq!(c.value(&RATIO).unwrap(), 0.5);
        assert_eq!(c.value(&FACTOR).unwrap(), -1);
        assert_eq!(c.value(&LINGER).unwrap(), 5);
        assert!(c.value(&ENABLED).unwrap());
        assert_eq!(c.value(&CLASS).unwrap(), "a.B");
        let c = def
            .parse(&map(&[
                ("topic", "t"),
                ("file", "/tmp/x"),
                ("batch.size", " 7 "),
                ("topics", ""),
                ("secret", "s3cr3t"),
                ("enabled", "FALSE"),
            ]))
            .unwrap();
        assert_eq!(c.value(&FILE).unwrap(), Some("/tmp/x"));
        assert_eq!(c.value(&BATCH_SIZE).unwrap(), 7);
        assert!(c.value(&TOPICS).unwrap().is_empty());
        assert_eq!(c.value(&SECRET).unwrap(), Some("s3cr3t"));
        assert!(!c.value(&ENABLED).unwrap());
    }

    #[test]
    fn typed_keys_report_problems_as_define_does() {
        let issues = typed_def().validate(&map(&[("batch.size", "0"), ("factor", "x")]));
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "key \"topic\": missing required key (expected a string): The topic.",
                "key \"batch.size\": value \"0\": expected a value of at least 1",
                "key \"factor\": value \"x\": expected a 16-bit integer (SHORT)",
            ]
        );
    }

    #[test]
    fn reading_a_key_the_def_does_not_declare_is_an_error() {
        let c = ConfigDef::new()
            .declare(&TOPIC)
            .define(
                "batch.size",
                Type::Long,
                Default::Null,
                Importance::Low,
                "Declared otherwise.",
            )
            .parse(&map(&[("topic", "t")]))
            .unwrap();
        let message = |e: ConnectError| e.to_string();
        assert!(
            message(c.value(&FILE).unwrap_err()).contains("key \"file\" is not declared"),
            "undeclared"
        );
        assert!(
            message(c.value(&BATCH_SIZE).unwrap_err()).contains("has no value"),
            "null where a value is expected"
        );
        let c = ConfigDef::new()
            .declare(&TOPIC)
            .define(
                "batch.size",
                Type::Long,
                Default::Value(ConfigValue::Long(1)),
                Importance::Low,
                "Declared otherwise.",
            )
            .parse(&map(&[("topic", "t")]))
            .unwrap();
        assert!(
            message(c.value(&BATCH_SIZE).unwrap_err()).contains("is not declared as INT"),
            "another type"
        );
    }
}
