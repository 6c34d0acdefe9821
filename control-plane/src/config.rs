//! Clearwater's configuration files, checked before they are stored:
//! `shared_config`, `local_config`, `user_settings` (`name=value` lines,
//! `#` comments, options from the manual's §8.21) and the JSON files
//! `s-cscf.json`, `bgcf.json`, `enum.json`. A refusal names the file, the
//! line and the key.

use serde_json::Value;

/// The files the config service holds.
pub const CONFIG_FILES: &[&str] = &[
    "shared_config",
    "local_config",
    "user_settings",
    "s-cscf.json",
    "bgcf.json",
    "enum.json",
];

/// Largest configuration file accepted.
pub const CONFIG_BYTES_MAX: usize = 1024 * 1024;

/// Options of §8.21 (local_config, shared_config, user_settings), plus the
/// few the manual names elsewhere (`hss_port`, site names, namespaces).
const KNOWN_KEYS: &[&str] = &[
    // local_config
    "local_ip",
    "public_ip",
    "public_hostname",
    "node_idx",
    "etcd_cluster",
    "etcd_cluster_key",
    "scscf_node_uri",
    "local_site_name",
    "remote_site_name",
    "site_name",
    "signaling_namespace",
    "signaling_dns_server",
    "management_local_ip",
    // shared_config, core
    "home_domain",
    "sprout_hostname",
    "bono_hostname",
    "hs_hostname",
    "hs_provisioning_hostname",
    "ralf_hostname",
    "cdf_identity",
    "xdms_hostname",
    "hss_realm",
    "hss_hostname",
    "hss_port",
    "signup_key",
    "turn_workaround",
    "smtp_smarthost",
    "smtp_username",
    "smtp_password",
    "email_recovery_sender",
    "ellis_api_key",
    "ellis_cookie_key",
    "ellis_hostname",
    "memento_hostname",
    "additional_home_domains",
    "pcscf",
    // shared_config, advanced
    "homestead_provisioning_port",
    "sas_server",
    "reg_max_expires",
    "sub_max_expires",
    "upstream_hostname",
    "upstream_port",
    "sprout_rr_level",
    "force_hss_peer",
    "hss_mar_lowercase_unknown",
    "hss_mar_force_digest",
    "hss_mar_force_aka",
    "force_third_party_reg_body",
    "enforce_user_phone",
    "enforce_global_only_lookups",
    "hs_listen_port",
    "ralf_listen_port",
    "alias_list",
    "default_session_expires",
    "max_session_expires",
    "enum_server",
    "enum_suffix",
    "enum_file",
    "external_icscf_uri",
    "billing_realm",
    "diameter_timeout_ms",
    "max_peers",
    "num_http_threads",
    "num_http_worker_threads",
    "ralf_diameteridentity",
    "hs_diameteridentity",
    "max_call_list_length",
    "call_list_store_ttl",
    "memento_disk_limit",
    "memento_threads",
    "memento_notify_url",
    "target_latency_us",
    "max_tokens",
    "init_token_rate",
    "min_token_rate",
    "override_npdi",
    "exception_max_ttl",
    "check_destination_host",
    "astaire_cpu_limit_percentage",
    "sip_blacklist_duration",
    "http_blacklist_duration",
    "diameter_blacklist_duration",
    "snmp_ip",
    "impu_cache_ttl",
    "sip_tcp_connect_timeout",
    "sip_tcp_send_timeout",
    "session_continued_timeout_ms",
    "session_terminated_timeout_ms",
    "sas_use_signaling_interface",
    "pbxes",
    "pbx_service_route",
    "non_register_authentication",
    "ralf_threads",
    "impi_store_mode",
    "nonce_count_supported",
    // shared_config, experimental
    "cassandra_hostname",
    "ralf_secure_listen_port",
    "hs_secure_listen_port",
    "stateless_proxies",
    "hss_reregistration_time",
    // user_settings
    "log_level",
    "log_directory",
    "max_log_directory_size",
    "num_worker_threads",
    "upstream_connections",
    "upstream_recycle_connections",
    "authentication",
    "trusted_peers",
    // Riptide's own (the engine's; docs/operations.md lists them)
    "sip_port",
    "management_port",
    "reg_min_expires",
    "server_transactions_max",
    "sip_message_max_bytes",
    "sip_headers_max",
    "sip_header_line_max_bytes",
    "sip_tcp_max_connections",
    "sip_tcp_max_connections_per_ip",
    "sip_tcp_idle_timeout",
    "shards",
    "shard_queue_depth",
    "udp_driver",
    "max_token_rate",
    "throttle_exempt",
];

