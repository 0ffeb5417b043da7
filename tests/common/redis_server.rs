//! A real `redis-server` (Debian's) of a test's own, on a free loopback port, stopped by
//! PID on `Drop`. `scripts/setup.sh` installs it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use homecall::hub::redis::RedisSettings;

pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// Append-only file on: what Redis acknowledged survives a kill -9.
    aof: bool,
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

impl RedisServer {
    /// Starts one without persistence.
    pub async fn start() -> Self {
        Self::start_with(free_port(), false, None).await
    }

    /// Starts one with the append-only file on (fsync always), in `dir` if given.
    pub async fn start_durable() -> Self {
        Self::start_with(free_port(), true, None).await
    }

    async fn start_with(port: u16, aof: bool, dir: Option<PathBuf>) -> Self {
        let dir = dir.unwrap_or_else(|| {
            let dir =
                std::env::temp_dir().join(format!("homecall-redis-{port}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a folder for redis");
            dir
        });
        let mut server = Self {
            port,
            dir,
            child: None,
            aof,
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.aof {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        let child = command
            .spawn()
            .expect("redis-server runs (scripts/setup.sh installs Debian's redis-server)");
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Waits until the server answers PING (and has loaded its data).
    async fn wait_ready(&self) {
        let client = redis::Client::open(self.url()).expect("redis url");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut conn).await;
                if pong.is_ok() {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server on port {} did not start",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn settings(&self) -> RedisSettings {
        RedisSettings {
            url: self.url(),
            prefix: "hc:".to_owned(),
        }
    }

    /// kill -9: nothing is flushed beyond what the append-only file already holds.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and folder (with AOF, with the same data).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
