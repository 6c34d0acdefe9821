//! `--ramp`: raise the offered rate in steps until a step fails (failures ≥
//! 0.1 % of attempts, or p99 of the whole flow above the limit) and report
//! the last good rate.

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::generator::{Generator, GeneratorError, Load};
use crate::stats::Summary;

/// Failures at or above this fraction of attempts fail a step.
pub const FAILURE_RATIO_MAX: f64 = 0.001;

/// `START:STEP:MAX` in flows per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RampSpec {
    pub start: f64,
    pub step: f64,
    pub max: f64,
}

impl FromStr for RampSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<f64> = s
            .split(':')
            .map(|p| {
                p.parse::<f64>()
                    .map_err(|_| format!("bad number {p:?} in ramp {s:?}"))
            })
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [start, step, max] if start > 0.0 && step > 0.0 && max >= start => {
                Ok(RampSpec { start, step, max })
            }
            _ => Err(format!(
                "ramp {s:?}: expected START:STEP:MAX with START, STEP > 0 and MAX >= START"
            )),
        }
    }
}

/// What a ramp found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RampReport {
    pub steps: Vec<Summary>,
    /// The highest offered rate whose step was good.
    pub last_good_rate: Option<f64>,
    pub p99_max_ms: f64,
}

impl RampReport {
    pub fn to_text(&self) -> String {
        let mut s = String::from("offered/s  achieved/s  failures  p50(µs)  p99(µs)  good\n");
        for st in &self.steps {
            let (p50, p99) = st
                .latency
                .get(crate::stats::FLOW)
                .map_or((0, 0), |l| (l.p50_us, l.p99_us));
            s.push_str(&format!(
                "{:>9.0}  {:>10.0}  {:>8}  {:>7}  {:>7}  {}\n",
                st.offered_rate,
                st.achieved_rate,
                st.failures_total,
                p50,
                p99,
                if is_good(st, self.p99_max_ms) {
                    "yes"
                } else {
                    "no"
                }
            ));
        }
        match self.last_good_rate {
            Some(r) => s.push_str(&format!("last good rate: {r:.0}/s\n")),
            None => s.push_str("no good rate\n"),
        }
        s
    }
}

/// A step is good with some successes, failures under 0.1 % and p99 under the limit.
pub fn is_good(s: &Summary, p99_max_ms: f64) -> bool {
    let p99_ok = s
        .flow_p99_us()
        .is_some_and(|p| (p as f64) <= p99_max_ms * 1000.0);
    s.successes > 0 && s.failure_ratio() < FAILURE_RATIO_MAX && p99_ok
}

/// Run the ramp; `progress` sees each step's summary as it ends.
pub fn run(
    generator: &mut Generator,
    spec: RampSpec,
    step_duration: Duration,
    p99_max_ms: f64,
    mut progress: impl FnMut(&Summary),
) -> Result<RampReport, GeneratorError> {
    let mut report = RampReport {
        steps: Vec::new(),
        last_good_rate: None,
        p99_max_ms,
    };
    let mut rate = spec.start;
    while rate <= spec.max {
        let s = generator.run(Load {
            rate,
            count: None,
            duration: Some(step_duration),
        })?;
        progress(&s);
        let good = is_good(&s, p99_max_ms);
        report.steps.push(s);
        if !good {
            break;
        }
        report.last_good_rate = Some(rate);
        rate += spec.step;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_start_step_max() {
        assert_eq!(
            "1000:500:5000".parse::<RampSpec>(),
            Ok(RampSpec {
                start: 1000.0,
                step: 500.0,
                max: 5000.0
            })
        );
        assert!("1000:0:5000".parse::<RampSpec>().is_err());
        assert!("5000:1:1000".parse::<RampSpec>().is_err());
        assert!("1:2".parse::<RampSpec>().is_err());
        assert!("a:b:c".parse::<RampSpec>().is_err());
    }
}
