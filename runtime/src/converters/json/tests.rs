//! golden tests (filled below)
