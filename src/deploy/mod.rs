//! deploy: turns a request into a plan of steps per host and boot group, runs it, and emits
//! [`Event`]s. It never prints and never touches the terminal.

pub mod event;

pub use event::{ActionKind, Event, PlannedStep, StepKind};
