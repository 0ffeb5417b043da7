//! `/signal` from the outside: real WebSocket clients against a server on port 0, rule by
//! rule of PROTOCOL.md, with the exact wire JSON pinned as literals.

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use homecall::hub::HubLimits;
use tokio_tungstenite::tungstenite::http::StatusCode;

const SESSION_ENDED: &str = r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"session_ended","message":"Сессия завершена"}"#;
const SIGNAL_NOT_FOUND: &str = r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"signal_not_found","message":"Сигнал не найден"}"#;
const SESSION_FULL: &str = r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"session_full","message":"Сеанс уже занят"}"#;
const BAD_REQUEST_NO_SESSION: &str = r#"{"type":"error","sessionId":null,"code":"bad_request","message":"Неверная ссылка на звонок"}"#;
const BAD_REQUEST: &str = r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"bad_request","message":"Неверная ссылка на звонок"}"#;
const BAD_MESSAGE: &str = r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"bad_message","message":"Некорректное сообщение"}"#;
const QUEUE_FULL: &str = r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"queue_full","message":"Очередь сигналов переполнена"}"#;
const RATE_LIMITED: &str = r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"rate_limited","message":"Слишком много сообщений"}"#;

/// A valid candidate from `from`, numbered so order can be checked.
fn candidate(from: &str, n: usize) -> String {
    format!(
        r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{from}","candidate":{{"candidate":"candidate:{n} 1 udp 1 10.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}}}"#
    )
}

/// A valid offer from `from` whose frame is exactly `size` bytes.
fn offer_of_size(from: &str, size: usize) -> String {
    let bare = format!(r#"{{"type":"offer","sessionId":"{SESSION}","from":"{from}","sdp":""}}"#);
    assert!(size > bare.len());
    let text = format!(
        r#"{{"type":"offer","sessionId":"{SESSION}","from":"{from}","sdp":"{}"}}"#,
        "v".repeat(size - bare.len())
    );
    assert_eq!(text.len(), size);
    text
}

async fn pair(server: &TestServer) -> (Client, Client) {
    let alice = server.connect(SESSION, ALICE).await;
    let bob = server.connect(SESSION, BOB).await;
    server
        .wait_until("both are connected", async |hub| {
            hub.connected_count(&session_id()).await == 2
        })
        .await;
    (alice, bob)
}

on_both_engines!(messages_are_relayed_both_ways_byte_for_byte_with_unknown_fields);
async fn messages_are_relayed_both_ways_byte_for_byte_with_unknown_fields(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, mut bob) = pair(&server).await;

    let offer = r#"{ "sdp" : "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n", "from":"alice-0001","type":"offer", "sessionId":"123e4567-e89b-42d3-a456-426614174000","x-extra":{"keep":[1,2.50,"три"]} }"#;
    alice.send(offer).await;
    assert_eq!(bob.recv().await, offer);

    let answer = r#"{"type":"answer","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"bob-00002","sdp":"v=0\r\n","unknown":null}"#;
    bob.send(answer).await;
    assert_eq!(alice.recv().await, answer);

    let ice = r#"{"type":"candidate","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"bob-00002","candidate":{"candidate":"candidate:1 1 udp 2122260223 192.168.1.2 54400 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}"#;
    bob.send(ice).await;
    assert_eq!(alice.recv().await, ice);

    let end = r#"{"type":"candidate","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"alice-0001","candidate":null}"#;
    alice.send(end).await;
    assert_eq!(bob.recv().await, end);

    alice.expect_quiet(Duration::from_millis(100)).await;
    bob.expect_quiet(Duration::from_millis(100)).await;
}

