//! A connector for the runtime's own tests (compiled into unit tests only): a source whose
//! number of tasks a test sets, and which asks for task reconfiguration when told to, as
//! a source that discovers new tables does. Its tasks produce nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::{
    ConfigDef, ConfigMap, Connector, ConnectorContext, ConnectorPlugin, PluginInfo, Result,
    SourceRecord, SourceTask, SourceTaskContext,
};

/// Its class name.
pub(crate) const CLASS: &str = "FerryTestReconfiguringSource";

/// The plugin.
pub(crate) static PLUGINS: &[ConnectorPlugin] = &[ConnectorPlugin::Source {
    info: PluginInfo {
        class: CLASS,
        aliases: &[],
        version: "test",
    },
    connector: || Box::new(Reconfiguring::default()),
    task: || Box::new(Idle),
}];

/// Tasks wanted and the running instance's context, per connector name.
type Wanted = HashMap<String, (usize, Option<Arc<dyn ConnectorContext>>)>;

static STATE: Mutex<Option<Wanted>> = Mutex::new(None);

fn with_state<T>(f: impl FnOnce(&mut Wanted) -> T) -> T {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    f(state.get_or_insert_with(HashMap::new))
}

/// Sets how many tasks connector `name` makes; with `notify`, the running instance asks
/// for task reconfiguration.
pub(crate) fn set_tasks(name: &str, tasks: usize, notify: bool) {
    let context = with_state(|s| {
        let entry = s.entry(name.to_string()).or_insert((1, None));
        entry.0 = tasks;
        entry.1.clone()
    });
    if notify && let Some(c) = context {
        c.request_task_reconfiguration();
    }
}

#[derive(Debug, Default)]
struct Reconfiguring {
    name: String,
}

#[async_trait]
impl Connector for Reconfiguring {
    fn version(&self) -> &'static str {
        "test"
    }
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    async fn start(
        &mut self,
        context: Arc<dyn ConnectorContext>,
        config: &ConfigMap,
    ) -> Result<()> {
        self.name = config.get("name").cloned().unwrap_or_default();
        with_state(|s| s.entry(self.name.clone()).or_insert((1, None)).1 = Some(context));
        Ok(())
    }
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        let wanted = with_state(|s| s.get(&self.name).map_or(1, |e| e.0));
        Ok((0..wanted.min(max_tasks))
            .map(|i| ConfigMap::from([("task.id".to_string(), i.to_string())]))
            .collect())
    }
}

#[derive(Debug)]
struct Idle;

#[async_trait]
impl SourceTask for Idle {
    async fn start(&mut self, _context: SourceTaskContext, _config: &ConfigMap) -> Result<()> {
        Ok(())
    }
    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(Vec::new())
    }
}
