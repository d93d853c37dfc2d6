//! The real feed server as a child process.

use crate::{env_path, free_port, wait_for};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A running server; killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    args: Vec<String>,
}

impl Server {
    /// Starts the server with the built app and these extra flags, and waits until it answers.
    pub async fn start(args: &[&str]) -> Server {
        Self::start_on(free_port(), args).await
    }

    /// Starts on a given port (to restart on the same address).
    pub async fn start_on(port: u16, args: &[&str]) -> Server {
        let mut all = vec![
            "--dist".to_string(),
            env_path("SHIPWATCH_DIST").display().to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        Self::spawn(port, all).await
    }

    /// Starts serving another copy of the app (`--dist` given in `args`).
    pub async fn start_serving(dist: &std::path::Path, args: &[&str]) -> Server {
        let mut all = vec!["--dist".to_string(), dist.display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        Self::spawn(free_port(), all).await
    }

    async fn spawn(port: u16, args: Vec<String>) -> Server {
        // A new world at every start unless the test names a data directory to keep.
        let ephemeral = (!args.iter().any(|a| a == "--data-dir")).then_some("--ephemeral");
        let child = Command::new(env_path("SHIPWATCH_SERVER_BIN"))
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .args(ephemeral)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the server starts");
        let server = Server {
            child: Some(child),
            port,
            args,
        };
        wait_for("the server to listen", Duration::from_secs(20), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        server
    }

    /// The page's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Kills the server (as a crash or a restart would).
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
            let _ = c.wait().await;
        }
    }

    /// Starts it again on the same port with the same flags.
    pub async fn restart(&mut self) {
        self.stop().await;
        let fresh = Server::spawn(self.port, self.args.clone()).await;
        *self = fresh;
    }
}
