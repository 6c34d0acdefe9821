//! Clearwater's configuration files as the engine reads them at start:
//! `shared_config`, `local_config` and `user_settings` (`name=value` lines,
//! `#` comments, values optionally in shell quotes) from one directory
//! (`/etc/clearwater` unless `--config-dir` says otherwise). A missing file is
//! no error: with none, the engine runs on its defaults (SIP on
//! 127.0.0.1:5060, management on 127.0.0.1:9886).
//!
//! Files are read in that order and a later line wins over an earlier one;
//! flags given on the command line win over every file. Each file is first
//! checked by the same rules the control plane's config service applies
//! (unknown keys and malformed lines are refused with file, line and key);
//! then each value the engine uses is parsed, and a bad one is refused with
//! file, line and key too. Known options the engine does not use (Homestead's,
//! Ellis's, ...) are accepted and listed at `info`.

use super::config::EngineConfig;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// The files read, in the order read.
pub const FILES: &[&str] = &["shared_config", "local_config", "user_settings"];

/// Why the configuration could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Refused(#[from] control_plane::config::ConfigError),
    #[error("{file} line {line}: {key}={value:?}: {reason}")]
    Value {
        file: &'static str,
        line: usize,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Inconsistent(String),
}

/// One `name=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub file: &'static str,
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// Every setting of the files in `dir`, in reading order.
pub fn load(dir: &Path) -> Result<Vec<Setting>, ConfigFileError> {
    let mut settings = Vec::new();
    for &file in FILES {
        let path = dir.join(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(ConfigFileError::Read { path, source }),
        };
        settings.extend(parse(file, &text)?);
    }
    Ok(settings)
}

/// The settings of one file's text (checked as the config service checks it).
pub fn parse(file: &'static str, text: &str) -> Result<Vec<Setting>, ConfigFileError> {
    control_plane::config::validate(file, text)?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // validate() refused every non-comment line without '='.
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        out.push(Setting {
            file,
            line: i + 1,
            key: key.trim().to_owned(),
            value: unquote(value.trim()).to_owned(),
        });
    }
    Ok(out)
}

/// `"x"` or `'x'` → `x`, as the shell that sourced Clearwater's files did.
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// Apply `settings` to `cfg`, in order. Returns the keys the engine does not
/// use (known to Clearwater, meaningful to other components).
pub fn apply(settings: &[Setting], cfg: &mut EngineConfig) -> Result<Vec<String>, ConfigFileError> {
    let mut unused = Vec::new();
    let mut additional_domains: Option<Vec<String>> = None;
    let mut home_domain: Option<String> = None;
    for s in settings {
        let bad = |reason: String| ConfigFileError::Value {
            file: s.file,
            line: s.line,
            key: s.key.clone(),
            value: s.value.clone(),
            reason,
        };
        let v = s.value.as_str();
        match s.key.as_str() {
            "local_ip" => cfg.local_ip = ip(v).map_err(bad)?,
            "management_local_ip" => cfg.management.set_ip(ip(v).map_err(bad)?),
            "sip_port" => cfg.sip_port = number(v).map_err(bad)?,
            "management_port" => cfg.management.set_port(number(v).map_err(bad)?),
            "shards" => cfg.shards = number::<usize>(v).map_err(bad)?.max(1),
            "shard_queue_depth" => cfg.shard_queue_depth = number(v).map_err(bad)?,
            "udp_driver" => cfg.udp_driver = v.parse().map_err(bad)?,
            "signaling_namespace" => {
                cfg.signaling_namespace = (!v.is_empty()).then(|| v.to_owned())
            }
            "home_domain" => home_domain = Some(v.to_owned()),
            "additional_home_domains" => additional_domains = Some(list(v)),
            "alias_list" => cfg.aliases = list(v),
            "hs_hostname" => cfg.hss = Some(host_port(v, 8888).map_err(bad)?),
            "reg_max_expires" => cfg.reg_max_expires = number(v).map_err(bad)?,
            "reg_min_expires" => cfg.reg_min_expires = number(v).map_err(bad)?,
            "nonce_count_supported" => cfg.nonce_count_supported = yes_no(v).map_err(bad)?,
            "authentication" => cfg.accept_all_registers = yes_no(v).map_err(bad)?,
            "hss_reregistration_time" => {
                cfg.subscriber_cache.reg_data_ttl_ms =
                    number::<u64>(v).map_err(bad)?.saturating_mul(1000)
            }
            "bgcf_uri" => {
                if sip_fastpath::Uri::parse_strict(v.as_bytes()).is_err() {
                    return Err(bad("not a SIP URI".to_owned()));
                }
                cfg.bgcf_uri = Some(v.to_owned());
            }
            "log_level" => {
                let level: u8 = number(v).map_err(bad)?;
                if !(1..=5).contains(&level) {
                    return Err(bad("expected 1 to 5".to_owned()));
                }
                cfg.log_level = level;
            }
            "target_latency_us" => cfg.throttle.target_latency_us = number(v).map_err(bad)?,
            "max_tokens" => cfg.throttle.max_tokens = rate(v).map_err(bad)?,
            "init_token_rate" => cfg.throttle.init_token_rate = rate(v).map_err(bad)?,
            "min_token_rate" => cfg.throttle.min_token_rate = rate(v).map_err(bad)?,
            // 0: no cap (the default).
            "max_token_rate" if v == "0" => cfg.throttle.max_token_rate = 0.0,
            "max_token_rate" => cfg.throttle.max_token_rate = rate(v).map_err(bad)?,
            "throttle_exempt" => cfg.exemptions = parse_exemptions(v).map_err(bad)?,
            "sip_message_max_bytes" => cfg.limits.message_bytes_max = positive(v).map_err(bad)?,
            "sip_headers_max" => cfg.limits.headers_max = positive(v).map_err(bad)?,
            "sip_header_line_max_bytes" => {
                cfg.limits.header_line_bytes_max = positive(v).map_err(bad)?
            }
            "server_transactions_max" => cfg.server_transactions_max = positive(v).map_err(bad)?,
            "sip_tcp_max_connections" => cfg.tcp.max_connections = positive(v).map_err(bad)?,
            "sip_tcp_max_connections_per_ip" => cfg.tcp.max_per_ip = positive(v).map_err(bad)?,
            "sip_tcp_idle_timeout" => cfg.tcp.idle_timeout_ms = number(v).map_err(bad)?,
            "sip_tcp_connect_timeout" => cfg.tcp.connect_timeout_ms = number(v).map_err(bad)?,
            "sip_tcp_send_timeout" => cfg.tcp.send_timeout_ms = number(v).map_err(bad)?,
            other => unused.push(other.to_owned()),
        }
    }
    if home_domain.is_some() || additional_domains.is_some() {
        let mut domains = vec![home_domain.unwrap_or_else(|| cfg.home_domains[0].clone())];
        domains.extend(additional_domains.unwrap_or_default());
        cfg.home_domains = domains;
    }
    if cfg.reg_min_expires > cfg.reg_max_expires {
        return Err(ConfigFileError::Inconsistent(format!(
            "reg_min_expires {} is above reg_max_expires {}",
            cfg.reg_min_expires, cfg.reg_max_expires
        )));
    }
    let t = &cfg.throttle;
    if t.max_token_rate > 0.0 && t.min_token_rate > t.max_token_rate {
        return Err(ConfigFileError::Inconsistent(format!(
            "min_token_rate {} is above max_token_rate {}",
            t.min_token_rate, t.max_token_rate
        )));
    }
    Ok(unused)
}

