//! `riptide`: the engine. `riptide [flags]` runs a node; `riptide
//! all-in-one` (engine plus control plane on embedded storage) arrives with
//! the control plane.

use clap::{Parser, Subcommand};
use engine::node::{self, EngineConfig};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "riptide", about = "Riptide IMS core: the SIP engine")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Clearwater's local_ip: the SIP address (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// SIP port (0 picks one; the `listening` lines say which).
    #[arg(long, default_value_t = 5060)]
    sip_port: u16,
    /// Shards (pinned cores); default: every available core.
    #[arg(long)]
    shards: Option<usize>,
    /// Do not pin shards to cores.
    #[arg(long)]
    no_pin: bool,
    /// Management HTTP listener.
    #[arg(long, default_value = "127.0.0.1:9886")]
    management: SocketAddr,
    /// Static route HOST=URI (`*` matches any Request-URI host); repeatable.
    #[arg(long = "route")]
    routes: Vec<String>,
    /// Static host entry NAME=IP[,IP]; repeatable.
    #[arg(long = "host")]
    hosts: Vec<String>,
    /// Other names this node answers to (Clearwater's alias_list).
    #[arg(long = "alias")]
    aliases: Vec<String>,
    /// Home domain(s); default example.com.
    #[arg(long = "home-domain")]
    home_domains: Vec<String>,
    /// Insert Record-Route on dialog-forming requests.
    #[arg(long)]
    record_route: bool,
    /// Network namespace for SIP (management stays outside).
    #[arg(long)]
    signaling_namespace: Option<String>,
    /// Clearwater's log_level: 1 errors, 2 warnings, 3 status, 4 info, 5 debug.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=5))]
    log_level: u8,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Engine plus control plane on embedded storage (not yet available).
    AllInOne,
}

fn init_logging(level: u8) {
    let filter = match level {
        1 => tracing::Level::ERROR,
        2 => tracing::Level::WARN,
        3 | 4 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level);
    shards::exit_on_panic();
    if let Some(Command::AllInOne) = cli.command {
        eprintln!(
            "riptide all-in-one: the control plane is not built yet; run `riptide --route '*=sip:HOST:PORT'` for the proxy"
        );
        return ExitCode::from(2);
    }
    let mut cfg = EngineConfig {
        local_ip: cli.local_ip,
        sip_port: cli.sip_port,
        pin: !cli.no_pin,
        management: cli.management,
        aliases: cli.aliases,
        record_route: cli.record_route,
        signaling_namespace: cli.signaling_namespace,
        ..EngineConfig::default()
    };
    if let Some(n) = cli.shards {
        cfg.shards = n.max(1);
    }
    if !cli.home_domains.is_empty() {
        cfg.home_domains = cli.home_domains;
    }
    for r in &cli.routes {
        if let Err(e) = cfg.add_route(r) {
            eprintln!("riptide: {e}");
            return ExitCode::from(2);
        }
    }
    for h in &cli.hosts {
        if let Err(e) = cfg.add_host(h) {
            eprintln!("riptide: {e}");
            return ExitCode::from(2);
        }
    }
    match node::run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("riptide: {e}");
            ExitCode::FAILURE
        }
    }
}
