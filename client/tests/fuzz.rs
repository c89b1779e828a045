//! Fuzzing of the invocation JSON codec, the decoder of every argument list and result a
//! Kotlin peer sends: JSON text to [`Json`], and on to arguments and JVM values. Seeds are the
//! payloads the real Kotlin orbit-client serializer wrote (`compat-proto/testdata/payloads`).
//!
//! What must hold for any input: no panic; malformed text is a `CodecError`; and what decodes
//! encodes to text that decodes and encodes to the very same text (the codec neither loses nor
//! invents anything on a second pass, NaN included, which `==` cannot check).
//!
//! `FUZZ_CASES=1000000 cargo test --release -p orbit-client --test fuzz` for a long run.

use std::path::Path;

use orbit_client::codec::{Json, decode_arguments, decode_result, encode_arguments, encode_result};
use orbit_fuzz_support as fuzz;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

/// The `json` text of every Kotlin payload vector.
fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compat-proto/testdata/payloads");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .filter_map(|vector| vector["json"].as_str().map(|text| text.as_bytes().to_vec()))
        .collect();
    assert!(seeds.len() >= 50, "Kotlin payloads to start from: {}", seeds.len());
    seeds
}

/// Counts of one target's outcomes.
#[derive(Default)]
struct Tally {
    arguments: std::cell::Cell<u64>,
    results: std::cell::Cell<u64>,
}

fn check(bytes: &[u8], tally: &Tally) -> Result<(), TestCaseError> {
    // The codec reads text; gRPC strings are UTF-8 (prost rejects the rest before us).
    let text = String::from_utf8_lossy(bytes);
    if let Ok(json) = Json::parse(&text) {
        let again = Json::parse(&json.to_text());
        prop_assert!(again.is_ok_and(|j| j.to_text() == json.to_text()), "JSON text is not a fixpoint: {text}");
    }
    match decode_arguments(&text) {
        Ok(arguments) => {
            tally.arguments.set(tally.arguments.get() + 1);
            let written = encode_arguments(&arguments);
            let reread = decode_arguments(&written);
            prop_assert!(reread.is_ok(), "our own arguments do not decode: {written}");
            prop_assert_eq!(reread.map(|a| encode_arguments(&a)).unwrap_or_default(), written);
        }
        Err(error) => prop_assert!(!error.to_string().is_empty()),
    }
    match decode_result(&text) {
        Ok(value) => {
            tally.results.set(tally.results.get() + 1);
            let written = encode_result(&value);
            let reread = decode_result(&written);
            prop_assert!(reread.is_ok(), "our own result does not decode: {written}");
            prop_assert_eq!(reread.map(|v| encode_result(&v)).unwrap_or_default(), written);
        }
        Err(error) => prop_assert!(!error.to_string().is_empty()),
    }
    Ok(())
}

#[test]
fn invocation_payloads_decode_or_fail_cleanly() {
    let mut runner = TestRunner::new(fuzz::config());
    let tally = Tally::default();
    let outcome = runner.run(&fuzz::inputs(seeds(), 512), |bytes| check(&bytes, &tally));
    println!(
        "invocation codec: {} inputs, {} argument lists and {} results decoded",
        fuzz::cases(),
        tally.arguments.get(),
        tally.results.get()
    );
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    assert!(tally.arguments.get() > 0 && tally.results.get() > 0, "the seeds reach the decoders");
}

proptest! {
    #![proptest_config(fuzz::config())]

    /// Deep nesting and long numbers, which mutation rarely builds: an error or a value, never
    /// a stack overflow or a panic.
    #[test]
    fn nesting_and_numbers_never_panic(depth in 0usize..2_000, digits in "[0-9eE+.-]{0,400}") {
        let nested = format!("{}{digits}{}", "[".repeat(depth), "]".repeat(depth));
        let _ = decode_result(&nested);
        let _ = decode_arguments(&nested);
        let _ = Json::parse(&digits);
    }
}
