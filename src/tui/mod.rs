//! tui: filled in by its issue.
