//! `cargo xtask bench`: how fast Wristband serves logged-in users and logs people in, measured
//! against baselines taken in the same run on the same machine.
//!
//! The crate builds two programs:
//!
//! - `bench-bare`: a bare axum server answering `GET /` with a constant page the size of
//!   Wristband's dashboard ([`bare`]) — the ceiling for a page served by axum on this machine;
//! - `wristband-bench`: the load generator and the run ([`run`]). For each store (SQLite,
//!   PostgreSQL) and session mode (database, cookie) it starts the release `wristband` server
//!   on a fresh database, registers users and logs them in, then measures, each phase for the
//!   same duration with the same generator ([`load`]: fixed keep-alive HTTP/1.1 connections,
//!   every request's latency recorded):
//!   1. the bare server's `GET /`,
//!   2. authenticated `GET /dashboard`,
//!   3. the bare server's `GET /` again (phases 1 and 3 bracket 2: their mean is its baseline),
//!   4. authenticated `GET /dashboard` while a login storm runs (more connections doing
//!      `POST /login` in a loop),
//!   5. raw Argon2id hashes in-process at the server's parameters, on as many threads as the
//!      server has hashing workers ([`hashing`]),
//!   6. the login storm alone,
//!   7. raw Argon2id hashes again (phases 5 and 7 bracket 6: their mean is its baseline),
//!
//!   and the server's peak memory (`VmHWM`, [`machine`]). It prints tables ([`report`]) and
//!   writes the raw numbers as JSON (default `target/bench/results.json`).
//!
//! Machines are shared and noisy, so the numbers that mean something are the ratios:
//! Wristband's requests per second over the bare server's, and logins per second over raw
//! hashes per second, each pair measured back to back.
//!
//! PostgreSQL comes from a throw-away cluster (`pg-cluster`) unless `--postgres-url` names a
//! server. Everything listens on 127.0.0.1 only; servers, cluster and temporary files are
//! removed at the end, on failure, and on Ctrl-C.

#![forbid(unsafe_code)]

pub mod bare;
pub mod error;
pub mod hashing;
pub mod http;
pub mod load;
pub mod machine;
pub mod pin;
pub mod postgres;
pub mod report;
pub mod run;
pub mod seed;
pub mod server;
pub mod setup;
pub mod stats;
