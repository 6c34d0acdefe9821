//! The side-by-side runner: for each scenario and offered rate, start each
//! system pinned to the server core, drive it with `riptide-load` pinned to
//! the generator core, and read the server's CPU time over the run from
//! `/proc` (the whole process tree). The raw UDP echo floor is measured the
//! same way in the same run. Systems are alternated (A B A B …) per rate.

pub mod plot;
pub mod report;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;

use crate::echo::EchoMode;
use crate::generator::Scenario;
use crate::procstat;
use crate::ramp::RampReport;
use crate::stats::Summary;
use crate::users::User;
use server::{KamailioRole, Server, ServerError};

/// Which server a measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum System {
    /// Riptide with its default UDP driver (glommio's datagram path).
    Riptide,
    /// Riptide with `--udp-driver uring` (each shard's own io_uring).
    RiptideUring,
    Kamailio,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Riptide => "Riptide",
            System::RiptideUring => "Riptide (io_uring UDP)",
            System::Kamailio => "Kamailio",
        }
    }
}

/// Where everything is and how hard to push.
#[derive(Debug, Clone)]
pub struct Plan {
    pub riptide_bin: PathBuf,
    pub load_bin: PathBuf,
    pub compare_bin: PathBuf,
    pub kamailio_cfg_dir: PathBuf,
    pub work_dir: PathBuf,
    pub scenarios: Vec<Scenario>,
    pub systems: Vec<System>,
    pub rates: Vec<f64>,
    pub duration: Duration,
    /// A/B pairs per rate; the report gives the median ratio.
    pub pairs: usize,
    pub ramp: Option<String>,
    pub step_duration: Duration,
    pub p99_max_ms: f64,
    pub users_range: String,
    pub password: String,
    pub domain: String,
    pub users: Vec<User>,
    pub server_core: usize,
    pub generator_core: usize,
    pub echo: bool,
}

/// One measured run of one system at one rate.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub system: String,
    pub scenario: Scenario,
    pub summary: Summary,
    /// The server's user+system CPU over the run, µs.
    pub server_cpu_us: f64,
}

impl Measurement {
    /// Server CPU per successful flow, µs.
    pub fn cpu_us_per_txn(&self) -> Option<f64> {
        (self.summary.successes > 0).then(|| self.server_cpu_us / self.summary.successes as f64)
    }
}

/// One ramp of one system.
#[derive(Debug, Clone, Serialize)]
pub struct RampResult {
    pub system: String,
    pub scenario: Scenario,
    pub report: RampReport,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("running riptide-load: {0}")]
    Load(std::io::Error),
    #[error("riptide-load printed no summary ({0}); stderr: {1}")]
    Output(String, String),
    #[error("reading CPU time of pid {0}")]
    Cpu(u32),
}

/// Everything one invocation measured.
#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub runs: Vec<Measurement>,
    pub echo: Vec<Measurement>,
    pub ramps: Vec<RampResult>,
}

impl Plan {
    /// Run the whole plan; `progress` gets a line per finished measurement.
    pub fn run(&self, mut progress: impl FnMut(&str)) -> Result<Results, CompareError> {
        let mut results = Results::default();
        if self.echo {
            for &rate in &self.rates {
                for mode in [EchoMode::Blocking, EchoMode::Mmsg, EchoMode::Uring] {
                    let m = self.measure_echo(mode, rate)?;
                    progress(&line(&m));
                    results.echo.push(m);
                }
            }
        }
        for &scenario in &self.scenarios {
            let systems = self.systems.clone();
            for &rate in &self.rates {
                for pair in 0..self.pairs {
                    // Alternate which system goes first from pair to pair.
                    let mut order = systems.clone();
                    if pair % 2 == 1 {
                        order.reverse();
                    }
                    for system in order {
                        let m = self.measure(system, scenario, rate)?;
                        progress(&line(&m));
                        results.runs.push(m);
                    }
                }
            }
            if let Some(ramp) = &self.ramp {
                for &system in &systems {
                    let r = self.ramp(system, scenario, ramp)?;
                    progress(&format!(
                        "ramp {} {}: last good {:?}/s",
                        system.name(),
                        scenario.name(),
                        r.report.last_good_rate
                    ));
                    results.ramps.push(r);
                }
            }
        }
        Ok(results)
    }

    fn start(
        &self,
        system: System,
        scenario: Scenario,
        uas_port: u16,
    ) -> Result<Server, CompareError> {
        let next_hop = std::net::SocketAddr::from(([127, 0, 0, 1], uas_port));
        let role = match scenario {
            Scenario::Register | Scenario::Reregister => KamailioRole::Registrar,
            Scenario::Options | Scenario::Call => KamailioRole::Proxy,
        };
        let udp_driver = (system == System::RiptideUring).then_some("uring");
        Ok(match system {
            System::Riptide | System::RiptideUring if role == KamailioRole::Registrar => {
                server::riptide_registrar(
                    &self.riptide_bin,
                    self.server_core,
                    &self.work_dir.join("riptide-data"),
                    &self.users,
                    udp_driver,
                )?
            }
            System::Riptide | System::RiptideUring => server::riptide(
                &self.riptide_bin,
                self.server_core,
                Some(next_hop),
                udp_driver,
            )?,
            System::Kamailio => {
                let passwd_dir = self.work_dir.join("kamailio-db");
                if role == KamailioRole::Registrar {
                    server::write_passwords(&passwd_dir, &self.users)?;
                }
                let port = server::free_udp_port().map_err(CompareError::Load)?;
                server::kamailio(
                    &self.kamailio_cfg_dir,
                    role,
                    self.server_core,
                    port,
                    next_hop,
                    &passwd_dir,
                )?
            }
        })
    }

