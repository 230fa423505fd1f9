//! docker: filled in by its issue.
