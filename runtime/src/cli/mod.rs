//! `ferry connectors ...`: a client of the REST API of any worker (Ferry's or Kafka
//! Connect's).
//!
//! Tables by default, the server's JSON with `-o json`. Exit codes: 0 when the request
//! succeeded, 1 when it failed (the server's message is printed, or why the worker could not
//! be reached; `validate` also exits 1 when the config has errors), 2 for usage errors.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use crate::{config, rest_path};

pub mod docs;

/// Why a `ferry connectors` command failed (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The worker answered with an error.
    #[error("{message} (HTTP {status})")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's `message`.
        message: String,
    },
    /// The worker could not be reached, or answered something that is not JSON.
    #[error("{url}: {message}")]
    Transport {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// An input file could not be read.
    #[error("{0}")]
    Input(String),
    /// `validate` found problems (they were printed).
    #[error("the config has {0} error(s)")]
    Invalid(u64),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable tables.
    Table,
    /// The server's JSON, pretty-printed.
    Json,
}

/// `ferry connectors` options.
#[derive(Debug, Args)]
pub struct ConnectorsArgs {
    /// REST URL of a worker.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8083")]
    pub url: String,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// What to do.
    #[command(subcommand)]
    pub command: ConnectorsCommand,
}

/// The `ferry connectors` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// List connectors with their states.
    List,
    /// Show a connector's config and tasks.
    Get {
        /// Connector name.
        name: String,
    },
    /// Create a connector from a YAML, JSON or properties file.
    Create {
        /// Connector config file (flat or nested keys; Kafka's `{"name","config"}` JSON too).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Name, when the file has none.
        #[arg(long)]
        name: Option<String>,
    },
    /// Replace a connector's config (creates it when missing).
    Update {
        /// Connector name (default: the file's `name`).
        name: Option<String>,
        /// Connector config file.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Show a connector's and its tasks' states.
    Status {
        /// Connector name.
        name: String,
    },
    /// Pause a connector's tasks.
    Pause {
        /// Connector name.
        name: String,
    },
    /// Resume a paused or stopped connector.
    Resume {
        /// Connector name.
        name: String,
    },
    /// Stop a connector (its tasks shut down; offsets can then be changed).
    Stop {
        /// Connector name.
        name: String,
    },
    /// Restart a connector, or one task.
    Restart {
        /// Connector name.
        name: String,
        /// Restart the tasks too.
        #[arg(long)]
        include_tasks: bool,
        /// Only restart what failed.
        #[arg(long)]
        only_failed: bool,
        /// Restart only this task.
        #[arg(long, conflicts_with_all = ["include_tasks", "only_failed"])]
        task: Option<u32>,
    },
    /// Delete a connector.
    Delete {
        /// Connector name.
        name: String,
    },
    /// Read or reset a connector's offsets.
    Offsets {
        /// What to do.
        #[command(subcommand)]
        command: OffsetsCommand,
    },
    /// List the installed plugins.
    Plugins {
        /// Converters too, not only connectors.
        #[arg(long)]
        all: bool,
    },
    /// Validate a connector config file without creating anything.
    Validate {
        /// Connector config file.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
}

/// `ferry connectors offsets ...`.
#[derive(Debug, Subcommand)]
pub enum OffsetsCommand {
    /// Show the committed offsets.
    Get {
        /// Connector name.
        name: String,
    },
    /// Reset every offset (the connector must be stopped).
    Reset {
        /// Connector name.
        name: String,
    },
    /// Alter offsets from a JSON file `{"offsets": [...]}` (the connector must be stopped).
    Alter {
        /// Connector name.
        name: String,
        /// JSON file with the offsets.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// Sends a request; the JSON body (`null` when empty) of a 2xx answer, else the
    /// server's error message.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(b);
        }
        let transport = |message: String| CliError::Transport {
            url: url.clone(),
            message,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| transport(format!("cannot reach the worker: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| transport(format!("reading the answer: {e}")))?;
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) if !status.is_success() => {
                    return Err(CliError::Server {
                        status: status.as_u16(),
                        message: text.trim().to_string(),
                    });
                }
                Err(e) => return Err(transport(format!("the answer is not JSON: {e}"))),
            }
        };
        if status.is_success() {
            Ok(json)
        } else {
            Err(CliError::Server {
                status: status.as_u16(),
                message: json["message"]
                    .as_str()
                    .map_or_else(|| json.to_string(), str::to_string),
            })
        }
    }
}