on_both_engines!(messages_sent_before_the_other_peer_joins_arrive_first_and_in_order);
async fn messages_sent_before_the_other_peer_joins_arrive_first_and_in_order(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    let sent: Vec<String> = (0..5).map(|n| candidate(ALICE, n)).collect();
    for text in &sent {
        alice.send(text).await;
    }
    server
        .wait_until("five frames are queued", async |hub| {
            hub.queued(&session_id()).await.0 == 5
        })
        .await;

    let mut bob = server.connect(SESSION, BOB).await;
    for text in &sent {
        assert_eq!(&bob.recv().await, text);
    }
    let newer = candidate(ALICE, 99);
    alice.send(&newer).await;
    assert_eq!(bob.recv().await, newer);
    // A frame leaves the queue only after its write, a moment after the client has it.
    server
        .wait_until("the queue is empty", async |hub| {
            hub.queued(&session_id()).await == (0, 0)
        })
        .await;
}

on_both_engines!(a_third_participant_gets_session_full_and_the_session_is_untouched);
async fn a_third_participant_gets_session_full_and_the_session_is_untouched(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, mut bob) = pair(&server).await;

    let mut carol = server.connect(SESSION, CAROL).await;
    assert_eq!(carol.recv().await, SESSION_FULL);
    carol.expect_close(1008, "session full").await;

    assert_eq!(server.hub.connected_count(&session_id()).await, 2);
    let text = candidate(ALICE, 1);
    alice.send(&text).await;
    assert_eq!(bob.recv().await, text);
    let text = candidate(BOB, 2);
    bob.send(&text).await;
    assert_eq!(alice.recv().await, text);
}

on_both_engines!(a_bad_session_gets_bad_request_with_a_null_session_id_and_1008);
async fn a_bad_session_gets_bad_request_with_a_null_session_id_and_1008(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    for query in [
        format!("session=not-a-uuid&peer={ALICE}"),
        format!("peer={ALICE}"),
        format!("session=123E4567-E89B-42D3-A456-426614174000&peer={ALICE}"),
        format!("session=123e4567-e89b-12d3-a456-426614174000&peer={ALICE}"),
        format!("session={SESSION}&session={SESSION}&peer={ALICE}"),
        String::new(),
    ] {
        let mut client = server.connect_query(&query).await;
        assert_eq!(client.recv().await, BAD_REQUEST_NO_SESSION, "{query}");
        client.expect_close(1008, "bad link").await;
    }
    assert_eq!(server.hub.session_count().await, 0);
}

on_both_engines!(a_bad_peer_gets_bad_request_naming_the_session_and_1008);
async fn a_bad_peer_gets_bad_request_naming_the_session_and_1008(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    for query in [
        format!("session={SESSION}&peer=short"),
        format!("session={SESSION}"),
        format!("session={SESSION}&peer=has%20a%20space"),
        format!("session={SESSION}&peer={}", "a".repeat(65)),
    ] {
        let mut client = server.connect_query(&query).await;
        assert_eq!(client.recv().await, BAD_REQUEST, "{query}");
        client.expect_close(1008, "bad link").await;
    }
    assert_eq!(server.hub.session_count().await, 0);
}

on_both_engines!(a_foreign_origin_gets_403_and_the_own_origin_is_allowed);
async fn a_foreign_origin_gets_403_and_the_own_origin_is_allowed(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let own = format!("http://{}", server.addr);
    for foreign in [
        "http://evil.example",
        "https://evil.example",
        "null",
        &format!("http://{}:1", server.addr.ip()),
    ] {
        assert_eq!(
            server.connect_with_origin(foreign).await.err(),
            Some(StatusCode::FORBIDDEN),
            "{foreign}"
        );
    }
    assert_eq!(server.hub.session_count().await, 0);

    let mut alice = server
        .connect_with_origin(&own)
        .await
        .expect("own origin allowed");
    let mut bob = server.connect(SESSION, BOB).await; // no Origin: a non-browser client
    let text = candidate(ALICE, 1);
    alice.send(&text).await;
    assert_eq!(bob.recv().await, text);
}

