//! CPU time of a process (and its descendants) from `/proc/PID/stat`:
//! fields 14 and 15, utime and stime, in clock ticks. A process's own
//! fields cover all its threads; Kamailio's workers are child processes,
//! so a server's CPU is the sum over its process tree.

use std::collections::HashMap;
use std::fs;
use std::time::Duration;

/// utime + stime of one process (all its threads), in ticks.
pub fn process_ticks(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text).map(|s| s.utime + s.stime)
}

/// The fields we read from one `/proc/PID/stat` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFields {
    pub ppid: u32,
    pub utime: u64,
    pub stime: u64,
}

/// Parse a stat line; the command name may hold spaces and parentheses,
/// so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<StatFields> {
    let after = &text[text.rfind(')')? + 1..];
    // After the name: state(3) ppid(4) ... utime(14) stime(15).
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(StatFields {
        ppid: fields.get(1)?.parse().ok()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
    })
}

/// utime + stime summed over `pid` and every live descendant, in ticks.
pub fn tree_ticks(pid: u32) -> Option<u64> {
    let mut stats: HashMap<u32, StatFields> = HashMap::new();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(s) = fs::read_to_string(format!("/proc/{p}/stat"))
            .ok()
            .and_then(|t| parse_stat(&t))
        {
            stats.insert(p, s);
        }
    }
    stats.get(&pid)?;
    let mut total = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Some(s) = stats.get(&p) {
            total += s.utime + s.stime;
        }
        stack.extend(stats.iter().filter(|(_, s)| s.ppid == p).map(|(c, _)| *c));
    }
    Some(total)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Ticks as time.
pub fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / ticks_per_second() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_stime_and_ppid_past_a_tricky_name() {
        let line = "1234 (kam (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 1000 1000000 100 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(StatFields {
                ppid: 1,
                utime: 250,
                stime: 75
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn our_own_process_has_a_tree() {
        let me = std::process::id();
        let own = process_ticks(me);
        let tree = tree_ticks(me);
        assert!(own.is_some());
        assert!(tree >= own);
    }
}