    fn load_command(&self, scenario: Scenario, server: &Server, uas_port: u16) -> Command {
        let mut c = Command::new("taskset");
        c.arg("-c")
            .arg(self.generator_core.to_string())
            .arg(&self.load_bin)
            .arg(scenario.name())
            .args(["--server", &server.sip.to_string()])
            .args(["--uas", &format!("127.0.0.1:{uas_port}")])
            .args(["--users", &self.users_range, "--password", &self.password])
            .args(["--domain", &self.domain, "--json"]);
        c
    }

    fn measure(
        &self,
        system: System,
        scenario: Scenario,
        rate: f64,
    ) -> Result<Measurement, CompareError> {
        let uas_port = server::free_udp_port().map_err(CompareError::Load)?;
        let server = self.start(system, scenario, uas_port)?;
        let mut cmd = self.load_command(scenario, &server, uas_port);
        cmd.args(["--rate", &rate.to_string()])
            .args(["--duration", &self.duration.as_secs_f64().to_string()]);
        let (summary, cpu_us) = run_measured::<Summary>(cmd, server.pid())?;
        drop(server);
        Ok(Measurement {
            system: system.name().to_owned(),
            scenario,
            summary,
            server_cpu_us: cpu_us,
        })
    }

    fn measure_echo(&self, mode: EchoMode, rate: f64) -> Result<Measurement, CompareError> {
        let server = server::echo(&self.compare_bin, self.server_core, mode)?;
        let mut cmd = Command::new("taskset");
        cmd.arg("-c")
            .arg(self.generator_core.to_string())
            .arg(&self.load_bin)
            .args(["options", "--expect-echo", "--json"])
            .args(["--server", &server.sip.to_string()])
            .args(["--rate", &rate.to_string()])
            .args(["--duration", &self.duration.as_secs_f64().to_string()]);
        let (summary, cpu_us) = run_measured::<Summary>(cmd, server.pid())?;
        Ok(Measurement {
            system: format!("echo {}", mode.name()),
            scenario: Scenario::Options,
            summary,
            server_cpu_us: cpu_us,
        })
    }

    fn ramp(
        &self,
        system: System,
        scenario: Scenario,
        spec: &str,
    ) -> Result<RampResult, CompareError> {
        let uas_port = server::free_udp_port().map_err(CompareError::Load)?;
        let server = self.start(system, scenario, uas_port)?;
        let mut cmd = self.load_command(scenario, &server, uas_port);
        cmd.args(["--ramp", spec])
            .args([
                "--step-duration",
                &self.step_duration.as_secs_f64().to_string(),
            ])
            .args(["--p99-max", &self.p99_max_ms.to_string()])
            .args(["--drain-ms", "2000"]);
        let (report, _) = run_measured::<RampReport>(cmd, server.pid())?;
        Ok(RampResult {
            system: system.name().to_owned(),
            scenario,
            report,
        })
    }
}

/// The line `riptide-load` prints on stderr just before its measured load
/// (after a `reregister` warm-up, which must not be counted).
pub const MEASURING_LINE: &str = "riptide-load: measuring";

/// Run the generator to completion and return its JSON output and the
/// server tree's CPU time over exactly its measured load (µs): from the
/// generator's [`MEASURING_LINE`] (or its start, for a generator that
/// prints none) to its exit.
fn run_measured<T: serde::de::DeserializeOwned>(
    mut cmd: Command,
    server_pid: u32,
) -> Result<(T, f64), CompareError> {
    use std::io::{BufRead, BufReader, Read};
    let mut before = procstat::tree_ticks(server_pid).ok_or(CompareError::Cpu(server_pid))?;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(CompareError::Load)?;
    let mut stdout = child.stdout.take().ok_or_else(|| {
        CompareError::Load(std::io::Error::other("riptide-load's stdout was not piped"))
    })?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let mut stderr = String::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines() {
            let line = line.map_err(CompareError::Load)?;
            if line.starts_with(MEASURING_LINE) {
                before = procstat::tree_ticks(server_pid).ok_or(CompareError::Cpu(server_pid))?;
            } else {
                stderr.push_str(&line);
                stderr.push('\n');
            }
        }
    }
    child.wait().map_err(CompareError::Load)?;
    let after = procstat::tree_ticks(server_pid).ok_or(CompareError::Cpu(server_pid))?;
    let stdout = reader
        .join()
        .map_err(|_| CompareError::Load(std::io::Error::other("stdout reader panicked")))?
        .map_err(CompareError::Load)?;
    let parsed: T =
        serde_json::from_slice(&stdout).map_err(|e| CompareError::Output(e.to_string(), stderr))?;
    let cpu = procstat::ticks_to_duration(after.saturating_sub(before));
    Ok((parsed, cpu.as_secs_f64() * 1e6))
}

fn line(m: &Measurement) -> String {
    format!(
        "{} {} offered {:.0}/s: {} ok, {} failed, server CPU {:.0} ms, {:.1} µs/txn",
        m.system,
        m.scenario.name(),
        m.summary.offered_rate,
        m.summary.successes,
        m.summary.failures_total,
        m.server_cpu_us / 1000.0,
        m.cpu_us_per_txn().unwrap_or(f64::NAN)
    )
}

/// `git rev-parse --short HEAD` in `dir`, or `unknown`.
pub fn git_rev(dir: &Path) -> String {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}
