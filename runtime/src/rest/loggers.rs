//! Runtime log levels (`/admin/loggers`, KIP-495). A logger is a `tracing` target
//! (`ferry_runtime::worker`); setting one also sets every known logger below it, and the
//! answer lists the loggers changed, as Kafka Connect does. `root` is the default level.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Applies a filter directive string (`info,ferry_runtime::worker=debug`) to the live
/// subscriber.
pub type ApplyFilter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// The levels set at runtime; cheap to clone.
#[derive(Clone)]
pub struct Loggers {
    inner: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Loggers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loggers").finish_non_exhaustive()
    }
}

struct State {
    /// The directives the process started with (`FERRY_LOG`).
    base: String,
    root: String,
    /// Level and when it was set (ms since the epoch).
    levels: BTreeMap<String, (String, u64)>,
    apply: Option<ApplyFilter>,
}

/// Kafka's level names (log4j), and the `tracing` level each means.
const LEVELS: &[(&str, &str)] = &[
    ("OFF", "off"),
    ("FATAL", "error"),
    ("ERROR", "error"),
    ("WARN", "warn"),
    ("INFO", "info"),
    ("DEBUG", "debug"),
    ("TRACE", "trace"),
];

impl Loggers {
    /// Levels over the filter `base` (the process's starting directives); `apply` changes
    /// the live filter, or nothing when `None` (tests).
    pub fn new(base: &str, apply: Option<ApplyFilter>) -> Loggers {
        let root = base
            .split(',')
            .find(|d| !d.contains('='))
            .and_then(|d| {
                LEVELS
                    .iter()
                    .find(|(_, t)| t.eq_ignore_ascii_case(d.trim()))
                    .map(|(k, _)| k.to_string())
            })
            .unwrap_or_else(|| "INFO".into());
        Loggers {
            inner: Arc::new(Mutex::new(State {
                base: base.to_string(),
                root,
                levels: BTreeMap::new(),
                apply,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every logger with a level: `root` first, then those set at runtime.
    pub fn all(&self) -> Vec<(String, String, Option<u64>)> {
        let state = self.lock();
        std::iter::once(("root".to_string(), state.root.clone(), None))
            .chain(
                state
                    .levels
                    .iter()
                    .map(|(k, (level, at))| (k.clone(), level.clone(), Some(*at))),
            )
            .collect()
    }

    /// The level of one logger, `None` when it is not known.
    pub fn level(&self, logger: &str) -> Option<(String, Option<u64>)> {
        let state = self.lock();
        if logger == "root" {
            return Some((state.root.clone(), None));
        }
        state
            .levels
            .get(logger)
            .map(|(level, at)| (level.clone(), Some(*at)))
    }

    /// Sets `logger` and every known logger below it to `level`; returns the loggers
    /// changed, sorted. An unknown level is an error naming it.
    pub fn set(&self, logger: &str, level: &str) -> Result<Vec<String>, String> {
        let Some((name, _)) = LEVELS
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(level.trim()))
        else {
            return Err(format!("Invalid log level '{level}'."));
        };
        let logger = logger.trim();
        if logger.is_empty() {
            return Err("The logger name must not be empty.".into());
        }
        let mut state = self.lock();
        let at = u64::try_from(ferry_record::now_ms()).unwrap_or(0);
        let mut changed = Vec::new();
        if logger == "root" {
            state.root = name.to_string();
            changed.push("root".to_string());
            for (k, v) in state.levels.iter_mut() {
                *v = (name.to_string(), at);
                changed.push(k.clone());
            }
        } else {
            let below = |k: &str| {
                k.strip_prefix(logger)
                    .is_some_and(|rest| rest.starts_with("::") || rest.starts_with('.'))
            };
            for (k, v) in state.levels.iter_mut().filter(|(k, _)| below(k)) {
                *v = (name.to_string(), at);
                changed.push(k.clone());
            }
            state
                .levels
                .insert(logger.to_string(), (name.to_string(), at));
            changed.push(logger.to_string());
        }
        changed.sort();
        let directives = state.directives();
        if let Some(apply) = &state.apply {
            apply(&directives)?;
        }
        Ok(changed)
    }
}

impl State {
    fn directives(&self) -> String {
        let tracing_level = |kafka: &str| {
            LEVELS
                .iter()
                .find(|(k, _)| *k == kafka)
                .map_or("info", |(_, t)| t)
        };
        // Keep the starting per-target directives, replace the default level.
        let mut parts: Vec<String> = self
            .base
            .split(',')
            .filter(|d| d.contains('='))
            .map(str::to_string)
            .collect();
        parts.insert(0, tracing_level(&self.root).to_string());
        for (k, (level, _)) in &self.levels {
            parts.push(format!("{}={}", k.replace('.', "::"), tracing_level(level)));
        }
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_a_parent_sets_its_children_and_builds_directives() {
        let seen = Arc::new(Mutex::new(String::new()));
        let s = seen.clone();
        let loggers = Loggers::new(
            "warn,hyper=error",
            Some(Box::new(move |d| {
                *s.lock().unwrap() = d.to_string();
                Ok(())
            })),
        );
        assert_eq!(loggers.level("root").unwrap().0, "WARN");
        assert_eq!(
            loggers.set("ferry_runtime::worker", "debug").unwrap(),
            vec!["ferry_runtime::worker"]
        );
        assert_eq!(
            loggers.set("ferry_runtime", "TRACE").unwrap(),
            vec!["ferry_runtime", "ferry_runtime::worker"]
        );
        assert_eq!(
            *seen.lock().unwrap(),
            "warn,hyper=error,ferry_runtime=trace,ferry_runtime::worker=trace"
        );
        assert!(loggers.set("x", "LOUD").unwrap_err().contains("LOUD"));
        assert!(loggers.level("nope").is_none());
        assert_eq!(loggers.all().len(), 3);
    }
}