/// Sproutlets: each has `<name>`, `<name>_prefix` and `<name>_uri` (§8.21.3).
const SPROUTLETS: &[&str] = &[
    "scscf",
    "icscf",
    "bgcf",
    "gemini",
    "memento",
    "cdiv",
    "mmtel",
    "mangelwurzel",
    "mangelwurzeln",
];

/// Whether `key` is a known option.
pub fn is_known_key(key: &str) -> bool {
    if KNOWN_KEYS.contains(&key) {
        return true;
    }
    let base = key
        .strip_suffix("_prefix")
        .or_else(|| key.strip_suffix("_uri"))
        .unwrap_or(key);
    SPROUTLETS.contains(&base)
}

/// Why a configuration file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{0} is not a configuration file (expected one of shared_config, local_config, user_settings, s-cscf.json, bgcf.json, enum.json)"
    )]
    UnknownFile(String),
    #[error("{file} line {line}: malformed line {text:?} (expected name=value)")]
    Malformed {
        file: String,
        line: usize,
        text: String,
    },
    #[error("{file} line {line}: unknown key {key}")]
    UnknownKey {
        file: String,
        line: usize,
        key: String,
    },
    #[error("{file} line {line}: invalid JSON: {reason}")]
    Json {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("{file}: {path}: {reason}")]
    Shape {
        file: String,
        path: String,
        reason: String,
    },
    #[error("{file}: larger than {CONFIG_BYTES_MAX} bytes")]
    TooLarge { file: String },
}

/// Checks `text` as the file `name`.
pub fn validate(name: &str, text: &str) -> Result<(), ConfigError> {
    if !CONFIG_FILES.contains(&name) {
        return Err(ConfigError::UnknownFile(name.to_owned()));
    }
    if text.len() > CONFIG_BYTES_MAX {
        return Err(ConfigError::TooLarge {
            file: name.to_owned(),
        });
    }
    if name.ends_with(".json") {
        validate_json(name, text)
    } else {
        validate_settings(name, text)
    }
}

fn validate_settings(file: &str, text: &str) -> Result<(), ConfigError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let malformed = || ConfigError::Malformed {
            file: file.to_owned(),
            line: i + 1,
            text: line.to_owned(),
        };
        let (key, _) = line.split_once('=').ok_or_else(malformed)?;
        let key = key.trim();
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(malformed());
        }
        if !is_known_key(key) {
            return Err(ConfigError::UnknownKey {
                file: file.to_owned(),
                line: i + 1,
                key: key.to_owned(),
            });
        }
    }
    Ok(())
}

struct Shape<'a> {
    file: &'a str,
}

impl Shape<'_> {
    fn err(&self, path: &str, reason: &str) -> ConfigError {
        ConfigError::Shape {
            file: self.file.to_owned(),
            path: path.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn array<'v>(&self, v: &'v Value, key: &str) -> Result<&'v Vec<Value>, ConfigError> {
        v.get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| self.err(key, "must be an array"))
    }

    fn string(&self, v: &Value, key: &str, path: &str, required: bool) -> Result<(), ConfigError> {
        match v.get(key) {
            None if !required => Ok(()),
            Some(Value::String(_)) => Ok(()),
            _ => Err(self.err(&format!("{path}.{key}"), "must be a string")),
        }
    }
}