on_both_engines!(configured_origins_replace_the_own_origin);
async fn configured_origins_replace_the_own_origin(engine: Engine) {
    let server =
        TestServer::start_with_origins(engine, test_limits(), vec!["https://call.example".into()])
            .await;
    let own = format!("http://{}", server.addr);
    assert_eq!(
        server.connect_with_origin(&own).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
    assert!(
        server
            .connect_with_origin("https://call.example")
            .await
            .is_ok()
    );
}

on_both_engines!(each_bad_message_gets_bad_message_and_the_call_goes_on);
async fn each_bad_message_gets_bad_message_and_the_call_goes_on(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, mut bob) = pair(&server).await;
    let bad = [
        "not json".to_owned(),
        "{}".to_owned(),
        r#"{"type":"hello","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"alice-0001"}"#.to_owned(),
        r#"{"type":"offer","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"alice-0001"}"#.to_owned(),
        r#"{"type":"offer","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"alice-0001","sdp":""}"#.to_owned(),
        r#"{"type":"answer","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"alice-0001","sdp":42}"#.to_owned(),
        r#"{"type":"offer","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"bob-00002","sdp":"v=0"}"#.to_owned(),
        r#"{"type":"candidate","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"alice-0001"}"#.to_owned(),
        r#"{"type":"candidate","sessionId":"123e4567-e89b-42d3-a456-426614174000","from":"alice-0001","candidate":"x"}"#.to_owned(),
        r#"{"type":"error","sessionId":"123e4567-e89b-42d3-a456-426614174000","code":"bad_message","message":"x"}"#.to_owned(),
        r#"{"type":"offer","from":"alice-0001","sdp":"v=0"}"#.to_owned(),
    ];
    for text in &bad {
        alice.send(text).await;
        assert_eq!(alice.recv().await, BAD_MESSAGE, "{text}");
    }
    alice.send_binary(b"\x00\x01binary").await;
    assert_eq!(alice.recv().await, BAD_MESSAGE);

    // Nothing reached Bob, and the call goes on both ways.
    let text = candidate(ALICE, 1);
    alice.send(&text).await;
    assert_eq!(bob.recv().await, text);
    let text = candidate(BOB, 2);
    bob.send(&text).await;
    assert_eq!(alice.recv().await, text);
}

on_both_engines!(a_message_naming_another_session_gets_signal_not_found);
async fn a_message_naming_another_session_gets_signal_not_found(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, mut bob) = pair(&server).await;
    let other = r#"{"type":"offer","sessionId":"00000000-0000-4000-8000-000000000000","from":"alice-0001","sdp":"v=0"}"#;
    alice.send(other).await;
    assert_eq!(alice.recv().await, SIGNAL_NOT_FOUND);
    let text = candidate(ALICE, 1);
    alice.send(&text).await;
    assert_eq!(bob.recv().await, text);
}

on_both_engines!(the_20th_invalid_message_gets_its_error_then_1008_and_is_a_drop);
async fn the_20th_invalid_message_gets_its_error_then_1008_and_is_a_drop(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, mut bob) = pair(&server).await;
    for _ in 0..19 {
        alice.send("nope").await;
        assert_eq!(alice.recv().await, BAD_MESSAGE);
    }
    // Still open after 19.
    let text = candidate(ALICE, 1);
    alice.send(&text).await;
    assert_eq!(bob.recv().await, text);

    alice.send_binary(b"20th").await;
    assert_eq!(alice.recv().await, BAD_MESSAGE);
    alice.expect_close(1008, "too many invalid messages").await;

    // A drop, not a hang-up: Bob is not told, Alice keeps her place and her queue.
    server
        .wait_until("alice has left", async |hub| {
            hub.connected_count(&session_id()).await == 1
        })
        .await;
    bob.expect_quiet(Duration::from_millis(100)).await;
    let text = candidate(BOB, 2);
    bob.send(&text).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    assert_eq!(alice.recv().await, text);
}

