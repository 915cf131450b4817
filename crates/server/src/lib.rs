//! The ready server's own pages (`/` and `/dashboard`), written as any application embedding
//! Wristband writes its pages. The `wristband` binary serves them; the workspace's HTTP tests
//! run the very same application in-process.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod pages;
