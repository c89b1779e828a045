//! Fuzzing of what an operator hands orbit-node: the settings JSON (`ORBIT_SETTINGS_RAW`, with
//! its `${VAR:-default}` interpolation), the environment variables and the command line, all
//! read by `Config::from_env` exactly as start-up reads them. Seeds are the settings files the
//! Kotlin image, its docker-compose file and the Helm chart use.
//!
//! What must hold for any input: no panic; either a configuration that `check-config` can
//! describe, or an error that names what is wrong.
//!
//! `FUZZ_CASES=1000000 cargo test --release -p orbit-node --test fuzz` for a long run.

use std::collections::HashMap;

use orbit_fuzz_support as fuzz;
use orbit_node::Config;
use orbit_node::config::check::describe;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

const SEEDS: [&str; 4] = [
    r#"{ "serverInfo": { "port": "${ORBIT_PORT:-50056}", "url": "${ORBIT_URL:-localhost:50056}" } }"#,
    r#"{
  "serverInfo": { "port": "${ORBIT_PORT:-50056}", "url": "${ORBIT_URL:-localhost:50056}" },
  "tickRate": 1, "pipelineRailCount": 32, "pipelineBufferCount": 10000, "acquireShutdownLatch": true,
  "nodeLeaseDuration": { "leaseDuration": 10 }, "addressableLeaseDuration": { "leaseDuration": 600 },
  "meterRegistry": ["orbit.server.prometheus.PrometheusMetrics$PrometheusMetricsConfig",
                    { "url": "/metrics", "port": "${METRICS_PORT:-8080}" }]
}"#,
    r#"{
  "nodeDirectory": ["orbit.server.etcd.EtcdNodeDirectory$EtcdNodeDirectoryConfig",
                    { "url": "${NODE_DIRECTORY:-http://localhost:2379}" }],
  "addressableDirectory": ["orbit.server.etcd.EtcdAddressableDirectory$EtcdAddressableDirectoryConfig",
                           { "url": "${ADDRESSABLE_DIRECTORY}" }],
  "messageRetryAttempts": 10
}"#,
    r#"{ "nodeLeaseDuration": { "leaseDuration": "PT10S", "expiresIn": "PT10S", "renewIn": "PT5S" }, "tickRate": "PT1S" }"#,
];

/// The variables start-up reads, and those the seeds interpolate.
const VARIABLES: [&str; 20] = [
    "ORBIT_PORT",
    "ORBIT_URL",
    "ORBIT_LISTEN_ADDRESS",
    "ORBIT_METRICS_PORT",
    "ORBIT_SHUTDOWN_GRACE_SECONDS",
    "ORBIT_SETTINGS",
    "ADDRESSABLE_DIRECTORY",
    "NODE_DIRECTORY",
    "METRICS_PORT",
    "ORBIT_SETTINGS_RAW",
    "ORBIT_LOG",
    "ORBIT_LOG_FORMAT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "ORBIT_TLS_PORT",
    "ORBIT_TLS_CERT",
    "ORBIT_TLS_KEY",
    "ORBIT_TLS_CLIENT_CA",
    "ORBIT_TLS_PEER_CA",
    "ORBIT_URL",
];

const FLAGS: [&str; 22] = [
    "--port",
    "--url",
    "--listen",
    "--node-lease-seconds",
    "--addressable-lease-seconds",
    "--tick-millis",
    "--etcd-node-url",
    "--etcd-addressable-url",
    "--metrics-port",
    "--shutdown-grace-seconds",
    "--message-retry-attempts",
    "--log-filter",
    "--log-format",
    "--otlp-endpoint",
    "--tls-port",
    "--tls-cert",
    "--tls-key",
    "--tls-client-ca",
    "--tls-peer-ca",
    "check-config",
    "--help",
    "--version",
];

/// A value an operator might type, or anything at all.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,6}",
        Just("off".to_owned()),
        "(http://)?[a-z.]{1,12}:[0-9]{1,5}",
        Just("json".to_owned()),
        "(info|debug|warn)(,[a-z_:]{1,12}=(debug|trace|off))?",
        "/tmp/[a-z]{1,8}\\.pem",
        "-?[0-9]{1,25}",
        any::<String>(),
    ]
}

fn environment() -> impl Strategy<Value = HashMap<String, String>> {
    proptest::collection::hash_map(proptest::sample::select(VARIABLES.to_vec()).prop_map(str::to_owned), value(), 0..3)
}

/// No arguments half the time, so that the settings and the environment are reached (a bad
/// command line is refused before they are read).
fn arguments() -> impl Strategy<Value = Vec<String>> {
    let some = proptest::collection::vec(
        prop_oneof![proptest::sample::select(FLAGS.to_vec()).prop_map(str::to_owned), value()],
        1..6,
    );
    prop_oneof![Just(Vec::new()), some]
}

#[test]
fn settings_environment_and_flags_load_or_fail_cleanly() {
    let seeds: Vec<Vec<u8>> = SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect();
    let strategy = (fuzz::inputs(seeds, 256), environment(), arguments());
    let mut runner = TestRunner::new(fuzz::config());
    let (loaded, refused) = (std::cell::Cell::new(0u64), std::cell::Cell::new(0u64));
    let outcome = runner.run(&strategy, |(settings, mut env, args)| {
        env.insert("ORBIT_SETTINGS_RAW".to_owned(), String::from_utf8_lossy(&settings).into_owned());
        match Config::from_env(&env, &args) {
            Ok(config) => {
                loaded.set(loaded.get() + 1);
                prop_assert!(!describe(&config).is_empty());
            }
            Err(error) => {
                refused.set(refused.get() + 1);
                prop_assert!(!error.to_string().is_empty(), "an error names what is wrong");
            }
        }
        Ok(())
    });
    println!(
        "configuration: {} inputs, {} loaded, {} refused with an error",
        fuzz::cases(),
        loaded.get(),
        refused.get()
    );
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    assert!(loaded.get() > 0 && refused.get() > 0, "both outcomes reached");
}

proptest! {
    #![proptest_config(fuzz::config())]

    /// Interpolation: a set variable replaces `${NAME:-default}`, an unset one gives the
    /// default, whatever the characters (the URL is taken as written, then validated).
    #[test]
    fn interpolation_takes_the_variable_or_the_default(host in "[a-z]{1,10}", port in 1u16.., set in any::<bool>()) {
        let raw = r#"{ "serverInfo": { "url": "${FUZZ_URL:-fallback:1}" } }"#;
        let mut env = HashMap::from([("ORBIT_SETTINGS_RAW".to_owned(), raw.to_owned())]);
        if set {
            env.insert("FUZZ_URL".to_owned(), format!("{host}:{port}"));
        }
        let config = Config::from_env(&env, &[]);
        prop_assert!(config.is_ok(), "{config:?}");
        let expected = if set { format!("{host}:{port}") } else { "fallback:1".to_owned() };
        prop_assert_eq!(config.map(|c| c.advertise_url).unwrap_or_default(), expected);
    }
}
