//! deploy: turns a request into a plan of steps per host and boot group, runs it, and emits
//! [`Event`]s. It never prints and never touches the terminal.

pub mod abort;
pub mod build;
pub mod event;
pub mod remote;
pub mod runner;

pub use abort::AbortHandle;
pub use event::{ActionKind, Event, PlannedStep, StepKind};
pub use runner::{spawn, AccessoryAction, Engine, EngineError, Request, RunOptions, Running};

#[cfg(test)]
mod tests;
