//! The invocation codec against every payload the real Kotlin orbit-client serializer wrote
//! (`compat-proto/testdata/payloads`): each decodes and encodes back to identical text.
//! Then a deterministic mutation fuzz over the same payloads: every mutated input decodes
//! or is rejected with an error, never a panic.

use std::fs;
use std::path::Path;

use orbit_client::codec::{decode_arguments, decode_result, encode_arguments, encode_result};
use serde_json::Value;

fn payloads() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compat-proto/testdata/payloads");
    let mut files: Vec<_> = fs::read_dir(&dir).expect("payload dir").map(|e| e.expect("entry").path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let vector: Value = serde_json::from_slice(&fs::read(&p).expect("readable")).expect("JSON");
            (p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned(), vector)
        })
        .collect()
}

#[test]
fn every_kotlin_payload_round_trips_byte_for_byte() {
    let mut checked = 0;
    for (name, vector) in payloads() {
        let text = vector["json"].as_str().expect("json text");
        match vector["kind"].as_str() {
            Some("arguments") => {
                let arguments = decode_arguments(text).unwrap_or_else(|e| panic!("{name}: {e}"));
                let declared: Vec<&str> = arguments.iter().map(|a| a.declared_class.as_str()).collect();
                let expected: Vec<&str> = vector["parameterTypes"]
                    .as_array()
                    .expect("parameterTypes")
                    .iter()
                    .map(|t| t.as_str().expect("string"))
                    .collect();
                assert_eq!(declared, expected, "{name}");
                assert_eq!(encode_arguments(&arguments), text, "{name}");
            }
            Some("result" | "platform") => {
                let value = decode_result(text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(encode_result(&value), text, "{name}");
            }
            other => panic!("{name}: unknown kind {other:?}"),
        }
        checked += 1;
    }
    println!("golden invocation payloads decoded and re-encoded identically: {checked}");
    assert!(checked >= 15, "at least 15 payloads are expected, found {checked}");
}

#[test]
fn mutated_payloads_never_panic() {
    let seeds: Vec<String> =
        payloads().into_iter().map(|(_, v)| v["json"].as_str().expect("json").to_owned()).collect();
    let alphabet: &[u8] = br#"[]{}",:\0123456789-.eEtruefalsn "#;
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut tried, mut accepted) = (0u64, 0u64);
    for round in 0..400 {
        for seed in &seeds {
            let mut bytes = seed.as_bytes().to_vec();
            for _ in 0..=(round % 4) {
                let position = usize::try_from(next() % (bytes.len() as u64 + 1)).expect("small");
                let byte = alphabet[usize::try_from(next() % alphabet.len() as u64).expect("small")];
                match next() % 3 {
                    0 if position < bytes.len() => bytes[position] = byte,
                    1 => bytes.insert(position, byte),
                    _ => bytes.truncate(position),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            tried += 1;
            if decode_arguments(&text).is_ok() {
                accepted += 1;
            }
            let _ = decode_result(&text);
        }
    }
    println!("mutation fuzz: {tried} inputs, {accepted} still valid argument payloads, 0 panics");
    assert!(tried >= 20_000);
    assert!(accepted < tried, "mutations must produce rejected inputs too");
}