on_both_engines!(frames_up_to_64_kib_pass_and_larger_ones_are_bad_messages);
async fn frames_up_to_64_kib_pass_and_larger_ones_are_bad_messages(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, mut bob) = pair(&server).await;

    let largest = offer_of_size(ALICE, 64 * 1024);
    alice.send(&largest).await;
    assert_eq!(bob.recv().await, largest);

    alice.send(&offer_of_size(ALICE, 64 * 1024 + 1)).await;
    assert_eq!(alice.recv().await, BAD_MESSAGE);
    alice.send(&offer_of_size(ALICE, 1024 * 1024)).await;
    assert_eq!(alice.recv().await, BAD_MESSAGE);

    let text = candidate(ALICE, 1);
    alice.send(&text).await;
    assert_eq!(bob.recv().await, text);
}

on_both_engines!(a_frame_beyond_1_mib_closes_with_1009);
async fn a_frame_beyond_1_mib_closes_with_1009(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    let too_big = offer_of_size(ALICE, 1024 * 1024 + 1);
    alice
        .ws
        .send(tokio_tungstenite::tungstenite::Message::text(too_big))
        .await
        .expect("send");
    alice.expect_close(1009, "frame too large").await;
    // A drop: the place is kept.
    server
        .wait_until("alice has left", async |hub| {
            hub.connected_count(&session_id()).await == 0
        })
        .await;
    assert_eq!(server.hub.session_count().await, 1);
}

on_both_engines!(a_reconnect_replaces_the_old_socket_with_4001);
async fn a_reconnect_replaces_the_old_socket_with_4001(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, mut old_bob) = pair(&server).await;

    let mut bob = server.connect(SESSION, BOB).await;
    old_bob.expect_close(4001, "replaced").await;
    assert_eq!(server.hub.connected_count(&session_id()).await, 2);

    let text = candidate(ALICE, 1);
    alice.send(&text).await;
    assert_eq!(bob.recv().await, text);
    let text = candidate(BOB, 2);
    bob.send(&text).await;
    assert_eq!(alice.recv().await, text);
}

on_both_engines!(a_reconnect_first_receives_everything_queued_in_order);
async fn a_reconnect_first_receives_everything_queued_in_order(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, bob) = pair(&server).await;
    bob.drop_abruptly();
    server
        .wait_until("bob has left", async |hub| {
            hub.connected_count(&session_id()).await == 1
        })
        .await;

    let sent: Vec<String> = (0..10).map(|n| candidate(ALICE, n)).collect();
    for text in &sent {
        alice.send(text).await;
    }
    server
        .wait_until("ten frames are queued", async |hub| {
            hub.queued(&session_id()).await.0 == 10
        })
        .await;
    let mut bob = server.connect(SESSION, BOB).await;
    let after = candidate(ALICE, 10);
    alice.send(&after).await;
    for text in sent.iter().chain([&after]) {
        assert_eq!(&bob.recv().await, text);
    }
}

on_both_engines!(closes_other_than_1000_are_drops_that_keep_place_and_queue);
async fn closes_other_than_1000_are_drops_that_keep_place_and_queue(engine: Engine) {
    for close in [None, Some(1001), Some(4000)] {
        let server = TestServer::start_on(engine, test_limits()).await;
        let (mut alice, bob) = pair(&server).await;
        bob.close(close).await;
        server
            .wait_until("bob has left", async |hub| {
                hub.connected_count(&session_id()).await == 1
            })
            .await;
        alice.expect_quiet(Duration::from_millis(100)).await;

        let text = candidate(ALICE, 1);
        alice.send(&text).await;
        server
            .wait_until("a frame is queued", async |hub| {
                hub.queued(&session_id()).await.0 == 1
            })
            .await;
        let mut carol = server.connect(SESSION, CAROL).await;
        assert_eq!(carol.recv().await, SESSION_FULL, "{close:?}");
        let mut bob = server.connect(SESSION, BOB).await;
        assert_eq!(bob.recv().await, text, "{close:?}");
    }
}

on_both_engines!(an_abrupt_tcp_close_is_a_drop);
async fn an_abrupt_tcp_close_is_a_drop(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, bob) = pair(&server).await;
    bob.drop_abruptly();
    server
        .wait_until("bob has left", async |hub| {
            hub.connected_count(&session_id()).await == 1
        })
        .await;
    alice.expect_quiet(Duration::from_millis(100)).await;
    let text = candidate(ALICE, 1);
    alice.send(&text).await;
    let mut bob = server.connect(SESSION, BOB).await;
    assert_eq!(bob.recv().await, text);
}

