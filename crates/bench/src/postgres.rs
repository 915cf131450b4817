//! PostgreSQL for the postgres legs: a throw-away cluster (`pg-cluster`), or an existing server
//! given by URL; one new database per leg, made with `psql`.

use std::path::PathBuf;
use std::process::Stdio;

use pg_cluster::Cluster;
use tokio::process::Command;

use crate::error::{Context, Error, Result};

/// Where the postgres legs get their databases.
pub struct Postgres {
    /// The throw-away cluster, when one was started (stopped and removed on drop).
    cluster: Option<Cluster>,
    /// A URL of the server's maintenance database, for `CREATE DATABASE`.
    url: String,
    /// The `psql` to run.
    psql: PathBuf,
    /// Databases made on an existing server, dropped at the end.
    created: Vec<String>,
    /// One line saying what runs.
    pub description: String,
}

impl Postgres {
    /// Starts a throw-away cluster (initdb + pg_ctl; a few seconds).
    pub async fn throwaway() -> Result<Postgres> {
        let cluster = tokio::task::spawn_blocking(|| {
            Cluster::start_throwaway_with(|progress| eprintln!("==> PostgreSQL: {progress}"))
        })
        .await
        .context("the PostgreSQL start-up task failed")?
        .map_err(|error| match error.details() {
            Some(details) => Error::new(format!("{error}\n{details}")),
            None => Error::new(error.to_string()),
        })?;
        let psql = cluster.bin_dir().join("psql");
        let psql = if psql.is_file() {
            psql
        } else {
            PathBuf::from("psql")
        };
        Ok(Postgres {
            url: cluster.url(),
            description: cluster.description(),
            cluster: Some(cluster),
            psql,
            created: Vec::new(),
        })
    }

    /// An existing server at `url`, whose user may create databases.
    pub fn existing(url: String) -> Postgres {
        Postgres {
            description: format!("existing server {}", pg_cluster::redact(&url)),
            cluster: None,
            url,
            psql: PathBuf::from("psql"),
            created: Vec::new(),
        }
    }

    /// The throw-away cluster's postmaster, whose process tree is the whole database server
    /// (for CPU accounting); `None` for an existing server.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let cluster = self.cluster.as_ref()?;
        let text = std::fs::read_to_string(cluster.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Creates the database `name` and returns its URL.
    pub async fn create_database(&mut self, name: &str) -> Result<String> {
        self.psql(&format!("CREATE DATABASE \"{name}\"")).await?;
        if self.cluster.is_none() {
            self.created.push(name.to_owned());
        }
        url_with_database(&self.url, name)
    }

    async fn psql(&self, sql: &str) -> Result<()> {
        let output = Command::new(&self.psql)
            .arg(&self.url)
            .args(["--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .with_context(|| format!("cannot run {}", self.psql.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Error::new(format!(
                "psql `{sql}` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }

    /// Stops and removes the throw-away cluster, or drops the databases made on an existing
    /// server.
    pub async fn finish(mut self) -> Result<()> {
        if let Some(cluster) = self.cluster.take() {
            return tokio::task::spawn_blocking(|| cluster.shut_down())
                .await
                .context("the PostgreSQL shut-down task failed")?
                .context("stopping PostgreSQL");
        }
        for name in std::mem::take(&mut self.created) {
            self.psql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await?;
        }
        Ok(())
    }
}

/// `url` with its database (path) replaced by `database`, keeping any query string.
pub fn url_with_database(url: &str, database: &str) -> Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error::new(format!("not a URL: {}", pg_cluster::redact(url))))?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    Ok(format!("{scheme}://{authority}/{database}{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            url_with_database("postgres://postgres@127.0.0.1:5432/postgres", "b1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            url_with_database("postgresql://u:p@db/x?sslmode=disable", "b2").unwrap(),
            "postgresql://u:p@db/b2?sslmode=disable"
        );
        assert_eq!(
            url_with_database("postgres://db:5432", "b3").unwrap(),
            "postgres://db:5432/b3"
        );
        assert!(url_with_database("db:5432", "b4").is_err());
    }
}