/// A connector file as `(name, config)`: flat or nested YAML, properties, or JSON — also
/// Kafka Connect's `{"name": ..., "config": {...}}` request body.
fn read_connector(
    file: &Path,
    name: Option<&str>,
) -> Result<(Option<String>, Map<String, Value>), CliError> {
    let map = config::load_file(file).map_err(|e| CliError::Input(e.to_string()))?;
    let wrapped =
        map.keys().any(|k| k.starts_with("config.")) && !map.contains_key("connector.class");
    let mut outer_name = None;
    let mut out = Map::new();
    for (k, v) in map {
        if wrapped {
            match k.strip_prefix("config.") {
                Some(inner) => {
                    out.insert(inner.to_string(), Value::String(v));
                }
                None if k == "name" => outer_name = Some(v),
                None => {}
            }
        } else {
            out.insert(k, Value::String(v));
        }
    }
    let name = name
        .map(str::to_string)
        .or(outer_name)
        .or_else(|| out.get("name").and_then(Value::as_str).map(str::to_string));
    if let Some(n) = &name {
        out.entry("name")
            .or_insert_with(|| Value::String(n.clone()));
    }
    Ok((name, out))
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, headers.to_vec());
    for row in rows {
        line(&mut out, row.iter().map(String::as_str).collect());
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn status_rows(status: &Value) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "connector".to_string(),
        text(&status["connector"]["state"]),
        text(&status["connector"]["worker_id"]),
        first_line(&status["connector"]["trace"]),
    ]];
    for t in status["tasks"].as_array().into_iter().flatten() {
        rows.push(vec![
            format!("task {}", text(&t["id"])),
            text(&t["state"]),
            text(&t["worker_id"]),
            first_line(&t["trace"]),
        ]);
    }
    rows
}

fn first_line(v: &Value) -> String {
    text(v).lines().next().unwrap_or_default().to_string()
}

