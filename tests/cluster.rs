//! The Redis engine as it ships, under faults: real `homecall` binaries (child processes,
//! default settings and logging) as nodes sharing one real `redis-server`, each started on
//! a free loopback port and stopped by PID. A node is killed with SIGKILL (a crash) or
//! stopped with SIGTERM (a deploy); Redis is killed with SIGKILL and restarted on its
//! append-only file. Every test checks from the outside, with real WebSocket clients,
//! that no frame the hub accepted is lost or reordered and that the call goes on.
//!
//! The binary is cargo's `homecall`, or `$HOMECALL_CLUSTER_BIN` (a release build, say).
//! Times until signalling works again are printed with `eprintln!` (`--nocapture`).

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::redis_server::{RedisServer, free_port};
use common::{ALICE, BOB, CAROL, Client, Got, PATIENCE, SESSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// The error a third participant gets.
const SESSION_FULL: &str = "session_full";

fn binary() -> String {
    std::env::var("HOMECALL_CLUSTER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_homecall").to_owned())
}

static NODES: AtomicU64 = AtomicU64::new(0);

/// One node: the server binary as a child process on its own port, killed on drop.
struct Node {
    port: u16,
    redis_url: String,
    dir: PathBuf,
    /// Options beyond the listen address, site root and Redis URL.
    extra: Vec<String>,
    child: Option<Child>,
}

impl Node {
    async fn start(redis: &RedisServer) -> Self {
        Self::start_with(redis, &[]).await
    }