on_both_engines!(hang_up_ends_the_session_for_both_and_for_later_connections);
async fn hang_up_ends_the_session_for_both_and_for_later_connections(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (alice, mut bob) = pair(&server).await;
    alice.hang_up().await;
    assert_eq!(bob.recv().await, SESSION_ENDED);
    bob.expect_close(1000, "session ended").await;
    assert_eq!(server.hub.session_count().await, 0);

    for peer in [ALICE, BOB, CAROL] {
        let mut late = server.connect(SESSION, peer).await;
        assert_eq!(late.recv().await, SESSION_ENDED);
        late.expect_close(1000, "session ended").await;
    }
    assert_eq!(server.hub.session_count().await, 0);
}

on_both_engines!(hang_up_clears_the_queue_of_an_absent_peer);
async fn hang_up_clears_the_queue_of_an_absent_peer(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    alice.send(&candidate(ALICE, 1)).await;
    server
        .wait_until("a frame is queued", async |hub| {
            hub.queued(&session_id()).await.0 == 1
        })
        .await;
    alice.hang_up().await;
    server
        .wait_until("the session is gone", async |hub| {
            hub.session_count().await == 0
        })
        .await;
    let mut bob = server.connect(SESSION, BOB).await;
    assert_eq!(bob.recv().await, SESSION_ENDED);
    bob.expect_close(1000, "session ended").await;
}

on_both_engines!(the_queue_holds_256_messages_and_queue_full_does_not_count_as_invalid);
async fn the_queue_holds_256_messages_and_queue_full_does_not_count_as_invalid(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    for n in 0..256 {
        alice.send(&candidate(ALICE, n)).await;
    }
    server
        .wait_until("256 frames are queued", async |hub| {
            hub.queued(&session_id()).await.0 == 256
        })
        .await;
    // 25 refusals: more than the 20 invalid messages that would close the socket.
    for n in 256..281 {
        alice.send(&candidate(ALICE, n)).await;
        assert_eq!(alice.recv().await, QUEUE_FULL);
    }
    let mut bob = server.connect(SESSION, BOB).await;
    for n in 0..256 {
        assert_eq!(bob.recv().await, candidate(ALICE, n));
    }
    // Room again: a later message is stored and delivered.
    let later = candidate(ALICE, 1000);
    alice.send(&later).await;
    assert_eq!(bob.recv().await, later);
}

on_both_engines!(the_queue_holds_512_kib_and_a_later_message_that_fits_is_stored);
async fn the_queue_holds_512_kib_and_a_later_message_that_fits_is_stored(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    let big: Vec<String> = (0..7).map(|_| offer_of_size(ALICE, 64 * 1024)).collect();
    for text in &big {
        alice.send(text).await;
    }
    let fits = offer_of_size(ALICE, 60_000);
    alice.send(&fits).await;
    server
        .wait_until("eight frames are queued", async |hub| {
            hub.queued(&session_id()).await == (8, 7 * 64 * 1024 + 60_000)
        })
        .await;
    // 5,536 bytes are left.
    alice.send(&offer_of_size(ALICE, 10_000)).await;
    assert_eq!(alice.recv().await, QUEUE_FULL);
    let small = offer_of_size(ALICE, 5_536);
    alice.send(&small).await;
    server
        .wait_until("nine frames are queued", async |hub| {
            hub.queued(&session_id()).await == (9, 512 * 1024)
        })
        .await;
    alice.send(&candidate(ALICE, 1)).await;
    assert_eq!(alice.recv().await, QUEUE_FULL);

    let mut bob = server.connect(SESSION, BOB).await;
    for text in big.iter().chain([&fits, &small]) {
        assert_eq!(&bob.recv().await, text);
    }
    bob.expect_quiet(Duration::from_millis(100)).await;
}

