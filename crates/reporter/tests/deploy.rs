//! `shipwatch deploy` as a CI job runs it: the real binary around real shell scripts,
//! reporting to the real server binary (`--no-simulator`, a write token, a data directory).

mod support;

use shipwatch_model::LogLevel;
use std::time::Duration;
use support::*;

const LIMIT: Duration = Duration::from_secs(60);

/// The staged script of the issue: a build section, then a deploy section that fails.
const STAGED: &str = r#"
printf '\033[0Ksection_start:%s:build[collapsed=true]\r\033[0KBuilding the image\n' "$(date +%s)"
i=1
while [ $i -le 200 ]; do echo "Step $i/200"; i=$((i+1)); done
sleep 0.3
echo "warning: cache miss for layer 3" >&2
sleep 0.3
printf 'caf\303\251 \377 bytes\n'
printf '\033[32mgreen\033[0m\n'
printf '\033[0Ksection_end:%s:build\r\033[0K\n' "$(date +%s)"
printf '\033[0Ksection_start:%s:deploy\r\033[0KRolling out\n' "$(date +%s)"
echo "api-1 started"
sleep 0.3
echo "error: api-2 readiness probe failed: connection refused" >&2
sleep 0.3
exit 3
"#;

#[tokio::test]
async fn every_line_arrives_once_in_order_with_its_stage_and_level_and_the_end_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let script = script(dir.path(), "deploy.sh", STAGED);
    let (code, stdout, stderr) =
        finish(deploy(&server, &[], &[script.to_str().unwrap()]), LIMIT).await;
    assert_eq!(code, 3, "the command's own exit code: {stderr}");
    // The job's own log keeps the output.
    assert!(stdout.contains("Step 200/200"), "{stdout}");
    assert!(
        stderr.contains("error: api-2 readiness probe failed"),
        "{stderr}"
    );

    let id = announced_id(&stderr);
    let mut want: Vec<(&str, &str, LogLevel)> =
        vec![("Building the image", "build", LogLevel::Info)];
    let steps: Vec<String> = (1..=200).map(|i| format!("Step {i}/200")).collect();
    for s in &steps {
        want.push((s, "build", LogLevel::Info));
    }
    want.extend([
        (
            "warning: cache miss for layer 3",
            "build",
            LogLevel::Warning,
        ),
        ("café \u{fffd} bytes", "build", LogLevel::Info),
        ("\u{1b}[32mgreen\u{1b}[0m", "build", LogLevel::Info),
        ("Rolling out", "deploy", LogLevel::Info),
        ("api-1 started", "deploy", LogLevel::Info),
        (
            "error: api-2 readiness probe failed: connection refused",
            "deploy",
            LogLevel::Error,
        ),
    ]);
    let (header, lines, statuses) = read_log_statuses(&server, &id, want.len() as u64).await;
    let got: Vec<(u64, &str, &str, LogLevel)> = lines
        .iter()
        .map(|l| (l.n, l.text.as_str(), l.stage.as_str(), l.level))
        .collect();
    let want: Vec<(u64, &str, &str, LogLevel)> = want
        .into_iter()
        .enumerate()
        .map(|(i, (t, s, l))| (i as u64 + 1, t, s, l))
        .collect();
    assert_eq!(got, want);
    assert_eq!(header.status.word(), "DEPLOYMENT ERROR");
    assert_eq!(
        statuses,
        ["QUEUED", "BUILDING", "DEPLOYING", "DEPLOYMENT ERROR"],
        "the log's history"
    );
    assert_eq!(header.triggered_by.as_deref(), Some(TOKEN_NAME));
    let s = standing(&server, &id).await;
    assert_eq!(s["next_line"], want.len() as u64 + 1, "{s}");
    assert_eq!(s["stage"], "deploy", "{s}");
}

