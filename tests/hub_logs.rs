//! PROTOCOL.md §6 logging, checked through a captured `tracing` subscriber. It is a test
//! binary of its own: `tracing` caches each log call site's interest process-wide, and
//! other tests' threads (with no subscriber) racing to register a call site first made
//! this test miss lines when it shared a process with them.

mod common;

use std::time::Duration;

use common::*;

const SESSION_ENDED: &str = r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"session_ended","message":"Сессия завершена"}"#;
const BAD_MESSAGE: &str = r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"bad_message","message":"Некорректное сообщение"}"#;

#[tokio::test]
async fn messages_are_logged_with_ids_type_size_and_outcome_but_never_their_contents() {
    let (logs, _guard) = capture_logs();
    let server = TestServer::start(test_limits()).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    let offer = r#"{"type":"offer","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"alice-0001","sdp":"SECRET-SDP c=IN IP4 203.0.113.7"}"#;
    alice.send(offer).await;
    server
        .wait_until("the offer is queued", async |hub| {
            hub.queued(&session_id()).await.0 == 1
        })
        .await;
    let mut bob = server.connect(SESSION, BOB).await;
    assert_eq!(bob.recv().await, offer);
    let ice = r#"{"type":"candidate","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"bob-00002","candidate":{"candidate":"candidate:SECRET-ICE 198.51.100.9 9 typ host"}}"#;
    bob.send(ice).await;
    assert_eq!(alice.recv().await, ice);
    let bad = r#"{"type":"offer","sdp":"SECRET-BAD 192.0.2.1"}"#;
    alice.send(bad).await;
    assert_eq!(alice.recv().await, BAD_MESSAGE);
    alice.hang_up().await;
    assert_eq!(bob.recv().await, SESSION_ENDED);

    // A frame reaches its client a moment before the hub logs its delivery: wait for the
    // last expected line rather than reading the logs at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !logs.text().contains("outcome=bad_message")
        || logs.text().matches("outcome=delivered").count() < 2
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "logs never complete:\n{}",
            logs.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = logs.text();
    for secret in ["SECRET", "203.0.113.7", "198.51.100.9", "192.0.2.1"] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
    // The number of the first log line that contains every needle.
    let position = |needles: &[&str]| {
        text.lines()
            .position(|line| needles.iter().all(|needle| line.contains(needle)))
    };
    let line = |needles: &[&str]| position(needles).is_some();
    let ids = |peer: &'static str| ["session=123e4567-e89b-42d3-a456-426614174000", peer];
    for (peer, kind, size, outcome) in [
        (
            "peer=alice-0001",
            "kind=offer",
            format!("size={}", offer.len()),
            "outcome=queued",
        ),
        (
            "peer=bob-00002",
            "kind=offer",
            format!("size={}", offer.len()),
            "outcome=delivered",
        ),
        (
            "peer=alice-0001",
            "kind=offer",
            format!("size={}", bad.len()),
            "outcome=bad_message",
        ),
    ] {
        let [session, peer] = ids(peer);
        assert!(
            line(&[session, peer, kind, &size, outcome]),
            "no line with {peer} {kind} {size} {outcome}:\n{text}"
        );
    }
    // Bob's candidate reached an idle socket: the sender's task wrote it itself and that
    // is one line, its delivery. Had Alice's task been busy, the frame went through her
    // queue: then it was logged accepted first, and delivered after.
    let delivered = position(&[
        "peer=alice-0001",
        "kind=candidate",
        &format!("size={}", ice.len()),
        "outcome=delivered",
    ]);
    let accepted = position(&[
        "peer=bob-00002",
        "kind=candidate",
        &format!("size={}", ice.len()),
        "outcome=accepted",
    ]);
    assert!(
        delivered.is_some(),
        "the candidate's delivery not logged:\n{text}"
    );
    assert!(
        accepted.is_none_or(|accepted| Some(accepted) < delivered),
        "the candidate was logged delivered before accepted:\n{text}"
    );
}
