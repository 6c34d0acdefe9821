#![allow(clippy::unwrap_used)]

use super::*;

fn applied(file: &'static str, text: &str) -> Result<EngineConfig, ConfigFileError> {
    let mut cfg = EngineConfig::default();
    apply(&parse(file, text)?, &mut cfg)?;
    Ok(cfg)
}

#[test]
fn no_files_leave_the_defaults() {
    let dir = std::env::temp_dir().join(format!("riptide-cfg-none-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = load(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(settings.is_empty());
    let cfg = EngineConfig::default();
    assert_eq!(cfg.sent_by(), "127.0.0.1:5060");
    assert_eq!(cfg.management.to_string(), "127.0.0.1:9886");
}

#[test]
fn clearwater_names_set_the_engine() {
    let cfg = applied(
        "shared_config",
        "# site\nhome_domain=ims.example.net\nadditional_home_domains=a.net, b.net\n\
         alias_list=\"sprout.ims.example.net,10.0.0.9\"\nhs_hostname=127.0.0.1:8888\n\
         reg_max_expires=600\nnonce_count_supported=Y\nhss_reregistration_time=1800\n\
         bgcf_uri=sip:bgcf.ims.example.net:5053;transport=tcp\ntarget_latency_us=5000\n\
         max_tokens=500\ninit_token_rate=100\nmin_token_rate=20\n\
         sip_tcp_connect_timeout=1500\nsip_tcp_send_timeout=2500\n",
    )
    .unwrap();
    assert_eq!(cfg.home_domains, ["ims.example.net", "a.net", "b.net"]);
    assert_eq!(cfg.aliases, ["sprout.ims.example.net", "10.0.0.9"]);
    assert_eq!(cfg.hss, Some("127.0.0.1:8888".parse().unwrap()));
    assert_eq!(cfg.reg_max_expires, 600);
    assert!(cfg.nonce_count_supported);
    assert_eq!(cfg.subscriber_cache.reg_data_ttl_ms, 1_800_000);
    assert_eq!(
        cfg.bgcf_uri.as_deref(),
        Some("sip:bgcf.ims.example.net:5053;transport=tcp")
    );
    assert_eq!(cfg.throttle.target_latency_us, 5000);
    assert_eq!(cfg.throttle.max_tokens, 500.0);
    assert_eq!(cfg.throttle.init_token_rate, 100.0);
    assert_eq!(cfg.throttle.min_token_rate, 20.0);
    assert_eq!(cfg.tcp.connect_timeout_ms, 1500);
    assert_eq!(cfg.tcp.send_timeout_ms, 2500);
}

#[test]
fn local_config_and_riptide_keys_set_addresses_ports_and_runtime() {
    let cfg = applied(
        "local_config",
        "local_ip=10.1.2.3\nmanagement_local_ip=192.168.5.5\nsip_port=5070\n\
         management_port=9999\nshards=3\nudp_driver=uring\nsignaling_namespace=signaling\n",
    )
    .unwrap();
    assert_eq!(cfg.sent_by(), "10.1.2.3:5070");
    assert_eq!(cfg.management.to_string(), "192.168.5.5:9999");
    assert_eq!(cfg.shards, 3);
    assert_eq!(cfg.udp_driver, shards::UdpDriver::Uring);
    assert_eq!(cfg.signaling_namespace.as_deref(), Some("signaling"));
}

#[test]
fn limits_are_set_by_riptide_keys() {
    let cfg = applied(
        "shared_config",
        "sip_message_max_bytes=4000\nsip_headers_max=64\nsip_header_line_max_bytes=2000\n\
         server_transactions_max=20000\nsip_tcp_max_connections=100\n\
         sip_tcp_max_connections_per_ip=10\nsip_tcp_idle_timeout=0\n",
    )
    .unwrap();
    assert_eq!(cfg.limits.message_bytes_max, 4000);
    assert_eq!(cfg.limits.headers_max, 64);
    assert_eq!(cfg.limits.header_line_bytes_max, 2000);
    assert_eq!(cfg.server_transactions_max, 20_000);
    assert_eq!(cfg.tcp.max_connections, 100);
    assert_eq!(cfg.tcp.max_per_ip, 10);
    assert_eq!(cfg.tcp.idle_timeout_ms, 0);
}

#[test]
fn user_settings_set_authentication_and_log_level() {
    let cfg = applied("user_settings", "authentication=Y\nlog_level=5\n").unwrap();
    assert!(cfg.accept_all_registers);
    assert_eq!(cfg.log_level, 5);
}

#[test]
fn throttle_exempt_names_the_exempt_set() {
    let cfg = applied("shared_config", "throttle_exempt=ack,cancel,in_dialog\n").unwrap();
    let e = cfg.exemptions;
    assert!(e.ack && e.cancel && e.in_dialog);
    assert!(!e.register && !e.options && !e.subscribe && !e.odi && !e.emergency);
    let none = applied("shared_config", "throttle_exempt=none\n").unwrap();
    assert!(!none.exemptions.ack && !none.exemptions.register);
}

#[test]
fn a_later_line_wins_and_unused_known_keys_are_listed() {
    let mut settings = parse("shared_config", "reg_max_expires=600\nsignup_key=secret\n").unwrap();
    settings.extend(parse("user_settings", "log_level=4\n").unwrap());
    settings.extend(parse("shared_config", "reg_max_expires=900\n").unwrap());
    let mut cfg = EngineConfig::default();
    let unused = apply(&settings, &mut cfg).unwrap();
    assert_eq!(cfg.reg_max_expires, 900);
    assert_eq!(unused, ["signup_key"]);
}

#[test]
fn bad_values_name_file_line_and_key() {
    let e = applied("local_config", "# me\nlocal_ip=10.0.0.300\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "local_config line 2: local_ip=\"10.0.0.300\": not an IP address (invalid IP address syntax)"
    );
    for (file, text) in [
        ("shared_config", "reg_max_expires=-1\n"),
        ("shared_config", "nonce_count_supported=maybe\n"),
        ("user_settings", "log_level=6\n"),
        ("shared_config", "max_tokens=0\n"),
        ("shared_config", "bgcf_uri=bgcf.example.net\n"),
        ("shared_config", "throttle_exempt=ack,invite\n"),
        ("local_config", "udp_driver=epoll\n"),
        ("local_config", "sip_port=70000\n"),
        ("shared_config", "sip_headers_max=0\n"),
        ("shared_config", "server_transactions_max=lots\n"),
    ] {
        let key = text.split('=').next().unwrap();
        match applied(file, text) {
            Err(ConfigFileError::Value {
                key: k, line: 1, ..
            }) => assert_eq!(k, key),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn unknown_keys_and_malformed_lines_are_refused_as_the_config_service_refuses_them() {
    let e = applied("shared_config", "home_domain=example.com\nhome_domian=x\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "shared_config line 2: unknown key home_domian"
    );
    let e = applied("user_settings", "log_level 5\n").unwrap_err();
    assert!(matches!(
        e,
        ConfigFileError::Refused(control_plane::config::ConfigError::Malformed { line: 1, .. })
    ));
}

#[test]
fn reg_min_expires_reaches_the_registrar_and_may_not_pass_the_maximum() {
    let cfg = applied("shared_config", "reg_min_expires=60\n").unwrap();
    assert_eq!(cfg.scscf_config().registrar.reg_min_expires_s, 60);
    let e = applied(
        "shared_config",
        "reg_max_expires=300\nreg_min_expires=600\n",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "reg_min_expires 600 is above reg_max_expires 300"
    );
}

#[test]
fn min_rate_above_max_rate_is_refused() {
    let e = applied("shared_config", "min_token_rate=500\nmax_token_rate=100\n").unwrap_err();
    assert!(e.to_string().contains("above max_token_rate"), "{e}");
}

#[test]
fn files_are_read_from_the_directory_in_order() {
    let dir = std::env::temp_dir().join(format!("riptide-cfg-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("shared_config"), "reg_max_expires=600\n").unwrap();
    std::fs::write(dir.join("user_settings"), "log_level=3\n").unwrap();
    let settings = load(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let files: Vec<_> = settings.iter().map(|s| s.file).collect();
    assert_eq!(files, ["shared_config", "user_settings"]);
}
