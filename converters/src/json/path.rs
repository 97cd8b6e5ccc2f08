//! Where in a value an error happened (`address.city`, `tags[2]`), built on the stack while
//! converting and only rendered when an error is reported.

use std::fmt::Write as _;

use ferry_api::ConnectError;

/// A position inside a value: a chain of struct fields and array or map entry indexes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Path<'a> {
    /// The record's value itself.
    Root,
    /// A struct field.
    Field(&'a Path<'a>, &'a str),
    /// An array element or map entry.
    Index(&'a Path<'a>, usize),
    /// The default value of a schema.
    Default(&'a Path<'a>),
}

impl Path<'_> {
    fn render(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Field(parent, name) => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Path::Index(parent, i) => {
                parent.render(out);
                let _ = write!(out, "[{i}]");
            }
            Path::Default(parent) => {
                parent.render(out);
                out.push_str(if out.is_empty() {
                    "default"
                } else {
                    ".default"
                });
            }
        }
    }

    /// `for field "a.b[1]"`, or nothing at the root.
    fn for_field(&self) -> String {
        let mut path = String::new();
        self.render(&mut path);
        if path.is_empty() {
            path
        } else {
            format!(" for field \"{path}\"")
        }
    }

    /// An error while reading JSON into Connect data.
    pub(super) fn read_error(&self, message: impl std::fmt::Display) -> ConnectError {
        ConnectError::Data(format!("JSON payload{}: {message}", self.for_field()))
    }

    /// An error while writing Connect data as JSON.
    pub(super) fn write_error(&self, message: impl std::fmt::Display) -> ConnectError {
        ConnectError::Data(format!("Conversion error{}: {message}", self.for_field()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_paths() {
        let root = Path::Root;
        let a = Path::Field(&root, "a");
        let i = Path::Index(&a, 2);
        let b = Path::Field(&i, "b");
        assert_eq!(
            b.read_error("bad").to_string(),
            "JSON payload for field \"a[2].b\": bad"
        );
        assert_eq!(root.write_error("bad").to_string(), "Conversion error: bad");
        let d = Path::Default(&root);
        assert_eq!(
            d.write_error("x").to_string(),
            "Conversion error for field \"default\": x"
        );
    }
}
