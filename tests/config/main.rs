//! Config as Kamal reads it: the real-world corpus and differential runs against real Kamal 2.11, generated configs, and bad input through the binary.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod corpus;
mod differential;
mod erb_constructs;
mod erb_survey;
mod fuzz;
