//! Herders decide what runs where. Standalone: everything, in this process.

pub mod standalone;