fn ip(v: &str) -> Result<IpAddr, String> {
    v.parse().map_err(|e| format!("not an IP address ({e})"))
}

fn number<T: std::str::FromStr>(v: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    v.parse()
        .map_err(|e| format!("not a number in range ({e})"))
}

/// A count or size of at least 1.
fn positive(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number of at least 1".to_owned()),
    }
}

fn rate(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err("expected a positive number".to_owned()),
    }
}

fn yes_no(v: &str) -> Result<bool, String> {
    match v {
        "Y" | "y" | "true" => Ok(true),
        "N" | "n" | "false" => Ok(false),
        _ => Err("expected Y or N".to_owned()),
    }
}

/// A comma-separated list, blanks dropped.
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `host[:port]`, resolved once at start (Clearwater's `hs_hostname`).
fn host_port(v: &str, default_port: u16) -> Result<SocketAddr, String> {
    let has_port = v
        .rsplit_once(':')
        .is_some_and(|(host, _)| !host.contains(':') || host.ends_with(']'));
    let with_port = if has_port {
        v.to_owned()
    } else {
        format!("{v}:{default_port}")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve ({e})"))?
        .next()
        .ok_or_else(|| "resolves to no address".to_owned())
}

/// `throttle_exempt`: the requests that bypass the throttle, comma-separated
/// from `ack,cancel,options,register,subscribe,in_dialog,odi,emergency`
/// (Sprout's set, the default); `none` throttles them all.
pub fn parse_exemptions(v: &str) -> Result<shards::Exemptions, String> {
    let mut e = shards::Exemptions {
        ack: false,
        cancel: false,
        options: false,
        register: false,
        subscribe: false,
        in_dialog: false,
        odi: false,
        emergency: false,
    };
    if v.trim() == "none" {
        return Ok(e);
    }
    for name in list(v) {
        let flag = match name.as_str() {
            "ack" => &mut e.ack,
            "cancel" => &mut e.cancel,
            "options" => &mut e.options,
            "register" => &mut e.register,
            "subscribe" => &mut e.subscribe,
            "in_dialog" => &mut e.in_dialog,
            "odi" => &mut e.odi,
            "emergency" => &mut e.emergency,
            other => {
                return Err(format!(
                    "unknown exemption {other:?} (ack, cancel, options, register, subscribe, in_dialog, odi, emergency or none)"
                ));
            }
        };
        *flag = true;
    }
    Ok(e)
}

#[cfg(test)]
mod tests;
