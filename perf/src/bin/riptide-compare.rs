//! `riptide-compare`: Riptide and Kamailio side by side on one pinned core,
//! the raw echo floor beside them, a Markdown report in `perf/results/`.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use perf::compare::{Plan, System, git_rev, report};
use perf::echo::{self, EchoMode};
use perf::generator::Scenario;
use perf::users;

#[derive(Debug, Parser)]
#[command(
    name = "riptide-compare",
    about = "Riptide against Kamailio, same core, same load"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the comparison and write the report.
    Run(Box<RunArgs>),
    /// A raw UDP echo (the floor), printing `listening ADDR`; used by `run`.
    Echo {
        #[arg(long, value_enum, default_value = "blocking")]
        mode: EchoMode,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The riptide binary (release build).
    #[arg(long, default_value = "target/release/riptide")]
    riptide: PathBuf,
    /// The riptide-load binary (default: beside this one).
    #[arg(long)]
    load: Option<PathBuf>,
    /// Folder with register.cfg and proxy.cfg.
    #[arg(long, default_value = "perf/kamailio")]
    kamailio_cfg: PathBuf,
    /// Scenarios, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Scenario::Options, Scenario::Call, Scenario::Register])]
    scenarios: Vec<Scenario>,
    /// Systems, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [System::Riptide, System::Kamailio])]
    systems: Vec<System>,
    /// Offered rates (flows/s), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [2000.0, 5000.0, 10000.0])]
    rates: Vec<f64>,
    /// Seconds per measured run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// A/B pairs per rate.
    #[arg(long, default_value_t = 1)]
    pairs: usize,
    /// Also ramp each system: START:STEP:MAX flows/s.
    #[arg(long)]
    ramp: Option<String>,
    #[arg(long, default_value_t = 5.0)]
    step_duration: f64,
    #[arg(long, default_value_t = 10.0)]
    p99_max: f64,
    /// Users for register scenarios (numeric range; clear of the all-in-one
    /// demo range 6505550000-6505550099, whose passwords are random).
    #[arg(long, default_value = "6505600000..6505699999")]
    users: String,
    #[arg(long, default_value = "secret")]
    password: String,
    #[arg(long, default_value = "example.com")]
    domain: String,
    #[arg(long, default_value_t = 1)]
    server_core: usize,
    #[arg(long, default_value_t = 0)]
    generator_core: usize,
    /// Skip the echo floor.
    #[arg(long)]
    no_echo: bool,
    /// Where the report goes.
    #[arg(long, default_value = "perf/results")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Echo { mode, listen } => run_echo(mode, listen),
        Cmd::Run(args) => run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("riptide-compare: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_echo(
    mode: EchoMode,
    listen: std::net::SocketAddr,
) -> Result<(), Box<dyn std::error::Error>> {
    let sock = UdpSocket::bind(listen)?;
    println!("listening {}", sock.local_addr()?);
    // The parent reads one line; the pipe may close after that.
    echo::run(&sock, mode)?;
    Ok(())
}

fn run(args: RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let compare_bin = std::env::current_exe()?;
    let load_bin = match &args.load {
        Some(p) => p.clone(),
        None => compare_bin.with_file_name("riptide-load"),
    };
    let work_dir = std::env::temp_dir().join(format!("riptide-compare-{}", std::process::id()));
    std::fs::create_dir_all(&work_dir)?;
    let plan = Plan {
        riptide_bin: args.riptide.clone(),
        load_bin,
        compare_bin,
        kamailio_cfg_dir: std::fs::canonicalize(&args.kamailio_cfg)?,
        work_dir: work_dir.clone(),
        scenarios: args.scenarios.clone(),
        systems: args.systems.clone(),
        rates: args.rates.clone(),
        duration: Duration::from_secs_f64(args.duration),
        pairs: args.pairs.max(1),
        ramp: args.ramp.clone(),
        step_duration: Duration::from_secs_f64(args.step_duration),
        p99_max_ms: args.p99_max,
        users_range: args.users.clone(),
        password: args.password.clone(),
        domain: args.domain.clone(),
        users: users::range(&args.users, &args.password, &args.domain)?,
        server_core: args.server_core,
        generator_core: args.generator_core,
        echo: !args.no_echo,
    };
    let results = plan.run(|l| eprintln!("{l}"))?;
    let _ = std::fs::remove_dir_all(&work_dir);
    let rev = git_rev(&std::env::current_dir()?);
    let command: Vec<String> = std::env::args().collect();
    let header = format!(
        "# Riptide against Kamailio, {} (rev {rev})\n\n\
         Machine: {}. Server pinned to core {}, generator (`riptide-load`) to core {}, UDP on loopback, \
         {} s per measured run, {} A/B pair(s) per rate. CPU is the server's utime+stime (whole process \
         tree) from `/proc/PID/stat` over the run, divided by completed flows.\n\n\
         Command: `{}`\n\n\
         Riptide: `--shards 1 --no-pin --record-route --route '*=sip:<generator callee>'` (transaction-stateful, \
         answers OPTIONS to itself; registrar only where the build has it); `Riptide (io_uring UDP)` adds \
         `--udp-driver uring`. Kamailio {}: `-x tlsf -m 2048 -M 64`, \
         children=1, errors-only logging; `perf/kamailio/proxy.cfg` (tm + rr, 100 Trying, ACK/BYE by \
         loose_route) for `options` and `call`, `perf/kamailio/register.cfg` (auth with one-time nonces, \
         htable passwords loaded at start, usrloc db_mode=0) for `register`. \
         The floor is the cheapest echo's CPU per datagram at the same offered rate times the flow's datagrams.\n",
        report::today(),
        machine_line(),
        args.server_core,
        args.generator_core,
        args.duration,
        plan.pairs,
        command.join(" "),
        kamailio_version(),
    );
    let md = report::markdown(&results, &header, &args.rates, &args.scenarios);
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join(format!("{}-{rev}.md", report::today()));
    std::fs::write(&path, &md)?;
    let json_path = path.with_extension("json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&results)?)?;
    let png_path = path.with_extension("png");
    if let Err(e) = perf::compare::plot::png(&results, &args.scenarios, &png_path) {
        eprintln!("riptide-compare: no plot: {e}");
    }
    println!("{md}");
    eprintln!("wrote {} and {}", path.display(), json_path.display());
    Ok(())
}

fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {kernel}")
}

fn kamailio_version() -> String {
    std::process::Command::new("/usr/sbin/kamailio")
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "(version unknown)".to_owned())
}
