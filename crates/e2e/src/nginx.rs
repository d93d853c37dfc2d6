//! nginx (Debian's `nginx`, 1.22) in front of real servers, configured by the repository's
//! `deploy/nginx.conf` filled in as `deploy/nginx-conf.sh` does: a listening address on a free
//! port, one upstream line per replica. It runs in the foreground (`daemon off`) with its own
//! prefix directory in the temporary directory (config, pid, logs, temporary files), and is
//! stopped, its directory removed, when dropped.

use crate::{free_port, procs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The placeholder of the address nginx listens on.
pub const LISTEN: &str = "{{listen}}";

/// The placeholder of one replica's `host:port`; its line is repeated per replica.
pub const REPLICA: &str = "{{replica}}";

/// The repository's nginx configuration template.
pub fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx.conf")
}

/// The nginx binary: `NGINX`, else Debian's.
pub fn binary() -> PathBuf {
    std::env::var_os("NGINX").map_or_else(|| "/usr/sbin/nginx".into(), Into::into)
}

/// The template with `listen` for [`LISTEN`] and each line holding [`REPLICA`] repeated once
/// per replica; comment lines are kept as they are. An error when a placeholder is missing
/// from the template or there is no replica.
pub fn fill(template: &str, listen: &str, replicas: &[String]) -> Result<String, String> {
    if replicas.is_empty() {
        return Err("nginx needs at least one replica".into());
    }
    let mut out = String::with_capacity(template.len() + 64 * replicas.len());
    let (mut saw_listen, mut saw_replica) = (false, false);
    for line in template.lines() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
        } else if line.contains(REPLICA) {
            saw_replica = true;
            for (i, r) in replicas.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&line.replace(REPLICA, r));
            }
        } else {
            saw_listen |= line.contains(LISTEN);
            out.push_str(&line.replace(LISTEN, listen));
        }
        out.push('\n');
    }
    match (saw_listen, saw_replica) {
        (true, true) => Ok(out),
        _ => Err(format!(
            "the nginx template lacks {LISTEN} or {REPLICA} outside comments"
        )),
    }
}

/// A running nginx; stopped when dropped.
pub struct Nginx {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx on a free port of 127.0.0.1 in front of `replicas` (`host:port` each),
    /// and waits until it accepts connections.
    pub fn start(replicas: &[String]) -> Result<Nginx, String> {
        Self::start_with(replicas, "")
    }

    /// [`Nginx::start`] with more main-context directives given on the command line (`-g`),
    /// e.g. `worker_rlimit_nofile 20000;` for thousands of websockets.
    pub fn start_with(replicas: &[String], globals: &str) -> Result<Nginx, String> {
        Self::start_at(free_port(), replicas, globals)
    }

    /// [`Nginx::start_with`] on `port`: a new nginx where a stopped one listened, so pages
    /// reconnect to the replicas it names (a load balancer whose set of replicas changed).
    pub fn start_at(port: u16, replicas: &[String], globals: &str) -> Result<Nginx, String> {
        let template = std::fs::read_to_string(template_path())
            .map_err(|e| format!("{}: {e}", template_path().display()))?;
        let conf = fill(&template, &format!("127.0.0.1:{port}"), replicas)?;
        let dir =
            std::env::temp_dir().join(format!("shipwatch-nginx-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["logs", "tmp"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // Workers run as another user when nginx starts as root: they must reach the
        // temporary directories (nginx gives them the ones below `tmp`).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let open = std::fs::Permissions::from_mode(0o755);
            let _ = std::fs::set_permissions(&dir, open.clone());
            let _ = std::fs::set_permissions(dir.join("tmp"), open);
        }
        let file = dir.join("nginx.conf");
        std::fs::write(&file, conf).map_err(|e| format!("{}: {e}", file.display()))?;
        let child = Command::new(binary())
            // nginx reads NGINX itself (sockets inherited across a binary upgrade): the
            // variable naming its binary here is not for it.
            .env_remove("NGINX")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&file)
            .arg("-g")
            .arg(format!("daemon off; {globals}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {} (Debian: apt-get install nginx): {e}",
                    binary().display()
                )
            })?;
        let mut nginx = Nginx {
            child: Some(child),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(Ok(Some(status))) = nginx.child.as_mut().map(Child::try_wait) {
                return Err(format!(
                    "nginx exited before listening ({status}): {}",
                    nginx.error_log()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("nginx did not listen: {}", nginx.error_log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(nginx)
    }

    /// The URL of `path` through nginx.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What nginx wrote to its error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }

    /// Its access log so far (one line a request: client, method and path, status,
    /// `upstream=` the replica that answered).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/access.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM: the master stops its workers; SIGKILL would leave them serving.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for (pid, _) in procs::descendants(child.id()) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repositorys_template_fills_in_every_placeholder() {
        let template = std::fs::read_to_string(template_path()).expect("deploy/nginx.conf");
        let replicas = vec!["127.0.0.1:9001".to_string(), "127.0.0.1:9002".to_string()];
        let conf = fill(&template, "127.0.0.1:9000", &replicas).expect("filled");
        let live: Vec<&str> = conf
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        assert!(live.iter().all(|l| !l.contains("{{")), "{conf}");
        assert!(live.iter().any(|l| l.trim() == "listen 127.0.0.1:9000;"));
        for r in &replicas {
            assert_eq!(
                live.iter()
                    .filter(|l| l.trim_start().starts_with(&format!("server {r} ")))
                    .count(),
                1,
                "{r}"
            );
        }
        assert!(fill(&template, "x", &[]).is_err());
        assert!(fill("listen {{listen}};", "x", &replicas).is_err());
    }
}
