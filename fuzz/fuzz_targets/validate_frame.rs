//! Fuzzes `protocol::validate_client_frame`, `SessionId::parse` and `PeerId::parse` with
//! arbitrary bytes: nothing may panic, and a frame the hub accepts must round-trip (the
//! checks are in `fuzz/check.rs`, shared with the stable test `tests/fuzz_corpus.rs`).
//!
//! `src/protocol.rs` is compiled in directly: it is plain data and pure functions with no
//! `cfg` and no crate-internal imports, and this keeps Leptos and axum out of the
//! sanitizer-instrumented build.
#![no_main]

#[allow(dead_code, unused_imports)]
#[path = "../../src/protocol.rs"]
mod protocol;

#[path = "../check.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = check::check(data);
});