/// A candidate from `from`, numbered `n` and padded to about `size` bytes with an extra
/// field (unknown fields travel unchanged).
fn numbered_candidate(from: &str, n: usize, size: usize) -> String {
    format!(
        r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{from}","candidate":null,"n":{n},"pad":"{}"}}"#,
        "p".repeat(size)
    )
}

/// `peer` connected with a tiny TCP receive buffer, so the hub's writes to it stall as
/// soon as it stops reading.
async fn connect_with_small_receive_buffer(server: &TestServer, peer: &str) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(server.addr).await.expect("connect");
    let url = server.url(&format!("session={SESSION}&peer={peer}"));
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (ws, response) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("websocket upgrade");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    Client { ws }
}

on_both_engines!(a_recipient_that_stops_reading_gets_every_frame_in_order_when_it_reads_again);

/// A recipient that stops reading: the hub's write to it cannot finish, so later frames
/// wait in the queue (the sender's task writes straight to an idle socket, and hands over
/// to the recipient's own task when the socket is full). When the recipient reads again,
/// every frame arrives, once and in order: the recipient's task is woken as its socket
/// drains (a lost wake-up would stall this test).
async fn a_recipient_that_stops_reading_gets_every_frame_in_order_when_it_reads_again(
    engine: Engine,
) {
    let limits = HubLimits {
        queue_messages: 10_000,
        queue_bytes: 64 << 20,
        rate_per_second: 10_000,
        rate_burst: 10_000,
        ..test_limits()
    };
    let server = TestServer::start_on(engine, limits).await;
    let mut alice = server.connect(SESSION, ALICE).await;
    let mut bob = connect_with_small_receive_buffer(&server, BOB).await;
    server
        .wait_until("both are connected", async |hub| {
            hub.connected_count(&session_id()).await == 2
        })
        .await;
    let sent: Vec<String> = (0..300)
        .map(|n| numbered_candidate(ALICE, n, 20_000))
        .collect();
    for text in &sent {
        alice.send(text).await;
    }
    server
        .wait_until("frames wait behind the full socket", async |hub| {
            hub.queued(&session_id()).await.0 > 10
        })
        .await;
    for (n, text) in sent.iter().enumerate() {
        assert!(&bob.recv().await == text, "frame {n} is not the {n}th sent");
    }
    server
        .wait_until("the queue is empty", async |hub| {
            hub.queued(&session_id()).await == (0, 0)
        })
        .await;
    bob.expect_quiet(Duration::from_millis(100)).await;
}

