//! The `validate_frame` fuzz corpus, checked on stable without the fuzzer: every file in
//! `fuzz/corpus/validate_frame/` goes through the same checks as the fuzz target
//! (`fuzz/check.rs`): no panic in `validate_client_frame`, `SessionId::parse` or
//! `PeerId::parse`, and every accepted frame round-trips.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// `fuzz/check.rs` reaches the protocol as `crate::protocol`.
use homecall::protocol;

#[path = "../fuzz/check.rs"]
mod check;

use check::Outcome;

#[test]
fn every_corpus_input_passes_the_fuzz_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/validate_frame");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    let mut failed = Vec::new();
    let (mut valid, mut refused, mut binary) = (0, 0, 0);
    for path in &entries {
        let data = std::fs::read(path).expect("a readable corpus file");
        match catch_unwind(AssertUnwindSafe(|| check::check(&data))) {
            Ok(Outcome::Valid) => valid += 1,
            Ok(Outcome::Refused) => refused += 1,
            Ok(Outcome::NotText) => binary += 1,
            Err(_) => failed.push(path.display().to_string()),
        }
    }
    assert!(
        failed.is_empty(),
        "corpus inputs that broke a check: {failed:#?}"
    );
    println!(
        "{} inputs: {valid} valid, {refused} refused, {binary} not UTF-8",
        entries.len()
    );
    // The corpus must reach both the accepting and the refusing paths.
    assert!(valid >= 4, "only {valid} valid frames in the corpus");
    assert!(refused >= 4, "only {refused} refused inputs in the corpus");
}

#[test]
fn the_checks_tell_valid_frames_from_refused_ones() {
    let offer = format!(
        r#"{{"type":"offer","sessionId":"{}","from":"{}","sdp":"v=0"}}"#,
        check::SESSION,
        check::PEER
    );
    assert_eq!(check::check(offer.as_bytes()), Outcome::Valid);
    // Ids named by the frame itself are tried too.
    let other = r#"{"type":"candidate","sessionId":"00000000-0000-4000-8000-000000000000","from":"bob-00002","candidate":null}"#;
    assert_eq!(check::check(other.as_bytes()), Outcome::Valid);
    assert_eq!(check::check(b"{}"), Outcome::Refused);
    assert_eq!(check::check(&[0xff, 0xfe]), Outcome::NotText);
}
