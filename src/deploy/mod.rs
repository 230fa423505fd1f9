//! deploy: turns a request into a plan of steps per host and boot group, runs it, and emits
//! [`Event`]s. It never prints and never touches the terminal.

pub mod abort;
pub mod build;
pub mod event;
pub mod remote;
pub mod runner;

pub use abort::AbortHandle;
pub use event::{ActionKind, Event, PlannedStep, StepKind};
pub use runner::{AccessoryAction, Engine, EngineError, ExecRequest, ExecResult, LockWait, RegistryAction, Request, RunOptions};

#[cfg(test)]
mod tests;
