//! Criterion benchmarks for Riptide, with peers measured in the same run.
//!
//! The library holds the benchmark inputs (realistic IMS messages) so that
//! every bench measures the same bytes; the benches themselves are in
//! `benches/`. Results and the commands that produced them are in README.md.

pub mod messages;
