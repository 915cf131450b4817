//! `bench-bare [--bind ADDR]`: the bare axum baseline for `cargo xtask bench` — `GET /`
//! answers a constant HTML page the size of Wristband's dashboard. Prints `listening on ADDR`
//! once bound; runs until killed.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// The bare axum baseline server of `cargo xtask bench`.
#[derive(Debug, Parser)]
#[command(name = "bench-bare", version, about)]
struct Options {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let served = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))
        .and_then(|runtime| runtime.block_on(serve(options.bind)));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench-bare: error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(bind: SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|error| format!("cannot listen on {bind}: {error}"))?;
    let addr = listener
        .local_addr()
        .map_err(|error| format!("cannot read the bound address: {error}"))?;
    println!("listening on {addr}");
    axum::serve(listener, bench::bare::router())
        .await
        .map_err(|error| format!("serving failed: {error}"))
}