/// Runs one `ferry connectors` command, printing its result to stdout.
pub async fn run(args: ConnectorsArgs) -> Result<(), CliError> {
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(90))
            .build()
            .map_err(|e| CliError::Transport {
                url: args.url.clone(),
                message: e.to_string(),
            })?,
        base: args.url.trim_end_matches('/').to_string(),
    };
    let json_out = args.output == Output::Json;
    let print_json = |v: &Value| {
        println!(
            "{}",
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        );
    };
    use reqwest::Method;
    match args.command {
        ConnectorsCommand::List => {
            let v = client
                .call(Method::GET, "/connectors?expand=status", None)
                .await?;
            if json_out {
                print_json(&v);
            } else {
                let rows: Vec<Vec<String>> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, e)| {
                        let s = &e["status"];
                        let tasks = s["tasks"].as_array().map(Vec::as_slice).unwrap_or_default();
                        let running = tasks.iter().filter(|t| t["state"] == "RUNNING").count();
                        vec![
                            name.clone(),
                            text(&s["type"]),
                            text(&s["connector"]["state"]),
                            format!("{running}/{}", tasks.len()),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(&["NAME", "TYPE", "STATE", "TASKS RUNNING"], &rows)
                );
            }
        }
        ConnectorsCommand::Get { name } => {
            let v = client
                .call(
                    Method::GET,
                    &format!("/connectors/{}", rest_path::segment(&name)),
                    None,
                )
                .await?;
            if json_out {
                print_json(&v);
            } else {
                println!("name:  {}", text(&v["name"]));
                println!("type:  {}", text(&v["type"]));
                println!("tasks: {}", v["tasks"].as_array().map_or(0, Vec::len));
                let rows: Vec<Vec<String>> = v["config"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, val)| vec![k.clone(), text(val)])
                    .collect();
                print!("{}", table(&["KEY", "VALUE"], &rows));
            }
        }
        ConnectorsCommand::Create { file, name } => {
            let (name, config) = read_connector(&file, name.as_deref())?;
            let name = name.ok_or_else(|| {
                CliError::Input(format!("{}: no \"name\" key; give --name", file.display()))
            })?;
            let body = json!({"name": name, "config": config});
            let v = client
                .call(Method::POST, "/connectors", Some(&body))
                .await?;
            if json_out {
                print_json(&v);
            } else {
                println!("Connector {name} created ({})", text(&v["type"]));
            }
        }
        ConnectorsCommand::Update { name, file } => {
            let (file_name, config) = read_connector(&file, name.as_deref())?;
            let name = file_name.ok_or_else(|| {
                CliError::Input(format!(
                    "{}: no \"name\" key; give the name",
                    file.display()
                ))
            })?;
            let v = client
                .call(
                    Method::PUT,
                    &format!("/connectors/{}/config", rest_path::segment(&name)),
                    Some(&Value::Object(config)),
                )
                .await?;
            if json_out {
                print_json(&v);
            } else {
                println!("Connector {name} updated");
            }
        }
        ConnectorsCommand::Status { name } => {
            let v = client
                .call(
                    Method::GET,
                    &format!("/connectors/{}/status", rest_path::segment(&name)),
                    None,
                )
                .await?;
            if json_out {
                print_json(&v);
            } else {
                print!(
                    "{}",
                    table(&["INSTANCE", "STATE", "WORKER", "TRACE"], &status_rows(&v))
                );
            }
        }
        ConnectorsCommand::Pause { name } => {
            simple(
                &client,
                Method::PUT,
                &format!("/connectors/{}/pause", rest_path::segment(&name)),
                json_out,
                &format!("Connector {name} pausing"),
            )
            .await?;
        }
        ConnectorsCommand::Resume { name } => {
            simple(
                &client,
                Method::PUT,
                &format!("/connectors/{}/resume", rest_path::segment(&name)),
                json_out,
                &format!("Connector {name} resuming"),
            )
            .await?;
        }
        ConnectorsCommand::Stop { name } => {
            simple(
                &client,
                Method::PUT,
                &format!("/connectors/{}/stop", rest_path::segment(&name)),
                json_out,
                &format!("Connector {name} stopped"),
            )
            .await?;
        }
        ConnectorsCommand::Delete { name } => {
            simple(
                &client,
                Method::DELETE,
                &format!("/connectors/{}", rest_path::segment(&name)),
                json_out,
                &format!("Connector {name} deleted"),
            )
            .await?;
        }
        ConnectorsCommand::Restart {
            name,
            include_tasks,
            only_failed,
            task,
        } => {
            let path = match task {
                Some(t) => format!(
                    "/connectors/{}/tasks/{t}/restart",
                    rest_path::segment(&name)
                ),
                None => format!(
                    "/connectors/{}/restart?includeTasks={include_tasks}&onlyFailed={only_failed}",
                    rest_path::segment(&name)
                ),
            };
            let v = client.call(Method::POST, &path, None).await?;
            if json_out {
                print_json(&v);
            } else if v.is_null() {
                match task {
                    Some(t) => println!("Task {name}-{t} restarted"),
                    None => println!("Connector {name} restarted"),
                }
            } else {
                print!(
                    "{}",
                    table(&["INSTANCE", "STATE", "WORKER", "TRACE"], &status_rows(&v))
                );
            }
        }
        ConnectorsCommand::Offsets { command } => match command {
            OffsetsCommand::Get { name } => {
                let v = client
                    .call(
                        Method::GET,
                        &format!("/connectors/{}/offsets", rest_path::segment(&name)),
                        None,
                    )
                    .await?;
                if json_out {
                    print_json(&v);
                } else {
                    let rows: Vec<Vec<String>> = v["offsets"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|o| vec![o["partition"].to_string(), o["offset"].to_string()])
                        .collect();
                    print!("{}", table(&["PARTITION", "OFFSET"], &rows));
                }
            }
            OffsetsCommand::Reset { name } => {
                let v = client
                    .call(
                        Method::DELETE,
                        &format!("/connectors/{}/offsets", rest_path::segment(&name)),
                        None,
                    )
                    .await?;
                if json_out {
                    print_json(&v)
                } else {
                    println!("{}", text(&v["message"]))
                }
            }
            OffsetsCommand::Alter { name, file } => {
                let body: Value = std::fs::read(&file)
                    .map_err(|e| CliError::Input(format!("{}: {e}", file.display())))
                    .and_then(|b| {
                        serde_json::from_slice(&b)
                            .map_err(|e| CliError::Input(format!("{}: {e}", file.display())))
                    })?;
                let v = client
                    .call(
                        Method::PATCH,
                        &format!("/connectors/{}/offsets", rest_path::segment(&name)),
                        Some(&body),
                    )
                    .await?;
                if json_out {
                    print_json(&v)
                } else {
                    println!("{}", text(&v["message"]))
                }
            }
        },
        ConnectorsCommand::Plugins { all } => {
            let path = if all {
                "/connector-plugins?connectorsOnly=false"
            } else {
                "/connector-plugins"
            };
            let v = client.call(Method::GET, path, None).await?;
            if json_out {
                print_json(&v);
            } else {
                let rows: Vec<Vec<String>> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| vec![text(&p["class"]), text(&p["type"]), text(&p["version"])])
                    .collect();
                print!("{}", table(&["CLASS", "TYPE", "VERSION"], &rows));
            }
        }
        ConnectorsCommand::Validate { file } => {
            let (_, config) = read_connector(&file, None)?;
            let class = config
                .get("connector.class")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    CliError::Input(format!("{}: no \"connector.class\" key", file.display()))
                })?
                .to_string();
            let v = client
                .call(
                    Method::PUT,
                    &format!(
                        "/connector-plugins/{}/config/validate",
                        rest_path::segment(&class)
                    ),
                    Some(&Value::Object(config)),
                )
                .await?;
            let errors = v["error_count"].as_u64().unwrap_or(0);
            if json_out {
                print_json(&v);
            } else if errors == 0 {
                println!("{}: valid", file.display());
            } else {
                let rows: Vec<Vec<String>> = v["configs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|c| {
                        let key = text(&c["value"]["name"]);
                        c["value"]["errors"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(move |e| vec![key.clone(), text(e)])
                            .collect::<Vec<_>>()
                    })
                    .collect();
                print!("{}", table(&["KEY", "ERROR"], &rows));
            }
            if errors > 0 {
                return Err(CliError::Invalid(errors));
            }
        }
    }
    Ok(())
}

