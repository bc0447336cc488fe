//! Queries over hand-written record lines.
