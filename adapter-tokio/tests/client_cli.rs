//! The `mqtt pub` and `mqtt sub` binaries against a real mosquitto broker.

mod support;

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use support::{KillOnDrop, Mosquitto, start_mosquitto};
use tokio::sync::{mpsc, oneshot};

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out")
}

/// A running `mqtt` process. Its output is read by plain threads, so nothing blocks the
/// runtime, and it is killed if the test ends first.
struct Cli {
    child: KillOnDrop,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: oneshot::Receiver<String>,
}

impl Cli {
    fn spawn(args: &[&str], stdin: Option<&str>) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mqtt"))
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mqtt");
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes()).expect("write stdin");
        }
        let (line_tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (stderr_tx, stderr) = oneshot::channel();
        let mut pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = stderr_tx.send(text);
        });
        Self {
            child: KillOnDrop(child),
            lines,
            stderr,
        }
    }

    async fn line(&mut self) -> String {
        self.lines.recv().await.expect("mqtt ended its output")
    }

    /// Waits for the process to exit; its status, remaining stdout lines and stderr.
    async fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        let status = loop {
            if let Some(status) = self.child.0.try_wait().expect("poll mqtt") {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut rest = Vec::new();
        while let Some(line) = self.lines.recv().await {
            rest.push(line);
        }
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        (status, rest, stderr)
    }
}

fn connection(broker: &Mosquitto, version: &str) -> Vec<String> {
    let port = broker.port().to_string();
    ["-h", "127.0.0.1", "-p", &port, "-V", version]
        .map(String::from)
        .to_vec()
}

async fn run(args: &[String], stdin: Option<&str>) -> (ExitStatus, Vec<String>, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Cli::spawn(&args, stdin).finish().await
}

/// `command`, then the connection options, then `more`.
fn with(conn: &[String], command: &str, more: &[&str]) -> Vec<String> {
    std::iter::once(command.to_owned())
        .chain(conn.iter().cloned())
        .chain(more.iter().map(|s| s.to_string()))
        .collect()
}

#[tokio::test]
async fn sub_prints_messages_and_exits_after_the_count() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        for version in ["311", "5"] {
            let conn = connection(&broker, version);
            let a = format!("cli/{version}/a");
            let b = format!("cli/{version}/b");
            // A retained message tells us when the subscriber is in place.
            let (status, _, stderr) = run(
                &with(&conn, "pub", &["-t", &a, "-m", "first", "-r", "-q", "1"]),
                None,
            )
            .await;
            assert!(status.success(), "{stderr}");

            let sub = with(
                &conn,
                "sub",
                &["-t", &a, "-t", &b, "-v", "-C", "2", "-q", "1"],
            );
            let mut sub = Cli::spawn(&sub.iter().map(String::as_str).collect::<Vec<_>>(), None);
            assert_eq!(sub.line().await, format!("{a} first"));

            let (status, _, stderr) = run(
                &with(&conn, "pub", &["-t", &b, "-m", "second", "-q", "2"]),
                None,
            )
            .await;
            assert!(status.success(), "{stderr}");
            let (status, rest, stderr) = sub.finish().await;
            assert!(status.success(), "{stderr}");
            assert_eq!(rest, [format!("{b} second")]);
        }
    })
    .await;
}

#[tokio::test]
async fn pub_sends_lines_null_messages_and_files() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        let conn = connection(&broker, "5");
        let run_pub = |more: &[&str], stdin: Option<&'static str>| {
            let args = with(&conn, "pub", more);
            async move {
                let (status, _, stderr) = run(&args, stdin).await;
                assert!(status.success(), "{stderr}");
            }
        };
        run_pub(&["-t", "ready", "-m", "ready", "-r"], None).await;
        let sub = with(&conn, "sub", &["-t", "ready", "-t", "data/#", "-C", "6"]);
        let mut sub = Cli::spawn(&sub.iter().map(String::as_str).collect::<Vec<_>>(), None);
        assert_eq!(sub.line().await, "ready");

        run_pub(
            &["-t", "data/lines", "-l", "-q", "1"],
            Some("one\n\ntwo\nthree\n"),
        )
        .await;
        run_pub(&["-t", "data/null", "-n"], None).await;
        let file = std::env::temp_dir().join(support::unique_id("payload"));
        std::fs::write(&file, "from a file").unwrap();
        run_pub(&["-t", "data/file", "-f", file.to_str().unwrap()], None).await;
        let _ = std::fs::remove_file(&file);

        let (status, rest, stderr) = sub.finish().await;
        assert!(status.success(), "{stderr}");
        assert_eq!(rest, ["one", "two", "three", "", "from a file"]);
    })
    .await;
}

#[tokio::test]
async fn failures_exit_non_zero_with_a_message() {
    let port = support::free_port().to_string();
    bounded(async {
        let args = ["pub", "-h", "127.0.0.1", "-p", &port, "-t", "t", "-m", "x"].map(String::from);
        let (status, _, stderr) = run(&args, None).await;
        assert_eq!(status.code(), Some(1));
        assert!(stderr.starts_with("Error: "), "{stderr}");

        let args = ["sub", "-h", "127.0.0.1", "-p", &port, "-t", "t"].map(String::from);
        let (status, _, stderr) = run(&args, None).await;
        assert_eq!(status.code(), Some(1));
        assert!(stderr.starts_with("Error: "), "{stderr}");

        // Invalid options are refused before connecting.
        let args = ["pub", "-p", &port, "-t", "a/+", "-m", "x", "-c"].map(String::from);
        let (status, _, stderr) = run(&args, None).await;
        assert_eq!(status.code(), Some(1));
        assert!(stderr.contains("-c"), "{stderr}");
    })
    .await;

    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        let conn = connection(&broker, "311");
        let (status, _, stderr) = run(&with(&conn, "pub", &["-t", "a/+", "-m", "x"]), None).await;
        assert_eq!(status.code(), Some(1));
        assert!(stderr.contains("invalid topic"), "{stderr}");

        let (status, _, stderr) = run(&with(&conn, "sub", &["-t", "quiet", "-W", "1"]), None).await;
        assert_eq!(status.code(), Some(27));
        assert!(stderr.contains("Timed out"), "{stderr}");
    })
    .await;
}
