//! The `orbit-node` binary: configuration errors stop it before it binds, and SIGTERM stops
//! it gracefully with exit code 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use orbit_test_support::free_port;

/// The binary with none of the test machine's `ORBIT_*` or `OTEL_*` variables (they would
/// change its configuration).
fn orbit_node_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orbit-node"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("ORBIT_") || name.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command
}

#[test]
fn invalid_configuration_exits_64_naming_the_field() {
    let output = orbit_node_command().env("ORBIT_PORT", "not-a-port").env("ORBIT_LOG", "off").output().expect("runs");
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid ORBIT_PORT"), "{stderr}");

    let output = orbit_node_command()
        .env("ORBIT_SETTINGS_RAW", r#"{"serverInfo": {"port": 1, "colour": "red"}}"#)
        .env("ORBIT_LOG", "off")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown settings field serverInfo.colour"));
}

#[test]
fn sigterm_stops_the_node_gracefully() {
    let port = free_port();
    let mut child = orbit_node_command()
        .args(["--port", &port.to_string(), "--listen", "127.0.0.1", "--metrics-port", "off"])
        .env("ORBIT_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the node never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("waitable") {
            break exit;
        }
        assert!(Instant::now() < deadline, "the node did not stop within its grace period");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("piped"), &mut stderr).expect("readable");
    let draining = stderr.find("stopping: draining").expect("logs the drain");
    let stopped = stderr.find("stopped").expect("logs the stop");
    assert!(draining < stopped, "{stderr}");
}

fn orbit_node(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let output = orbit_node_command()
        .args(args)
        .env_remove("ORBIT_SETTINGS")
        .env_remove("ORBIT_SETTINGS_RAW")
        .envs(env.iter().copied())
        .env("ORBIT_LOG", "off")
        .output()
        .expect("runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_version_and_bad_flags() {
    let (code, help, _) = orbit_node(&["--help"], &[]);
    assert_eq!(code, Some(0));
    for needle in
        ["--port <PORT>", "[env: ORBIT_PORT]", "[env: ORBIT_METRICS_PORT]", "check-config", "ORBIT_SETTINGS_RAW"]
    {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let (code, version, _) = orbit_node(&["--version"], &[]);
    assert_eq!(code, Some(0));
    assert!(version.starts_with("orbit-node 0.1.0 (commit "), "{version}");
    let (code, _, error) = orbit_node(&["--prot", "5"], &[]);
    assert_eq!(code, Some(64));
    assert!(error.contains("unexpected argument '--prot'") && error.contains("'--port'"), "{error}");
    let (code, _, error) = orbit_node(&["--port", "70000"], &[]);
    assert_eq!(code, Some(64));
    assert!(error.contains("invalid --port"), "{error}");
}

#[test]
fn check_config_prints_the_effective_configuration_or_the_problem() {
    let port = free_port().to_string();
    let settings = format!(r#"{{"serverInfo": {{"port": {port}, "url": "${{ORBIT_URL:-rust-1:{port}}}"}}}}"#);
    let (code, out, _) =
        orbit_node(&["check-config", "--metrics-port", "off"], &[("ORBIT_SETTINGS_RAW", settings.as_str())]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("0.0.0.0:{port} is free")), "{out}");
    assert!(out.contains(&format!("advertised url           rust-1:{port}")), "{out}");
    assert!(out.contains("the node would start"), "{out}");

    let (code, out, _) = orbit_node(&["check-config"], &[("ORBIT_SETTINGS_RAW", r#"{"serverInfo": {"port": "x"}}"#)]);
    assert_eq!(code, Some(64));
    assert!(out.contains("configuration error: invalid serverInfo.port"), "{out}");

    // A taken port is an error; an etcd that does not answer is a warning (the node waits).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let taken_port = taken.local_addr().expect("bound").port().to_string();
    let (code, out, _) =
        orbit_node(&["check-config", "--listen", "127.0.0.1", "--port", &taken_port, "--metrics-port", "off"], &[]);
    assert_eq!(code, Some(64), "{out}");
    assert!(out.contains("ERROR   gRPC port") && out.contains("the node would not start"), "{out}");
    let (code, out, _) = orbit_node(
        &["check-config", "--metrics-port", "off", "--port", &port, "--etcd-node-url", "http://127.0.0.1:1"],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("warning node directory") && out.contains("does not answer"), "{out}");
}
