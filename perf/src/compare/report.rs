//! The Markdown report: machine line, commands, the echo floor, one table per
//! scenario with ratios to the peer and to the floor, and the ramps.

use std::fmt::Write as _;

use super::{Measurement, Results, System};
use crate::generator::Scenario;
use crate::stats::FLOW;

/// Datagrams the server receives and sends per flow (PERFORMANCE.md).
pub fn datagrams_per_flow(s: Scenario) -> u32 {
    match s {
        Scenario::Options => 2,
        Scenario::Register | Scenario::Reregister => 4,
        // INVITE, 180, 200, ACK, BYE, 200 in; 100, INVITE, 180, 200, ACK, BYE, 200 out.
        Scenario::Call => 13,
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn same_rate(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.5
}

/// The cheapest echo's CPU per datagram at `rate`, µs.
fn floor_per_datagram(results: &Results, rate: f64) -> Option<f64> {
    results
        .echo
        .iter()
        .filter(|m| same_rate(m.summary.offered_rate, rate))
        .filter_map(|m| m.cpu_us_per_txn().map(|c| c / 2.0))
        .min_by(f64::total_cmp)
}

fn cpu_of(results: &Results, system: &str, scenario: Scenario, rate: f64) -> Vec<f64> {
    results
        .runs
        .iter()
        .filter(|m| m.system == system && m.scenario == scenario)
        .filter(|m| same_rate(m.summary.offered_rate, rate))
        .filter_map(Measurement::cpu_us_per_txn)
        .collect()
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |x| format!("{x:.decimals$}"))
}

/// The whole report. `header` holds the machine line and the command.
pub fn markdown(results: &Results, header: &str, rates: &[f64], scenarios: &[Scenario]) -> String {
    let mut s = String::new();
    s.push_str(header);
    if !results.echo.is_empty() {
        s.push_str("\n## Raw UDP echo floor (same run, same pinning)\n\n");
        s.push_str("| offered pairs/s | echo | achieved/s | failures | p50 µs | p99 µs | CPU-µs per pair | CPU-µs per datagram |\n");
        s.push_str("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for m in &results.echo {
            let l = m.summary.latency.get(FLOW);
            let _ = writeln!(
                s,
                "| {:.0} | {} | {:.0} | {} | {} | {} | {} | {} |",
                m.summary.offered_rate,
                m.system,
                m.summary.achieved_rate,
                m.summary.failures_total,
                l.map_or(0, |l| l.p50_us),
                l.map_or(0, |l| l.p99_us),
                opt(m.cpu_us_per_txn(), 2),
                opt(m.cpu_us_per_txn().map(|c| c / 2.0), 2),
            );
        }
    }
    for &scenario in scenarios {
        let runs: Vec<&Measurement> = results
            .runs
            .iter()
            .filter(|m| m.scenario == scenario)
            .collect();
        if runs.is_empty() {
            continue;
        }
        let dg = datagrams_per_flow(scenario);
        let _ = write!(
            s,
            "\n## `{}` ({dg} datagrams per flow at the server)\n\n",
            scenario.name()
        );
        s.push_str("| offered/s | system | achieved/s | failures | p50 µs | p99 µs | CPU-µs per flow | × floor | Riptide/Kamailio CPU |\n");
        s.push_str("| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
        for &rate in rates {
            let ratio = match (
                median(cpu_of(results, System::Riptide.name(), scenario, rate)),
                median(cpu_of(results, System::Kamailio.name(), scenario, rate)),
            ) {
                (Some(r), Some(k)) if k > 0.0 => Some(r / k),
                _ => None,
            };
            let floor = floor_per_datagram(results, rate).map(|d| d * f64::from(dg));
            for m in runs
                .iter()
                .filter(|m| same_rate(m.summary.offered_rate, rate))
            {
                let l = m.summary.latency.get(FLOW);
                let failures = if m.summary.failures.is_empty() {
                    "0".to_owned()
                } else {
                    m.summary
                        .failures
                        .iter()
                        .map(|(k, v)| format!("{v}× {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let cpu = m.cpu_us_per_txn();
                let x_floor = match (cpu, floor) {
                    (Some(c), Some(f)) if f > 0.0 => Some(c / f),
                    _ => None,
                };
                let _ = writeln!(
                    s,
                    "| {:.0} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
                    rate,
                    m.system,
                    m.summary.achieved_rate,
                    failures,
                    l.map_or(0, |l| l.p50_us),
                    l.map_or(0, |l| l.p99_us),
                    opt(cpu, 1),
                    opt(x_floor, 2),
                    if m.system == System::Riptide.name() {
                        opt(ratio, 2)
                    } else {
                        String::new()
                    },
                );
            }
        }
    }
    if !results.ramps.is_empty() {
        s.push_str("\n## Ramps (highest rate with < 0.1 % failures and p99 under the limit)\n\n");
        s.push_str(
            "| scenario | system | last good rate/s | steps (offered → achieved, p99 µs) |\n",
        );
        s.push_str("| --- | --- | ---: | --- |\n");
        for r in &results.ramps {
            let steps: Vec<String> = r
                .report
                .steps
                .iter()
                .map(|st| {
                    format!(
                        "{:.0}→{:.0} ({})",
                        st.offered_rate,
                        st.achieved_rate,
                        st.flow_p99_us().unwrap_or(0)
                    )
                })
                .collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                r.scenario.name(),
                r.system,
                opt(r.report.last_good_rate, 0),
                steps.join(", ")
            );
        }
    }
    s
}

/// Today's date as `YYYY-MM-DD` (UTC), from the system clock.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