async fn simple(
    client: &Client,
    method: reqwest::Method,
    path: &str,
    json_out: bool,
    done: &str,
) -> Result<(), CliError> {
    let v = client.call(method, path, None).await?;
    if json_out {
        println!(
            "{}",
            if v.is_null() {
                "{}".to_string()
            } else {
                v.to_string()
            }
        );
    } else {
        println!("{done}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "BB"], &[vec!["long".into(), "x".into()]]);
        assert_eq!(t, "A     BB\nlong  x\n");
    }

    #[test]
    fn kafka_request_bodies_and_flat_files_both_load() {
        let dir = tempfile::tempdir().unwrap();
        let wrapped = dir.path().join("c.json");
        std::fs::write(
            &wrapped,
            r#"{"name":"n","config":{"connector.class":"FileStreamSource","topic":"t"}}"#,
        )
        .unwrap();
        let (name, config) = read_connector(&wrapped, None).unwrap();
        assert_eq!(name.as_deref(), Some("n"));
        assert_eq!(config["connector.class"], "FileStreamSource");
        assert_eq!(config["name"], "n");
        let flat = dir.path().join("c.yaml");
        std::fs::write(
            &flat,
            "name: m\nconnector.class: FileStreamSink\ntopics: t\n",
        )
        .unwrap();
        let (name, config) = read_connector(&flat, Some("other")).unwrap();
        assert_eq!(name.as_deref(), Some("other"));
        assert_eq!(config["name"], "m");
    }
}