#[tokio::test]
async fn the_exit_code_and_the_failing_stage_give_the_final_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    // (script, flags, exit code, final status)
    let cases: [(&str, &[&str], i32, &str); 5] = [
        ("echo deployed", &[], 0, "DEPLOYMENT OK"),
        (
            "echo '--- :hammer: Build'; echo 'cc: error' >&2; exit 2",
            &[],
            2,
            "BUILDING ERROR",
        ),
        (
            "echo compiling; exit 1",
            &["--stage", "build"],
            1,
            "BUILDING ERROR",
        ),
        (
            "echo '+++ Deploy'; exit 7",
            &["--stage", "build"],
            7,
            "DEPLOYMENT ERROR",
        ),
        ("kill -9 $$", &[], 137, "DEPLOYMENT ERROR"),
    ];
    for (i, (body, flags, code, status)) in cases.into_iter().enumerate() {
        let script = script(dir.path(), &format!("case{i}.sh"), body);
        let (got, _, stderr) =
            finish(deploy(&server, flags, &[script.to_str().unwrap()]), LIMIT).await;
        assert_eq!(got, code, "case {i}: {body}: {stderr}");
        let id = announced_id(&stderr);
        let s = standing(&server, &id).await;
        let word = s["deployment"]["status"]
            .as_str()
            .unwrap()
            .replace('_', " ");
        assert_eq!(word, status, "case {i}: {body}: {s}");
    }
    // A command that cannot run: the shell's 127, reported as an error with the reason.
    let (got, _, stderr) = finish(deploy(&server, &[], &["/nonexistent/deploy"]), LIMIT).await;
    assert_eq!(got, 127, "{stderr}");
    let id = announced_id(&stderr);
    let (header, lines) = read_log(&server, &id, 1).await;
    assert_eq!(header.status.word(), "DEPLOYMENT ERROR");
    assert!(
        lines[0].text.contains("cannot run /nonexistent/deploy"),
        "{lines:?}"
    );
    assert_eq!(lines[0].level, LogLevel::Error);
}

#[tokio::test]
async fn a_server_killed_and_restarted_mid_run_ends_with_every_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"), &[]);
    const N: u64 = 600;
    let script = script(
        dir.path(),
        "slow.sh",
        &format!(
            "echo '--- build'\ni=1\nwhile [ $i -le {N} ]; do echo \"line $i of a long build\"; \
             if [ $((i % 20)) -eq 0 ]; then sleep 0.1; fi; i=$((i+1)); done\n"
        ),
    );
    let child = deploy(&server, &[], &[script.to_str().unwrap()])
        .spawn()
        .expect("runs");
    let run = tokio::task::spawn_blocking(move || child.wait_with_output());
    // Let some lines through, then take the server away (no clean stop) and bring it back.
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart();
    let out = tokio::time::timeout(LIMIT, run)
        .await
        .expect("in time")
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("is away"),
        "the run did meet the outage: {stderr}"
    );
    let id = announced_id(&stderr);
    let (header, lines) = read_log(&server, &id, N + 1).await;
    let numbers: Vec<u64> = lines.iter().map(|l| l.n).collect();
    assert_eq!(
        numbers,
        (1..=N + 1).collect::<Vec<_>>(),
        "every number once, in order"
    );
    for l in &lines[1..] {
        assert_eq!(l.text, format!("line {} of a long build", l.n - 1));
    }
    assert_eq!(header.status.word(), "DEPLOYMENT OK");
    let s = standing(&server, &id).await;
    assert_eq!(s["next_line"], N + 2, "{s}");
}

