//! kamal: filled in by its issue.