on_both_engines!(a_socket_over_its_rate_gets_rate_limited_which_does_not_count_as_invalid);
async fn a_socket_over_its_rate_gets_rate_limited_which_does_not_count_as_invalid(engine: Engine) {
    let server = TestServer::start_on(
        engine,
        HubLimits {
            rate_per_second: 2,
            rate_burst: 5,
            ..test_limits()
        },
    )
    .await;
    let (mut alice, mut bob) = pair(&server).await;
    for n in 0..5 {
        alice.send(&candidate(ALICE, n)).await;
    }
    for n in 0..5 {
        assert_eq!(bob.recv().await, candidate(ALICE, n));
    }
    // Far more refusals than the 20 invalid messages allowed: the socket stays open.
    for n in 5..30 {
        alice.send(&candidate(ALICE, n)).await;
        assert_eq!(alice.recv().await, RATE_LIMITED);
    }
    bob.expect_quiet(Duration::from_millis(100)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let text = candidate(ALICE, 100);
    alice.send(&text).await;
    assert_eq!(bob.recv().await, text);
}

on_both_engines!(the_default_rate_allows_a_burst_of_400);
async fn the_default_rate_allows_a_burst_of_400(engine: Engine) {
    // A queue bound large enough that only the rate could refuse a message.
    let server = TestServer::start_on(
        engine,
        HubLimits {
            queue_messages: 1000,
            ..test_limits()
        },
    )
    .await;
    let (mut alice, mut bob) = pair(&server).await;
    let reader = tokio::spawn(async move {
        for n in 0..400 {
            assert_eq!(bob.recv().await, candidate(ALICE, n));
        }
        bob
    });
    for n in 0..400 {
        alice.send(&candidate(ALICE, n)).await;
    }
    let _bob = reader.await.expect("bob read 400 messages");
    alice.expect_quiet(Duration::from_millis(100)).await;
}

on_both_engines!(an_idle_session_ends_and_its_id_stays_ended);
async fn an_idle_session_ends_and_its_id_stays_ended(engine: Engine) {
    let server = TestServer::start_on(
        engine,
        HubLimits {
            idle_timeout: Duration::from_millis(300),
            ..test_limits()
        },
    )
    .await;
    let alice = server.connect(SESSION, ALICE).await;
    server
        .wait_until("alice has joined", async |hub| {
            hub.connected_count(&session_id()).await == 1
        })
        .await;
    alice.drop_abruptly();
    server
        .wait_until("alice has left", async |hub| {
            hub.connected_count(&session_id()).await == 0
        })
        .await;
    assert_eq!(server.hub.session_count().await, 1);
    server
        .wait_until("the idle session is gone", async |hub| {
            hub.session_count().await == 0
        })
        .await;
    let mut alice = server.connect(SESSION, ALICE).await;
    assert_eq!(alice.recv().await, SESSION_ENDED);
    alice.expect_close(1000, "session ended").await;
}

on_both_engines!(a_connected_session_is_not_idle);
async fn a_connected_session_is_not_idle(engine: Engine) {
    let server = TestServer::start_on(
        engine,
        HubLimits {
            idle_timeout: Duration::from_millis(200),
            ..test_limits()
        },
    )
    .await;
    let (mut alice, mut bob) = pair(&server).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(server.hub.session_count().await, 1);
    let text = candidate(ALICE, 1);
    alice.send(&text).await;
    assert_eq!(bob.recv().await, text);
}

on_both_engines!(a_session_ends_at_its_maximum_age);
async fn a_session_ends_at_its_maximum_age(engine: Engine) {
    let server = TestServer::start_on(
        engine,
        HubLimits {
            max_age: Duration::from_millis(500),
            ..test_limits()
        },
    )
    .await;
    let (mut alice, mut bob) = pair(&server).await;
    assert_eq!(alice.recv().await, SESSION_ENDED);
    alice.expect_close(1000, "session ended").await;
    assert_eq!(bob.recv().await, SESSION_ENDED);
    bob.expect_close(1000, "session ended").await;
    assert_eq!(server.hub.session_count().await, 0);
    let mut late = server.connect(SESSION, ALICE).await;
    assert_eq!(late.recv().await, SESSION_ENDED);
}

on_both_engines!(the_server_pings_and_a_silent_socket_is_dropped);
async fn the_server_pings_and_a_silent_socket_is_dropped(engine: Engine) {
    let server = TestServer::start_on(
        engine,
        HubLimits {
            ping_interval: Duration::from_millis(100),
            silence_timeout: Duration::from_millis(400),
            ..test_limits()
        },
    )
    .await;
    let mut alice = server.connect(SESSION, ALICE).await;

    // A reading client answers pings (tungstenite does it) and stays connected.
    let mut pings = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
    while tokio::time::Instant::now() < deadline {
        use futures_util::StreamExt;
        if let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_millis(50), alice.ws.next()).await
        {
            assert!(message.is_ping(), "{message:?}");
            pings += 1;
        }
    }
    assert!(pings >= 4, "only {pings} pings");
    assert_eq!(server.hub.connected_count(&session_id()).await, 1);

    // Now Alice stops reading, so she answers no pings: after the silence she is dropped.
    server
        .wait_until("alice is dropped", async |hub| {
            hub.connected_count(&session_id()).await == 0
        })
        .await;
    // A drop, not a hang-up: the session, Alice's place and her queue are kept.
    assert_eq!(server.hub.session_count().await, 1);
    let mut bob = server.connect(SESSION, BOB).await;
    bob.send(&candidate(BOB, 1)).await;
    let mut carol = server.connect(SESSION, CAROL).await;
    assert_eq!(carol.recv().await, SESSION_FULL);
    drop(alice);
    let mut alice = server.connect(SESSION, ALICE).await;
    assert_eq!(alice.recv().await, candidate(BOB, 1));
}