    async fn start_with(redis: &RedisServer, extra: &[&str]) -> Self {
        let n = NODES.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("homecall-cluster-{}-{n}", std::process::id()));
        std::fs::create_dir_all(dir.join("site")).expect("a folder for the node");
        let mut node = Self {
            port: free_port(),
            redis_url: redis.url(),
            dir,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
            child: None,
        };
        node.spawn().await;
        node
    }

    /// Starts the binary (again) on this node's port and waits until it is ready.
    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("output.log"))
            .expect("a log file");
        let mut command = Command::new(binary());
        command
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--site-root")
            .arg(self.dir.join("site"))
            .arg("--redis-url")
            .arg(&self.redis_url)
            .args(&self.extra);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HOMECALL_") {
                command.env_remove(key);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary()));
        self.child = Some(child);
        let started = Instant::now();
        while self.health().await != Some(200) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the node did not become ready:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("output.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// kill -9: the node's sockets break, nothing is flushed.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as a deploy stops a node: it drains (closes its sockets with 1001).
    fn terminate(&self) {
        let child = self.child.as_ref().expect("a running node");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits until the node has exited (after [`Self::terminate`]).
    async fn exited(&mut self) {
        let mut child = self.child.take().expect("a running node");
        let deadline = Instant::now() + PATIENCE;
        while child.try_wait().expect("child status").is_none() {
            assert!(
                Instant::now() < deadline,
                "the node did not stop on SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `/healthz`'s status, or `None` if the node does not answer.
    async fn health(&self) -> Option<u16> {
        tokio::time::timeout(Duration::from_secs(1), self.get_status("/healthz"))
            .await
            .ok()
            .flatten()
    }

    async fn wait_health(&self, status: u16) -> Duration {
        let started = Instant::now();
        while self.health().await != Some(status) {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "/healthz did not turn {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        started.elapsed()
    }

    /// The status of `GET path`, or `None` if the node does not answer.
    async fn get_status(&self, path: &str) -> Option<u16> {
        let exchange = async {
            let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .ok()?;
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            tcp.write_all(request.as_bytes()).await.ok()?;
            let mut answer = Vec::new();
            tcp.read_to_end(&mut answer).await.ok()?;
            let text = String::from_utf8_lossy(&answer);
            text.split(' ').nth(1)?.parse().ok()
        };
        tokio::time::timeout(PATIENCE, exchange)
            .await
            .ok()
            .flatten()
    }

    async fn connect(&self, peer: &str) -> Client {
        let url = format!(
            "ws://127.0.0.1:{}/signal?session={SESSION}&peer={peer}",
            self.port
        );
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket upgrade");
        Client { ws }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A valid candidate from `from`, numbered so that order can be checked.
fn candidate(from: &str, n: usize) -> String {
    format!(
        r#"{{"type":"candidate","sessionId":"{SESSION}","from":"{from}","candidate":{{"candidate":"candidate:{n} 1 udp 1 10.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}}}"#
    )
}

/// The number of a [`candidate`].
fn number_of(text: &str) -> usize {
    let rest = text
        .split("candidate:")
        .nth(1)
        .unwrap_or_else(|| panic!("not a numbered candidate: {text}"));
    rest.split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

/// What Redis holds for the test's session: frames queued.
async fn queued_in_redis(redis: &RedisServer) -> u64 {
    let client = redis::Client::open(redis.url()).expect("redis url");
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return 0;
    };
    let queued: Option<u64> = redis::cmd("HGET")
        .arg(format!("hc:s:{SESSION}"))
        .arg("qm")
        .query_async(&mut conn)
        .await
        .unwrap_or(None);
    queued.unwrap_or(0)
}

async fn wait_queued(redis: &RedisServer, frames: u64) {
    let deadline = Instant::now() + PATIENCE;
    while queued_in_redis(redis).await != frames {
        assert!(Instant::now() < deadline, "{frames} frames were not queued");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Receives candidates until number `last`; returns every number in arrival order.
async fn receive_through(client: &mut Client, last: usize) -> Result<Vec<usize>, Vec<usize>> {
    let mut got = Vec::new();
    loop {
        match client.next().await {
            Got::Text(text) => {
                let n = number_of(&text);
                got.push(n);
                if n == last {
                    return Ok(got);
                }
            }
            _ => return Err(got),
        }
    }
}

#[tokio::test]
async fn a_killed_node_loses_none_of_the_frames_queued_on_it() {
    let redis = RedisServer::start().await;
    let mut first = Node::start(&redis).await;
    let second = Node::start(&redis).await;

    let mut alice = first.connect(ALICE).await;
    for n in 0..10 {
        alice.send(&candidate(ALICE, n)).await;
    }
    wait_queued(&redis, 10).await;
    first.kill();

    // Bob, on the node that lives, gets all of them, in order.
    let mut bob = second.connect(BOB).await;
    let got = receive_through(&mut bob, 9).await.expect("all ten frames");
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    // Alice's place is kept: a third peer is refused; her reconnect takes it back.
    let mut carol = second.connect(CAROL).await;
    assert!(carol.recv().await.contains(SESSION_FULL));
    let started = Instant::now();
    let mut alice = second.connect(ALICE).await;
    bob.send(&candidate(BOB, 42)).await;
    assert_eq!(number_of(&alice.recv().await), 42);
    eprintln!(
        "node killed with 10 queued: 0 lost; alice back through the other node in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_killed_node_mid_stream_loses_and_reorders_nothing() {
    const FRAMES: usize = 300;
    let redis = RedisServer::start().await;
    let first = Node::start(&redis).await;
    let mut second = Node::start(&redis).await;

    let mut alice = first.connect(ALICE).await;
    let mut bob = second.connect(BOB).await;
    let sender = tokio::spawn(async move {
        for n in 0..FRAMES {
            alice.send(&candidate(ALICE, n)).await;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        // Nothing but pings may come back (no queue_full, no error).
        alice.expect_quiet(Duration::from_millis(300)).await;
    });

    let mut before = Vec::new();
    while before.len() < FRAMES / 3 {
        before.push(number_of(&bob.recv().await));
    }
    second.kill();
    let broken = Instant::now();
    let rest = receive_through(&mut bob, FRAMES - 1).await;
    let mut got = before;
    got.extend(rest.expect_err("bob's socket breaks with his node"));
    let mut bob = first.connect(BOB).await;
    let reconnected = broken.elapsed();
    let after = receive_through(&mut bob, FRAMES - 1)
        .await
        .expect("the rest after the reconnect");
    sender.await.expect("alice's sends");

    // At-least-once: frames written but not yet acknowledged come again after the
    // reconnect; apart from those, each arrives once, in order.
    let resumed_at = after[0];
    assert!(
        resumed_at <= got.last().map_or(0, |n| n + 1),
        "a gap: the first socket ended at {:?}, the second began at {resumed_at}",
        got.last()
    );
    assert!(
        got.windows(2).all(|w| w[1] == w[0] + 1),
        "in order: {got:?}"
    );
    assert!(
        after.windows(2).all(|w| w[1] == w[0] + 1),
        "in order: {after:?}"
    );
    assert_eq!(*after.last().unwrap(), FRAMES - 1);
    let again = got.len() + after.len() - FRAMES;
    eprintln!(
        "node killed mid-stream: 0 lost, 0 reordered, {again} delivered twice; bob back in {reconnected:?}"
    );
}

#[tokio::test]
async fn redis_killed_and_restarted_on_its_aof_loses_nothing() {
    let mut redis = RedisServer::start_durable().await;
    let first = Node::start(&redis).await;
    let second = Node::start(&redis).await;

    let mut alice = first.connect(ALICE).await;
    for n in 0..5 {
        alice.send(&candidate(ALICE, n)).await;
    }
    wait_queued(&redis, 5).await;
    redis.kill();

    // While Redis is down: not ready, and a new socket is told to try again later.
    first.wait_health(503).await;
    let mut refused = second.connect(BOB).await;
    assert_eq!(
        refused.next().await,
        Got::Close(Some((1013, "try again later".to_owned())))
    );

    redis.restart().await;
    let restarted = Instant::now();
    first.wait_health(200).await;
    second.wait_health(200).await;
    let ready = restarted.elapsed();
    // If the outage outlasted the heartbeat TTL, a node the other counted dead closes
    // the sockets it held on its next heartbeat (within a second): let that pass first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut bob = second.connect(BOB).await;
    let got = receive_through(&mut bob, 4).await.expect("the five frames");
    assert_eq!(got, (0..5).collect::<Vec<_>>());
    let mut alice = first.connect(ALICE).await;
    bob.send(&candidate(BOB, 7)).await;
    assert_eq!(number_of(&alice.recv().await), 7);
    eprintln!(
        "redis kill -9 and restart (AOF): 0 lost; both nodes ready {ready:?} after redis, signalling in {:?}",
        restarted.elapsed()
    );
}

/// Reads until a close frame, skipping frames still in flight, and completes the close.
async fn expect_going_away(client: &mut Client) {
    loop {
        match client.next().await {
            Got::Text(_) => continue,
            Got::Close(Some((code, _))) => {
                assert_eq!(code, 1001, "a draining node closes with 1001");
                // Reading on sends the client's reply, as a browser does at once.
                assert_eq!(client.next().await, Got::End);
                return;
            }
            other => panic!("expected 1001, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_rolling_restart_of_both_nodes_never_ends_the_call() {
    let redis = RedisServer::start().await;
    let mut first = Node::start(&redis).await;
    let mut second = Node::start(&redis).await;
    let mut alice = first.connect(ALICE).await;
    let mut bob = second.connect(BOB).await;
    let mut n = 0;
    let mut exchange = async |alice: &mut Client, bob: &mut Client| {
        alice.send(&candidate(ALICE, n)).await;
        assert_eq!(number_of(&bob.recv().await), n);
        bob.send(&candidate(BOB, n + 1)).await;
        assert_eq!(number_of(&alice.recv().await), n + 1);
        n += 2;
    };
    exchange(&mut alice, &mut bob).await;

    // The first node is deployed: Alice moves to the second, and back once it is up.
    first.terminate();
    expect_going_away(&mut alice).await;
    first.exited().await;
    let mut alice_moved = second.connect(ALICE).await;
    exchange(&mut alice_moved, &mut bob).await;
    first.spawn().await;

    // Then the second: both move to the first.
    second.terminate();
    expect_going_away(&mut alice_moved).await;
    expect_going_away(&mut bob).await;
    second.exited().await;
    let mut alice = first.connect(ALICE).await;
    let mut bob = first.connect(BOB).await;
    exchange(&mut alice, &mut bob).await;
    second.spawn().await;
    let mut bob_back = second.connect(BOB).await;
    exchange(&mut alice, &mut bob_back).await;

    // The call still ends only by a hang-up, which reaches the other node.
    bob_back.hang_up().await;
    assert!(alice.recv().await.contains("session_ended"));
    alice.expect_close(1000, "session ended").await;
}

#[tokio::test]
async fn frames_published_while_a_node_s_subscription_was_down_still_arrive_in_order() {
    let redis = RedisServer::start().await;
    let first = Node::start(&redis).await;
    let second = Node::start(&redis).await;
    let mut alice = first.connect(ALICE).await;
    let mut bob = second.connect(BOB).await;
    alice.send(&candidate(ALICE, 0)).await;
    assert_eq!(number_of(&bob.recv().await), 0, "the wake-up carries it");

    // Redis drops every subscriber: the wake-ups published now reach no node. The nodes
    // resubscribe after a pause (50 ms at first), and the frames are only in the stream.
    let client = redis::Client::open(redis.url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("a connection to the test's redis");
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .expect("CLIENT KILL");
    assert_eq!(killed, 2, "each node had one subscription");
    for n in 1..=5 {
        alice.send(&candidate(ALICE, n)).await;
    }
    let got = receive_through(&mut bob, 5)
        .await
        .expect("the frames of the outage, after the resubscription");
    assert_eq!(got, (1..=5).collect::<Vec<_>>());
    // And the wake-ups carry frames again.
    alice.send(&candidate(ALICE, 6)).await;
    assert_eq!(number_of(&bob.recv().await), 6);
}

#[tokio::test]
async fn the_turn_credential_budget_of_an_address_counts_across_nodes() {
    let redis = RedisServer::start().await;
    let options = [
        "--ice-servers",
        "stun:127.0.0.1:3478,turn:127.0.0.1:3478",
        "--turn-secret",
        "s3cret",
        "--turn-credentials-per-ip-per-minute",
        "3",
    ];
    let first = Node::start_with(&redis, &options).await;
    let second = Node::start_with(&redis, &options).await;
    // The proof: a live socket of the participant (on the first node; the first request
    // waits for its join).
    let _alice = first.connect(ALICE).await;
    let path = format!("/api/config?session={SESSION}&peer={ALICE}");
    let mut answers = Vec::new();
    for node in [&first, &second, &first, &second] {
        answers.push(node.get_status(&path).await);
    }
    assert_eq!(
        answers,
        [Some(200), Some(200), Some(200), Some(429)],
        "3 credentials a minute for one address, whichever node answers"
    );
}
