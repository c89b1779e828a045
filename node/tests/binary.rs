//! The `orbit-node` binary: configuration errors stop it before it binds, and SIGTERM stops
//! it gracefully with exit code 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use orbit_test_support::free_port;

#[test]
fn invalid_configuration_exits_64_naming_the_field() {
    let output = Command::new(env!("CARGO_BIN_EXE_orbit-node"))
        .env("ORBIT_PORT", "not-a-port")
        .env("ORBIT_LOG", "off")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid ORBIT_PORT"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_orbit-node"))
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_orbit-node"))
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
