//! The runtime's top-level modules form layers: none reaches, through `crate::` paths, a
//! module that reaches back to it. docs/architecture.md draws them; this test keeps them so.
//! (Test modules are left out: a test may wire anything together.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its files name with `crate::`.
fn dependencies(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    let reference = regex_lite::Regex::new(r"crate::([a-z_][a-z0-9_]*)").unwrap();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !relative.ends_with(".rs")
                || ["lib.rs", "main.rs", "layering.rs"].contains(&relative.as_str())
            {
                continue;
            }
            let module = relative
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests sit at the end of a file, from its `#[cfg(test)]` module on.
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            let used = graph.entry(module.clone()).or_default();
            for found in reference.captures_iter(code) {
                if found[1] != *module {
                    used.insert(found[1].to_string());
                }
            }
        }
    }
    graph
}

#[test]
fn top_level_modules_have_no_circle() {
    let graph = dependencies(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    // Depth-first search; a module met again while still on the path closes a circle.
    fn visit<'a>(
        module: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| *m == module) {
            let mut circle: Vec<String> = path[at..].iter().map(|m| m.to_string()).collect();
            circle.push(module.to_string());
            return Some(circle);
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(circle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "a circle of imports between the runtime's modules: {}\n(all: {graph:#?})",
                circle.join(" -> ")
            );
        }
    }
    assert!(graph.len() > 10, "too few modules found: {graph:?}");
}