on_both_engines!(shutdown_closes_sockets_with_1001_and_keeps_sessions);
async fn shutdown_closes_sockets_with_1001_and_keeps_sessions(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let (mut alice, mut bob) = pair(&server).await;
    server.shutdown();
    alice.expect_close(1001, "server shutting down").await;
    bob.expect_close(1001, "server shutting down").await;
    tokio::time::timeout(PATIENCE, server.sockets_closed())
        .await
        .expect("all sockets closed");
    assert_eq!(server.live_socket_count(), 0);
    assert_eq!(server.hub.session_count().await, 1);
}

on_both_engines!(ended_sessions_leave_nothing_in_memory);
async fn ended_sessions_leave_nothing_in_memory(engine: Engine) {
    let server = TestServer::start_on(engine, test_limits()).await;
    let mut ids = Vec::new();
    for n in 0..20u8 {
        let session = homecall::protocol::SessionId::from_random_bytes([n; 16]);
        let alice = server.connect(session.as_str(), ALICE).await;
        let mut bob = server.connect(session.as_str(), BOB).await;
        server
            .wait_until("both are connected", async |hub| {
                hub.connected_count(&session).await == 2
            })
            .await;
        alice.hang_up().await;
        assert_eq!(
            bob.recv().await,
            format!(
                r#"{{"type":"error","sessionId":"{session}","code":"session_ended","message":"Сессия завершена"}}"#
            )
        );
        bob.expect_close(1000, "session ended").await;
        ids.push(session);
    }
    server
        .wait_until("every socket task has ended", async |_| {
            server.live_socket_count() == 0
        })
        .await;
    assert_eq!(server.hub.session_count().await, 0);
    assert_eq!(server.hub.queued_bytes_total().await, 0);
    if engine == Engine::Memory {
        assert_eq!(server.hub.ended_count(), 20);
    }
    // Every id stays ended (with Redis: on whichever node the socket lands).
    for session in &ids {
        let mut late = server.connect(session.as_str(), ALICE).await;
        assert!(late.recv().await.contains("session_ended"));
    }
}

/// The `n`th of a few distinct session ids.
fn nth_session(n: u8) -> String {
    format!("123e4567-e89b-42d3-a456-4266141740{n:02}")
}

on_both_engines!(per_address_limits_count_across_nodes);
async fn per_address_limits_count_across_nodes(engine: Engine) {
    let limits = HubLimits {
        max_sockets_per_ip: 3,
        new_sessions_per_ip_per_minute: 2,
        ..test_limits()
    };
    let server = TestServer::start_on(engine, limits).await;
    // With Redis each connection lands on the other node: the counts must be shared.
    let _first = server.try_connect(&nth_session(1), ALICE).await.unwrap();
    let _second = server.try_connect(&nth_session(2), ALICE).await.unwrap();
    let third_new = server.try_connect(&nth_session(3), ALICE).await;
    assert_eq!(
        third_new.err(),
        Some(StatusCode::TOO_MANY_REQUESTS),
        "a third new session within the minute"
    );
    let joiner = server.try_connect(&nth_session(1), BOB).await;
    assert!(joiner.is_ok(), "joining a session is not a new one");
    let fourth_socket = server.try_connect(&nth_session(2), BOB).await;
    assert_eq!(
        fourth_socket.err(),
        Some(StatusCode::TOO_MANY_REQUESTS),
        "a fourth socket of the address"
    );
    joiner.unwrap().drop_abruptly();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match server.try_connect(&nth_session(2), BOB).await {
            Ok(_) => break,
            Err(status) => assert_eq!(status, StatusCode::TOO_MANY_REQUESTS),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a closed socket gives its place back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