#[tokio::test]
async fn a_server_that_comes_up_after_the_job_started_gets_everything() {
    let dir = tempfile::tempdir().unwrap();
    // Reserve a port and the data directory, start the server later.
    let mut server = Server::start(&dir.path().join("data"), &[]);
    server.kill();
    let script = script(
        dir.path(),
        "early.sh",
        "echo one; echo two >&2; sleep 0.2; echo three\n",
    );
    let child = deploy(&server, &[], &[script.to_str().unwrap()])
        .spawn()
        .unwrap();
    let run = tokio::task::spawn_blocking(move || child.wait_with_output());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart();
    let out = tokio::time::timeout(LIMIT, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = announced_id(&stderr);
    let (header, lines) = read_log(&server, &id, 3).await;
    let mut texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(texts, ["one", "three", "two"]);
    assert_eq!(header.status.word(), "DEPLOYMENT OK");
    // The environment and the service did not exist: the reporter created them.
    let env = environment(&server, "production").await;
    assert!(env.services.iter().any(|s| s.id == "api"), "{env:?}");
}

#[tokio::test]
async fn the_token_stays_out_of_the_process_list_the_output_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let marker = dir.path().join("running");
    let script = script(
        dir.path(),
        "env.sh",
        &format!("env\ntouch {}\nsleep 1\necho done\n", marker.display()),
    );
    let child = deploy(&server, &[], &[script.to_str().unwrap()])
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = tokio::task::spawn_blocking(move || child.wait_with_output());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !marker.exists() {
        assert!(std::time::Instant::now() < deadline, "the script runs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every process's command line, the reporter's and its command's included.
    let mut seen = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd);
            assert!(!cmd.contains(TOKEN), "{cmd}");
            if entry.file_name().to_str() == Some(&pid.to_string()) {
                assert!(cmd.contains("deploy"), "{cmd}");
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 1, "the reporter's command line was read");
    let out = tokio::time::timeout(LIMIT, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    assert!(
        stdout.contains("PATH="),
        "the script printed its environment: {stdout}"
    );
    let id = announced_id(&stderr);
    let standing = standing(&server, &id).await;
    let n = standing["next_line"].as_u64().unwrap() - 1;
    let (_, lines) = read_log(&server, &id, n).await;
    assert!(lines.iter().any(|l| l.text.starts_with("PATH=")));
    assert!(
        lines.iter().all(|l| !l.text.contains(TOKEN)),
        "the command does not inherit it"
    );

    // A wrong token: the command still runs and gives its code; the server's refusal is said,
    // the token is not.
    let wrong = "wrong-token-0123456789abcdef";
    let mut cmd = deploy(&server, &[], &["sh", "-c", "echo hi; exit 4"]);
    cmd.env("SHIPWATCH_WRITE_TOKEN", wrong);
    let (code, stdout, stderr) = finish(cmd, LIMIT).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stdout.contains("hi"));
    assert!(stderr.contains("401"), "{stderr}");
    assert!(!stderr.contains(wrong) && !stdout.contains(wrong));
}

#[tokio::test]
async fn sigterm_stops_the_command_and_its_children_and_reports_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let pidfile = dir.path().join("sleep.pid");
    let script = script(
        dir.path(),
        "long.sh",
        &format!(
            "echo '--- build'\nsleep 60 &\necho $! > {}\necho building\nwait\necho never\n",
            pidfile.display()
        ),
    );
    let child = deploy(&server, &[], &[script.to_str().unwrap()])
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = tokio::task::spawn_blocking(move || child.wait_with_output());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&pidfile).map_or(true, |s| s.trim().is_empty()) {
        assert!(std::time::Instant::now() < deadline, "the script runs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sleep_pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the reporter stops soon after SIGTERM")
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(143),
        "as a shell gives for SIGTERM: {stderr}"
    );
    // Gone, or a zombie nobody reaped yet (a container's first process may not reap).
    let stat = std::fs::read_to_string(format!("/proc/{sleep_pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next();
    assert!(
        state.is_none() || state == Some("Z"),
        "the command's own child was stopped too: {stat}"
    );
    let id = announced_id(&stderr);
    let (header, lines, statuses) = read_log_statuses(&server, &id, 3).await;
    assert_eq!(
        statuses,
        ["QUEUED", "BUILDING", "CANCELLING BUILDING", "CANCELLED"]
    );
    assert_eq!(header.status.word(), "CANCELLED");
    assert!(lines.iter().all(|l| l.text != "never"));
    assert!(
        lines.last().unwrap().text.contains("cancelled (SIGTERM)"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn two_commands_report_one_deployment_with_the_same_id_and_keep_open() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let build = script(
        dir.path(),
        "build.sh",
        "echo compiled one; echo compiled two\n",
    );
    let ship = script(dir.path(), "ship.sh", "echo rolled out\n");
    let (code, _, stderr) = finish(
        deploy(
            &server,
            &["--id", "pipeline-7", "--stage", "build", "--keep-open"],
            &[build.to_str().unwrap()],
        ),
        LIMIT,
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let s = standing(&server, "pipeline-7").await;
    assert_eq!(s["deployment"]["status"], "BUILDING", "left open: {s}");
    let (code, _, stderr) = finish(
        deploy(
            &server,
            &["--id", "pipeline-7", "--stage", "deploy"],
            &[ship.to_str().unwrap()],
        ),
        LIMIT,
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let (header, lines, statuses) = read_log_statuses(&server, "pipeline-7", 3).await;
    let got: Vec<(u64, &str, &str)> = lines
        .iter()
        .map(|l| (l.n, l.text.as_str(), l.stage.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "compiled one", "build"),
            (2, "compiled two", "build"),
            (3, "rolled out", "deploy")
        ],
        "the second command's lines follow the first's"
    );
    assert_eq!(header.status.word(), "DEPLOYMENT OK");
    assert_eq!(
        statuses,
        ["QUEUED", "BUILDING", "DEPLOYING", "DEPLOYMENT OK"]
    );
}

#[tokio::test]
async fn with_the_server_gone_the_reporter_gives_up_after_the_flush_timeout_or_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"), &[]);
    server.kill();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = finish(
        deploy(
            &server,
            &["--flush-timeout", "2"],
            &["sh", "-c", "echo hi; exit 5"],
        ),
        LIMIT,
    )
    .await;
    assert_eq!(code, 5, "the command's code all the same: {stderr}");
    assert!(stdout.contains("hi"));
    assert!(stderr.contains("gave up"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));

    // The default wait is minutes: SIGTERM ends it at once.
    let child = deploy(&server, &[], &["sh", "-c", "echo hi; exit 5"])
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = tokio::task::spawn_blocking(move || child.wait_with_output());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("SIGTERM ends the wait")
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gave up"));
}

#[tokio::test]
async fn while_the_server_is_away_output_past_the_memory_buffer_waits_on_disk_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("spill");
    std::fs::create_dir_all(&spill).unwrap();
    let mut server = Server::start(&dir.path().join("data"), &[]);
    server.kill();
    let spill_arg = spill.display().to_string();
    let child = deploy(
        &server,
        &["--buffer-bytes", "4096", "--spill-dir", &spill_arg],
        &[
            "sh",
            "-c",
            "i=1; while [ $i -le 3000 ]; do echo \"line $i\"; i=$((i+1)); done",
        ],
    )
    .spawn()
    .unwrap();
    let run = tokio::task::spawn_blocking(move || child.wait_with_output());
    // The command is done long before the server is back: its output is on disk.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let spilled = loop {
        let size: u64 = std::fs::read_dir(&spill)
            .unwrap()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        if size > 50_000 {
            break size;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "output spills to disk"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    server.restart();
    let out = tokio::time::timeout(LIMIT, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = announced_id(&stderr);
    let (_, lines) = read_log(&server, &id, 3000).await;
    let texts: Vec<String> = lines.iter().map(|l| l.text.clone()).collect();
    let want: Vec<String> = (1..=3000).map(|i| format!("line {i}")).collect();
    assert_eq!(texts, want, "{spilled} bytes came back from disk in order");
    assert_eq!(
        std::fs::read_dir(&spill).unwrap().count(),
        0,
        "the spill file is removed once drained"
    );
}

#[tokio::test]
async fn in_a_gitlab_job_the_version_trigger_link_and_id_come_from_its_variables() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let mut cmd = std::process::Command::new(shipwatch());
    cmd.args([
        "deploy",
        "--env",
        "production",
        "--service",
        "api",
        "--",
        "true",
    ])
    .env("SHIPWATCH_SERVER", server.url())
    .env("SHIPWATCH_WRITE_TOKEN", TOKEN)
    .env("GITLAB_CI", "true")
    .env("CI_JOB_ID", "4242")
    .env("CI_COMMIT_SHORT_SHA", "9f3c2a1b")
    .env("GITLAB_USER_LOGIN", "jdoe")
    .env(
        "CI_JOB_URL",
        "https://gitlab.example.com/acme/api/-/jobs/4242",
    )
    .env_remove("GITHUB_ACTIONS")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let (code, _, stderr) = finish(cmd, LIMIT).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(announced_id(&stderr), "gl-4242-production-api");
    let s = standing(&server, "gl-4242-production-api").await;
    let d = &s["deployment"];
    assert_eq!(d["version"], "9f3c2a1b", "{s}");
    assert_eq!(d["triggered_by"], "jdoe", "{s}");
    assert_eq!(
        d["url"], "https://gitlab.example.com/acme/api/-/jobs/4242",
        "{s}"
    );
    assert_eq!(d["status"], "DEPLOYMENT_OK", "{s}");
}
