//! The text Java prints for Connect data, where Ferry must print the same bytes as Kafka
//! Connect: `Double.toString` and `Float.toString` (the number text of Jackson, hence of
//! `JsonConverter`), and `String.valueOf` of a Connect value (the text of Kafka's
//! `StringConverter` and `FileStreamSink`).
//!
//! Every writer appends to a `Vec<u8>`, so a converter or a sink formats a record into one
//! reused buffer without a `String` per value. The golden tests compare the number text
//! with the output of the JDK (`testdata/JavaGolden.java` says how it was made).

mod float;
mod value;

pub use float::{write_double, write_float, write_long};
pub use value::write_value;