fn validate_json(file: &str, text: &str) -> Result<(), ConfigError> {
    let v: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json {
        file: file.to_owned(),
        line: e.line(),
        reason: e.to_string(),
    })?;
    let s = Shape { file };
    match file {
        "s-cscf.json" => {
            for (i, e) in s.array(&v, "s-cscfs")?.iter().enumerate() {
                let path = format!("s-cscfs[{i}]");
                s.string(e, "server", &path, true)?;
                let caps = e
                    .get("capabilities")
                    .and_then(Value::as_array)
                    .ok_or_else(|| s.err(&format!("{path}.capabilities"), "must be an array"))?;
                if !caps.iter().all(|c| c.as_u64().is_some()) {
                    return Err(s.err(
                        &format!("{path}.capabilities"),
                        "must hold non-negative integers",
                    ));
                }
            }
        }
        "bgcf.json" => {
            for (i, r) in s.array(&v, "routes")?.iter().enumerate() {
                let path = format!("routes[{i}]");
                s.string(r, "name", &path, false)?;
                s.string(r, "domain", &path, false)?;
                s.string(r, "number", &path, false)?;
                if r.get("domain").is_some() == r.get("number").is_some() {
                    return Err(s.err(&path, "needs exactly one of domain and number"));
                }
                let hops = r
                    .get("route")
                    .and_then(Value::as_array)
                    .ok_or_else(|| s.err(&format!("{path}.route"), "must be an array"))?;
                if !hops.iter().all(Value::is_string) {
                    return Err(s.err(&format!("{path}.route"), "must hold SIP URIs as strings"));
                }
            }
        }
        _ => {
            for (i, b) in s.array(&v, "number_blocks")?.iter().enumerate() {
                let path = format!("number_blocks[{i}]");
                s.string(b, "name", &path, false)?;
                s.string(b, "prefix", &path, true)?;
                s.string(b, "regex", &path, true)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_clearwater_settings_files() {
        let shared = "# Deployment definitions\nhome_domain=example.com\nsprout_hostname=sprout.example.com\nhs_hostname=hs.example.com:8888\nscscf_uri=\"sip:scscf.sprout.example.com;transport=tcp\"\nmmtel_prefix=mmtel\nreg_max_expires=300\n\n";
        assert_eq!(validate("shared_config", shared), Ok(()));
        assert_eq!(validate("user_settings", "log_level=5\n"), Ok(()));
        assert_eq!(
            validate(
                "local_config",
                "local_ip=10.0.0.1\nsignaling_namespace=signaling\n"
            ),
            Ok(())
        );
    }

    #[test]
    fn names_file_line_and_key() {
        assert_eq!(
            validate(
                "shared_config",
                "home_domain=example.com\n\nhome_domian=typo.com\n"
            ),
            Err(ConfigError::UnknownKey {
                file: "shared_config".into(),
                line: 3,
                key: "home_domian".into()
            })
        );
        assert!(matches!(
            validate("user_settings", "log_level 5\n"),
            Err(ConfigError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            validate("local_config", "Local_IP=1.2.3.4\n"),
            Err(ConfigError::Malformed { .. })
        ));
        assert!(matches!(
            validate("passwd", "x"),
            Err(ConfigError::UnknownFile(_))
        ));
    }

    #[test]
    fn checks_json_shapes() {
        assert_eq!(
            validate(
                "s-cscf.json",
                r#"{"s-cscfs": [{"server": "sip:scscf.example.com;transport=TCP", "priority": 0, "weight": 100, "capabilities": [1, 2]}]}"#
            ),
            Ok(())
        );
        assert_eq!(
            validate(
                "bgcf.json",
                r#"{"routes": [{"name": "d", "domain": "other.net", "route": ["sip:ibcf.example.com:5058;transport=TCP"]}, {"name": "n", "number": "+1650", "route": ["sip:pstn.example.com"]}]}"#
            ),
            Ok(())
        );
        assert_eq!(
            validate(
                "enum.json",
                r#"{"number_blocks": [{"name": "local", "prefix": "650555", "regex": "^(.*)$!sip:\\1@example.com!"}]}"#
            ),
            Ok(())
        );
        assert!(matches!(
            validate("bgcf.json", "{\n\"routes\": [\n"),
            Err(ConfigError::Json { line: 3, .. })
        ));
        assert_eq!(
            validate(
                "bgcf.json",
                r#"{"routes": [{"domain": "a", "number": "1", "route": []}]}"#
            ),
            Err(ConfigError::Shape {
                file: "bgcf.json".into(),
                path: "routes[0]".into(),
                reason: "needs exactly one of domain and number".into()
            })
        );
        assert!(matches!(
            validate(
                "s-cscf.json",
                r#"{"s-cscfs": [{"server": "x", "capabilities": ["a"]}]}"#
            ),
            Err(ConfigError::Shape { .. })
        ));
        assert!(matches!(
            validate("enum.json", r#"{"number_blocks": [{"prefix": "1"}]}"#),
            Err(ConfigError::Shape { .. })
        ));
    }
}
