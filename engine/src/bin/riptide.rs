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
    /// Who moves UDP in each shard: `glommio` (glommio's datagram path) or
    /// `uring` (the shard's own io_uring, batched; measured no cheaper yet).
    #[arg(long, default_value = "glommio")]
    udp_driver: shards::UdpDriver,
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
    /// The HSS cache (Homestead API, e.g. riptide-control's 127.0.0.1:8888):
    /// enables the S-CSCF for the home domains.
    #[arg(long)]
    hss: Option<SocketAddr>,
    /// Keep registration state in Redis (redis://host:port[/db]) instead of
    /// the embedded store.
    #[arg(long)]
    redis: Option<String>,
    /// Prefix for every Redis key.
    #[arg(long, default_value = "riptide:")]
    redis_key_prefix: String,
    /// Directory for the registration store (one subdirectory per shard).
    #[arg(long, default_value = "riptide-data")]
    data_dir: std::path::PathBuf,
    /// Clearwater's reg_max_expires (seconds).
    #[arg(long, default_value_t = 300)]
    reg_max_expires: u32,
    /// Clearwater's nonce_count_supported.
    #[arg(long)]
    nonce_count_supported: bool,
    /// Clearwater's user_settings `authentication`: `Y` accepts every
    /// REGISTER without a challenge (insecure; test setups only).
    #[arg(long, default_value = "N", value_parser = ["Y", "N"])]
    authentication: String,
    /// Seconds a shard caches a digest authentication vector (0: never).
    #[arg(long, default_value_t = 300)]
    av_cache_ttl: u64,
    /// Seconds a shard caches reg-data, and so skips the reg-data PUT of a
    /// re-registration (0: never; default Clearwater's hss_reregistration_time).
    #[arg(long, default_value_t = 4800)]
    reg_data_cache_ttl: u64,
    /// Most entries a shard's subscriber cache holds of each kind (digest
    /// vectors, reg-data); beyond it the entry nearest expiry makes room.
    /// Size it to the subscribers a shard serves, or refreshes miss it.
    #[arg(long, default_value_t = node::subscriber_cache::SubscriberCacheConfig::default().entries_max)]
    subscriber_cache_entries: usize,
    /// Clearwater's bgcf_uri: where the S-CSCF sends originating requests
    /// for targets that are not ours (off-net), e.g.
    /// `sip:bgcf.example.net:5053;transport=tcp`. Unset: a number gets 404,
    /// a foreign SIP URI goes to its own domain.
    #[arg(long)]
    bgcf_uri: Option<String>,
    /// all-in-one: the control plane's provisioning API (Homestead-prov).
    #[arg(long, default_value = "127.0.0.1:8889")]
    provisioning_listen: SocketAddr,
    /// all-in-one: the control plane's HSS-cache API (Homestead).
    #[arg(long, default_value = "127.0.0.1:8888")]
    hss_listen: SocketAddr,
    /// all-in-one: the control plane's XDMS (Homer).
    #[arg(long, default_value = "127.0.0.1:7888")]
    xdms_listen: SocketAddr,
    /// Clearwater's log_level: 1 errors, 2 warnings, 3 status, 4 info, 5 debug.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=5))]
    log_level: u8,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Engine plus control plane on embedded storage in one data directory,
    /// with the demo subscribers 6505550000-6505550099@example.com.
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
    // all-in-one runs the control plane as its own process: this binary again.
    let mut args = std::env::args_os();
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "__control-plane")
    {
        // Die with the all-in-one parent, even on its SIGKILL.
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
        let parent = std::env::var(node::all_in_one::PARENT_ENV).ok();
        if parent.is_some_and(|p| p != nix::unistd::getppid().to_string()) {
            return ExitCode::FAILURE; // the parent was already gone
        }
        let program = args.next().unwrap_or_default();
        return control_plane::server::main_with_args(std::iter::once(program).chain(args.skip(1)));
    }
    let cli = Cli::parse();
    init_logging(cli.log_level);
    // Transparent huge pages: every fresh 2 MiB page is zeroed (and may be
    // compacted) on first touch inside a shard, which perf showed as a
    // quarter of the CPU and 200 ms p99 stalls while transaction tables grow.
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::warn!(error = %e, "could not turn transparent huge pages off");
    }
    shards::exit_on_panic();
    let mut cfg = EngineConfig {
        local_ip: cli.local_ip,
        sip_port: cli.sip_port,
        pin: !cli.no_pin,
        management: cli.management,
        aliases: cli.aliases,
        record_route: cli.record_route,
        signaling_namespace: cli.signaling_namespace,
        hss: cli.hss,
        redis: cli.redis,
        redis_key_prefix: cli.redis_key_prefix,
        data_dir: cli.data_dir,
        reg_max_expires: cli.reg_max_expires,
        nonce_count_supported: cli.nonce_count_supported,
        udp_driver: cli.udp_driver,
        accept_all_registers: cli.authentication == "Y",
        subscriber_cache: node::subscriber_cache::SubscriberCacheConfig {
            av_ttl_ms: cli.av_cache_ttl.saturating_mul(1000),
            reg_data_ttl_ms: cli.reg_data_cache_ttl.saturating_mul(1000),
            entries_max: cli.subscriber_cache_entries,
        },
        bgcf_uri: cli.bgcf_uri,
        ..EngineConfig::default()
    };
    if let Some(n) = cli.shards {
        cfg.shards = n.max(1);
    }
    if !cli.home_domains.is_empty() {
        cfg.home_domains = cli.home_domains;
    }
    if let Some(uri) = &cfg.bgcf_uri {
        if sip_fastpath::Uri::parse_strict(uri.as_bytes()).is_err() {
            eprintln!("riptide: bgcf_uri {uri:?} is not a SIP URI");
            return ExitCode::from(2);
        }
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
    let outcome = match cli.command {
        Some(Command::AllInOne) => node::all_in_one::run(
            node::all_in_one::AllInOneConfig {
                data_dir: cfg.data_dir.clone(),
                provisioning: cli.provisioning_listen,
                hss: cli.hss_listen,
                xdms: cli.xdms_listen,
            },
            cfg,
        ),
        None => node::run(cfg),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("riptide: {e}");
            ExitCode::FAILURE
        }
    }
}
