//! `riptide`: the engine. `riptide [flags]` runs a node on the settings of
//! Clearwater's configuration files (`--config-dir`) with the flags given
//! over them; `riptide all-in-one` runs the engine plus the control plane on
//! embedded storage with a demo subscriber range.

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// Where Clearwater's `shared_config`, `local_config` and `user_settings`
    /// are read from (each optional); flags given here win over them.
    #[arg(long, default_value = "/etc/clearwater")]
    config_dir: std::path::PathBuf,
    /// Clearwater's local_ip: the SIP address (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// SIP port (0 picks one; the `listening` lines say which).
    #[arg(long, default_value_t = 5060)]
    sip_port: u16,
    /// Shards (pinned cores); default: every available core.
    #[arg(long)]
    shards: Option<usize>,
    /// Messages each shard-to-shard queue holds; a request whose owner
    /// shard's queue is full gets 503 with Retry-After: 1.
    #[arg(long, default_value_t = shards::RuntimeConfig::default().mesh_capacity)]
    shard_queue_depth: usize,
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
    /// Shortest registration accepted (seconds): a non-zero expiry below it
    /// gets 423 Interval Too Brief with Min-Expires.
    #[arg(long, default_value_t = 1)]
    reg_min_expires: u32,
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
    /// The requests the throttle lets through unmetered (`throttle_exempt`):
    /// comma-separated from ack, cancel, options, register, subscribe,
    /// in_dialog, odi, emergency (Sprout's set, the default), or `none`.
    /// Drop `register` to throttle a registration storm.
    #[arg(long)]
    throttle_exempt: Option<String>,
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

/// The flags given on the command line, over what the files set.
fn flags_over_files(
    cli: &Cli,
    given: &dyn Fn(&str) -> bool,
    cfg: &mut EngineConfig,
) -> Result<(), String> {
    macro_rules! over {
        ($($id:ident => $target:expr),* $(,)?) => {
            $(if given(stringify!($id)) { $target = cli.$id.clone(); })*
        };
    }
    over!(
        local_ip => cfg.local_ip,
        sip_port => cfg.sip_port,
        management => cfg.management,
        aliases => cfg.aliases,
        record_route => cfg.record_route,
        redis => cfg.redis,
        redis_key_prefix => cfg.redis_key_prefix,
        data_dir => cfg.data_dir,
        reg_max_expires => cfg.reg_max_expires,
        reg_min_expires => cfg.reg_min_expires,
        udp_driver => cfg.udp_driver,
        shard_queue_depth => cfg.shard_queue_depth,
        bgcf_uri => cfg.bgcf_uri,
        log_level => cfg.log_level,
    );
    if given("signaling_namespace") {
        cfg.signaling_namespace = cli.signaling_namespace.clone();
    }
    if given("hss") {
        cfg.hss = cli.hss;
    }
    if given("no_pin") {
        cfg.pin = false;
    }
    if given("nonce_count_supported") {
        cfg.nonce_count_supported = true;
    }
    if given("authentication") {
        cfg.accept_all_registers = cli.authentication == "Y";
    }
    if given("av_cache_ttl") {
        cfg.subscriber_cache.av_ttl_ms = cli.av_cache_ttl.saturating_mul(1000);
    }
    if given("reg_data_cache_ttl") {
        cfg.subscriber_cache.reg_data_ttl_ms = cli.reg_data_cache_ttl.saturating_mul(1000);
    }
    if given("subscriber_cache_entries") {
        cfg.subscriber_cache.entries_max = cli.subscriber_cache_entries;
    }
    if let Some(n) = cli.shards {
        cfg.shards = n.max(1);
    }
    if !cli.home_domains.is_empty() {
        cfg.home_domains = cli.home_domains.clone();
    }
    if let Some(v) = &cli.throttle_exempt {
        cfg.exemptions = node::config_files::parse_exemptions(v)
            .map_err(|e| format!("--throttle-exempt {v:?}: {e}"))?;
    }
    if let Some(uri) = &cfg.bgcf_uri {
        if sip_fastpath::Uri::parse_strict(uri.as_bytes()).is_err() {
            return Err(format!("bgcf_uri {uri:?} is not a SIP URI"));
        }
    }
    if cfg.reg_min_expires > cfg.reg_max_expires {
        return Err(format!(
            "reg_min_expires {} is above reg_max_expires {}",
            cfg.reg_min_expires, cfg.reg_max_expires
        ));
    }
    for r in &cli.routes {
        cfg.add_route(r)?;
    }
    for h in &cli.hosts {
        cfg.add_host(h)?;
    }
    Ok(())
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
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let mut cfg = EngineConfig::default();
    let unused = match node::config_files::load(&cli.config_dir)
        .and_then(|settings| node::config_files::apply(&settings, &mut cfg))
    {
        Ok(unused) => unused,
        Err(e) => {
            eprintln!(
                "riptide: configuration in {}: {e}",
                cli.config_dir.display()
            );
            return ExitCode::from(2);
        }
    };
    if let Err(e) = flags_over_files(&cli, &given, &mut cfg) {
        eprintln!("riptide: {e}");
        return ExitCode::from(2);
    }
    init_logging(cfg.log_level);
    if !unused.is_empty() {
        tracing::info!(keys = ?unused, "configuration options the engine does not use");
    }
    // Transparent huge pages: every fresh 2 MiB page is zeroed (and may be
    // compacted) on first touch inside a shard, which perf showed as a
    // quarter of the CPU and 200 ms p99 stalls while transaction tables grow.
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::warn!(error = %e, "could not turn transparent huge pages off");
    }
    shards::exit_on_panic();
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
