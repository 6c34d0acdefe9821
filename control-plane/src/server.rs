//! The control-plane server (`riptide-control`, and `riptide all-in-one`'s
//! control-plane process). Provisioning (Homestead-prov),
//! the HSS cache (Homestead) and the XDMS (Homer) over SQLite or PostgreSQL.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::api::{self, AppState, Listeners};
use crate::store::Store;
use clap::Parser;
use tokio::net::TcpListener;

/// File name of the embedded SQLite database inside the data directory.
const SQLITE_FILE: &str = "riptide-control.sqlite";

#[derive(Parser, Debug)]
#[command(name = "riptide-control", version, about)]
struct Args {
    /// Directory for the embedded SQLite database (used without --database-url).
    #[arg(long, default_value = "riptide-data")]
    data_dir: PathBuf,
    /// postgres://user:pass@host/db or sqlite://path (overrides --data-dir).
    #[arg(long, env = "RIPTIDE_DATABASE_URL")]
    database_url: Option<String>,
    /// Home domain: the default realm of private identities.
    #[arg(long, default_value = "example.com")]
    home_domain: String,
    /// S-CSCF URI reported when none is assigned (default sip:scscf.<home-domain>:5054;transport=tcp).
    #[arg(long)]
    scscf_uri: Option<String>,
    /// Provisioning API (Homestead-prov).
    #[arg(long, default_value = "127.0.0.1:8889")]
    listen_provisioning: SocketAddr,
    /// HSS-cache API (Homestead).
    #[arg(long, default_value = "127.0.0.1:8888")]
    listen_hss: SocketAddr,
    /// XDMS (Homer).
    #[arg(long, default_value = "127.0.0.1:7888")]
    listen_xdms: SocketAddr,
    /// An engine's management address (host:port) to tell when a subscriber
    /// changes, so it drops its cached copy; repeatable.
    #[arg(long = "engine")]
    engines: Vec<String>,
    /// Clearwater log level: 1 error, 2 warning, 3 info, 4 debug, 5 trace.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=5))]
    log_level: u8,
}

fn init_logging(level: u8) {
    let level = match level {
        1 => tracing::Level::ERROR,
        2 => tracing::Level::WARN,
        3 => tracing::Level::INFO,
        4 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot watch SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}

async fn run(args: Args) -> Result<(), String> {
    let url = match args.database_url {
        Some(u) => u,
        None => {
            std::fs::create_dir_all(&args.data_dir)
                .map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
            format!(
                "sqlite://{}?mode=rwc",
                args.data_dir.join(SQLITE_FILE).display()
            )
        }
    };
    let store = Store::connect(&url)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let scscf_uri = args
        .scscf_uri
        .unwrap_or_else(|| format!("sip:scscf.{}:5054;transport=tcp", args.home_domain));
    let state = Arc::new(AppState {
        store: store.clone(),
        home_domain: args.home_domain,
        scscf_uri,
        engines: crate::notify::Engines::new(args.engines),
    });
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))
    };
    let listeners = Listeners {
        provisioning: bind(args.listen_provisioning).await?,
        hss: bind(args.listen_hss).await?,
        xdms: bind(args.listen_xdms).await?,
    };
    {
        let mut out = std::io::stdout().lock();
        for (name, l) in [
            ("provisioning", &listeners.provisioning),
            ("hss", &listeners.hss),
            ("xdms", &listeners.xdms),
        ] {
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            writeln!(out, "listening {name} {addr}").map_err(|e| e.to_string())?;
        }
        out.flush().map_err(|e| e.to_string())?;
    }
    api::serve(state, listeners, shutdown_signal())
        .await
        .map_err(|e| format!("serving: {e}"))?;
    store.close().await;
    Ok(())
}

/// Run the server with these command-line arguments (the first is the
/// program name), until SIGTERM or SIGINT.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = Args::parse_from(args);
    init_logging(args.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("riptide-control: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("riptide-control: {e}");
            ExitCode::FAILURE
        }
    }
}
