//! `riptide-load`: offer SIP load to one server and report what came back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use perf::generator::{Config, Generator, Load, Scenario};
use perf::ramp::{self, RampSpec};
use perf::users;

#[derive(Debug, Parser)]
#[command(name = "riptide-load", about = "SIP load generator (UDP)")]
struct Cli {
    /// What each flow does.
    #[arg(value_enum)]
    scenario: Scenario,
    /// The server under test.
    #[arg(long, default_value = "127.0.0.1:5060")]
    server: SocketAddr,
    /// New flows per second (fixed offered load).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Stop starting flows after this many.
    #[arg(long)]
    count: Option<u64>,
    /// Stop starting flows after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Find the highest good rate: START:STEP:MAX flows/s, each step for --step-duration.
    #[arg(long)]
    ramp: Option<RampSpec>,
    /// Seconds per ramp step.
    #[arg(long, default_value_t = 5.0)]
    step_duration: f64,
    /// A ramp step is good while p99 of the whole flow stays under this (ms).
    #[arg(long, default_value_t = 10.0)]
    p99_max: f64,
    /// Users as a numeric range FIRST..LAST (`sip:<dn>@<domain>`, private id `<dn>@<domain>`).
    #[arg(long)]
    users: Option<String>,
    /// Password of every user in --users.
    #[arg(long, default_value = "secret")]
    password: String,
    /// Users from a Clearwater stress CSV (`dn;[authentication username=.. password=..];...`).
    #[arg(long)]
    users_csv: Option<PathBuf>,
    /// Home domain of the users and call parties.
    #[arg(long, default_value = "example.com")]
    domain: String,
    /// Local address of the UAC socket.
    #[arg(long, default_value = "127.0.0.1:0")]
    local: SocketAddr,
    /// Local address of the simulated callee (the server must route calls here).
    #[arg(long, default_value = "127.0.0.1:0")]
    uas: SocketAddr,
    /// Request-URI override (OPTIONS target, INVITE target, registrar URI).
    #[arg(long)]
    request_uri: Option<String>,
    /// REGISTER Expires, seconds.
    #[arg(long, default_value_t = 300)]
    expires: u32,
    /// Call hold time between ACK and BYE, ms.
    #[arg(long, default_value_t = 0)]
    hold_ms: u64,
    /// RFC 3261 T1, ms.
    #[arg(long, default_value_t = 500)]
    t1_ms: u64,
    /// A transaction with no final response after this fails (default 64·T1).
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// After the last flow starts, wait at most this long for the rest, ms.
    #[arg(long, default_value_t = 5000)]
    drain_ms: u64,
    /// Rate of the unmeasured registration pass before `reregister`.
    #[arg(long, default_value_t = 2000.0)]
    warm_up_rate: f64,
    /// Count the request echoed back as its 200 (for the raw echo floor).
    #[arg(long)]
    expect_echo: bool,
    /// Start the flows due once per tick of this many ms (1: a smooth trickle).
    #[arg(long, default_value_t = 1.0)]
    tick_ms: f64,
    /// Pin the generator's thread to this CPU.
    #[arg(long)]
    cpu: Option<usize>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("riptide-load: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if let Some(cpu) = cli.cpu {
        let mut set = nix::sched::CpuSet::new();
        set.set(cpu)?;
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)?;
    }
    let mut cfg = Config::new(cli.scenario, cli.server);
    cfg.uac_bind = cli.local;
    cfg.uas_bind = cli.uas;
    cfg.t1 = Duration::from_millis(cli.t1_ms);
    cfg.timeout = Duration::from_millis(cli.timeout_ms.unwrap_or(64 * cli.t1_ms));
    cfg.drain = Duration::from_millis(cli.drain_ms);
    cfg.expires_s = cli.expires;
    cfg.hold = Duration::from_millis(cli.hold_ms);
    cfg.domain = cli.domain.clone();
    cfg.request_uri = cli.request_uri.clone();
    cfg.expect_echo = cli.expect_echo;
    cfg.tick = Duration::from_secs_f64(cli.tick_ms.max(0.001) / 1000.0);
    cfg.users = match (&cli.users, &cli.users_csv) {
        (Some(r), _) => users::range(r, &cli.password, &cli.domain)?,
        (None, Some(path)) => users::parse_csv(&std::fs::read_to_string(path)?, &cli.domain)?,
        (None, None) => Vec::new(),
    };
    let mut generator = Generator::new(cfg)?;
    eprintln!(
        "riptide-load: {} from {} (callee at {}) to {}",
        cli.scenario.name(),
        generator.uac_addr()?,
        generator.uas_addr()?,
        cli.server
    );
    if cli.scenario == Scenario::Reregister {
        let w = generator.warm_up(cli.warm_up_rate)?;
        eprintln!(
            "riptide-load: warm-up registered {} of {} users",
            w.successes, w.attempts
        );
    }
    // riptide-compare starts counting the server's CPU here.
    eprintln!("{}", perf::compare::MEASURING_LINE);
    if let Some(spec) = cli.ramp {
        let step = Duration::from_secs_f64(cli.step_duration);
        let report = ramp::run(&mut generator, spec, step, cli.p99_max, |s| {
            eprintln!("{}", s.to_text());
        })?;
        if cli.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{}", report.to_text());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let load = Load {
        rate: cli.rate,
        count: cli.count,
        duration: cli.duration.map(Duration::from_secs_f64),
    };
    let summary = generator.run(load)?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.to_text());
    }
    Ok(if summary.failures_total == 0 && summary.successes > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
