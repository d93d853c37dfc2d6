//! `shipwatch report instance` and `shipwatch tail`, the real binary against the real server.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn an_instance_report_creates_what_is_missing_and_shows_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let mut cmd = Command::new(shipwatch());
    cmd.args(["report", "instance", "--server", &server.url()])
        .args([
            "--env",
            "staging",
            "--service",
            "worker",
            "--name",
            "worker-1",
        ])
        .args([
            "--status",
            "ERROR",
            "--reason",
            "CrashLoopBackOff",
            "--restarts",
            "3",
        ])
        .args(["--version", "v42", "--kind", "container"])
        .env("SHIPWATCH_WRITE_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (code, _, stderr) = finish(cmd, LIMIT).await;
    assert_eq!(code, 0, "{stderr}");
    let env = environment(&server, "staging").await;
    let svc = env
        .services
        .iter()
        .find(|s| s.id == "worker")
        .expect("the service");
    assert_eq!(svc.kind, shipwatch_model::ServiceKind::Container);
    let inst = &svc.instances[0];
    assert_eq!(inst.name, "worker-1");
    assert_eq!(inst.status.word(), "ERROR");
    assert_eq!(inst.reason.as_deref(), Some("CrashLoopBackOff"));
    assert_eq!((inst.restarts, inst.version.as_str()), (3, "v42"));

    // Without a token: refused, said, exit 1.
    let mut cmd = Command::new(shipwatch());
    cmd.args(["report", "instance", "--server", &server.url()])
        .args([
            "--env",
            "staging",
            "--service",
            "worker",
            "--name",
            "worker-1",
        ])
        .env_remove("SHIPWATCH_WRITE_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (code, _, stderr) = finish(cmd, LIMIT).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("401"), "{stderr}");
}

#[tokio::test]
async fn tail_prints_a_deployments_log_as_the_page_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let failing = script(
        dir.path(),
        "d.sh",
        "echo '--- build'; echo compiled; echo '+++ deploy'; printf '\\033[31mboom\\033[0m\\n'; exit 1\n",
    );
    let (code, _, stderr) = finish(deploy(&server, &[], &[failing.to_str().unwrap()]), LIMIT).await;
    assert_eq!(code, 1, "{stderr}");
    let id = announced_id(&stderr);
    let page = format!(
        "{}/env/production/service/api/deployments/{id}/logs",
        server.url()
    );
    let mut cmd = Command::new(shipwatch());
    cmd.args(["tail", &page])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (code, stdout, stderr) = finish(cmd, Duration::from_secs(20)).await;
    assert_eq!(code, 1, "an ended deployment that failed: {stderr}");
    // Not a terminal: no colour, and the error line says it is one.
    assert_eq!(stdout, "--- build\ncompiled\n+++ deploy\nerror: boom\n");
    assert!(
        stderr.contains("== stage build") && stderr.contains("== DEPLOYMENT ERROR"),
        "{stderr}"
    );

    // A live one: tail follows it until it ends.
    let live = script(
        dir.path(),
        "live.sh",
        "echo start; sleep 1.5; echo middle; sleep 1; echo end\n",
    );
    let child = deploy(&server, &["--id", "live-1"], &[live.to_str().unwrap()])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut cmd = Command::new(shipwatch());
    cmd.args(["tail", &server.url(), "--id", "live-1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (code, stdout, stderr) = finish(cmd, Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "start\nmiddle\nend\n");
    let _ = child.wait_with_output();

    // No such deployment: said, exit 2.
    let mut cmd = Command::new(shipwatch());
    cmd.args(["tail", &server.url(), "--id", "nope"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (code, _, stderr) = finish(cmd, Duration::from_secs(20)).await;
    assert_eq!(code, 2, "{stderr}");
}

#[tokio::test]
async fn tail_follows_a_live_log_across_a_server_restart_printing_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"), &[]);
    let slow = script(
        dir.path(),
        "slow.sh",
        "i=1; while [ $i -le 40 ]; do echo \"step $i\"; sleep 0.1; i=$((i+1)); done\n",
    );
    let reporter = deploy(&server, &["--id", "live-2"], &[slow.to_str().unwrap()])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut cmd = Command::new(shipwatch());
    cmd.args(["tail", &server.url(), "--id", "live-2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let tail = cmd.spawn().unwrap();
    let tailing = tokio::task::spawn_blocking(move || tail.wait_with_output());
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    server.restart();
    let out = tokio::time::timeout(LIMIT, tailing)
        .await
        .expect("tail ends with the deployment")
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("reconnecting"),
        "the tail met the restart: {stderr}"
    );
    let want: String = (1..=40).map(|i| format!("step {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    let _ = reporter.wait_with_output();
}
