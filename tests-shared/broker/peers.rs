//! Interoperability with the Debian `mosquitto_pub` and `mosquitto_sub` clients, for MQTT
//! 3.1 (`-V 31`), 3.1.1 (`-V 311`) and 5.0 (`-V 5`).
//!
//! The subscribers run with `-d`, whose debug lines tell when the SUBACK arrived (so a
//! publication is never raced against its subscription) and show the packets of each QoS
//! flow, and with `-F 'MSG %q %r %t %p'`, which prints QoS, retain flag, topic and payload.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::support::{Proc, TestBroker, peer, run_ok, within};

const FORMAT: &str = "MSG %q %r %t %p";

struct Mosquitto {
    /// mosquitto's clients flush stdout only after a message, not after `-d` lines:
    /// `stdbuf -oL` makes the pipe line-buffered.
    stdbuf: PathBuf,
    sub: PathBuf,
    publish: PathBuf,
    port: String,
    version: &'static str,
}

impl Mosquitto {
    fn find(broker: &TestBroker, version: &'static str) -> Option<Self> {
        Some(Self {
            sub: peer("mosquitto_sub")?,
            publish: peer("mosquitto_pub")?,
            stdbuf: peer("stdbuf")?,
            port: broker.port().to_string(),
            version,
        })
    }

    fn common(&self, program: &PathBuf) -> Command {
        let mut cmd = Command::new(&self.stdbuf);
        cmd.arg("-oL").arg(program);
        cmd.args(["-h", "127.0.0.1", "-p", &self.port, "-V", self.version]);
        cmd
    }

    /// `mosquitto_sub -d -F FORMAT` with `args`.
    fn sub_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.common(&self.sub);
        cmd.args(["-d", "-F", FORMAT]).args(args);
        cmd
    }

    /// Starts a subscriber and waits for its SUBACK.
    async fn subscriber(&self, args: &[&str]) -> Proc {
        let mut sub = Proc::spawn(&mut self.sub_cmd(args));
        sub.expect_contains("received SUBACK").await;
        sub
    }

    /// Runs `mosquitto_pub -d` with `args` to completion; returns its debug output.
    async fn publish(&self, args: &[&str]) -> String {
        let mut cmd = self.common(&self.publish);
        cmd.arg("-d").args(args);
        run_ok(&mut cmd).await
    }
}

/// A subscriber at QoS 2 gets a publication of each QoS at that QoS, and each side runs
/// the matching acknowledgement flow.
async fn qos_levels(version: &'static str) {
    let broker = TestBroker::tcp().await;
    let Some(m) = Mosquitto::find(&broker, version) else {
        return;
    };
    within(30, async {
        let topic = format!("qos/v{version}");
        let mut sub = m.subscriber(&["-t", &topic, "-q", "2"]).await;
        for qos in ["0", "1", "2"] {
            let payload = format!("payload at qos {qos}");
            let out = m.publish(&["-t", &topic, "-q", qos, "-m", &payload]).await;
            match qos {
                "0" => assert!(!out.contains("received PUB"), "{out}"),
                "1" => assert!(out.contains("received PUBACK"), "{out}"),
                _ => {
                    assert!(out.contains("received PUBREC"), "{out}");
                    assert!(out.contains("received PUBCOMP"), "{out}");
                }
            }
            let line = sub.expect_contains("MSG ").await;
            assert_eq!(line, format!("MSG {qos} 0 {topic} {payload}"));
        }
        // The QoS 2 delivery went through PUBREC / PUBREL / PUBCOMP on the subscriber side.
        let log = sub.transcript();
        assert!(log.contains("sending PUBACK"), "{log}");
        assert!(log.contains("received PUBREL"), "{log}");
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_qos_levels_v31() {
    qos_levels("31").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_qos_levels_v311() {
    qos_levels("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_qos_levels_v5() {
    qos_levels("5").await;
}

/// A retained message reaches a later subscriber with the retain flag; an empty retained
/// publication deletes it.
async fn retained(version: &'static str) {
    let broker = TestBroker::tcp().await;
    let Some(m) = Mosquitto::find(&broker, version) else {
        return;
    };
    within(30, async {
        let topic = format!("retained/v{version}");
        m.publish(&["-t", &topic, "-r", "-q", "1", "-m", "kept"])
            .await;
        let (_, out) = crate::support::run(
            &mut m.sub_cmd(&["-t", &topic, "-C", "1"]),
            crate::support::STEP,
        )
        .await;
        assert!(
            out.lines().any(|l| l == format!("MSG 0 1 {topic} kept")),
            "{out}"
        );

        m.publish(&["-t", &topic, "-r", "-n"]).await;
        // With nothing retained, the first message a new subscriber sees is a live one.
        let mut sub = m.subscriber(&["-t", &topic]).await;
        m.publish(&["-t", &topic, "-m", "live"]).await;
        let line = sub.expect_contains("MSG ").await;
        assert_eq!(line, format!("MSG 0 0 {topic} live"));
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_retained_v31() {
    retained("31").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_retained_v311() {
    retained("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_retained_v5() {
    retained("5").await;
}

/// A client killed with SIGKILL has its will published; one that disconnects cleanly does
/// not.
async fn will_on_kill(version: &'static str) {
    let broker = TestBroker::tcp().await;
    let Some(m) = Mosquitto::find(&broker, version) else {
        return;
    };
    within(30, async {
        let will = format!("will/v{version}");
        let mut watcher = m.subscriber(&["-t", &will]).await;

        // A clean exit (-E: DISCONNECT once subscribed) discards the will.
        let will_args = ["--will-topic", &will, "--will-payload", "gone", "-t", "x"];
        let mut clean = m.sub_cmd(&will_args);
        clean.arg("-E");
        run_ok(&mut clean).await;

        // Published after the clean exit: a will from the clean client would come first.
        m.publish(&["-t", &will, "-m", "marker"]).await;
        let line = watcher.expect_contains("MSG ").await;
        assert_eq!(line, format!("MSG 0 0 {will} marker"));

        let mut victim = m.subscriber(&will_args).await;
        victim.kill();
        let line = watcher.expect_contains("MSG ").await;
        assert_eq!(line, format!("MSG 0 0 {will} gone"));
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_will_on_kill_v31() {
    will_on_kill("31").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_will_on_kill_v311() {
    will_on_kill("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_will_on_kill_v5() {
    will_on_kill("5").await;
}

/// A persistent session (`-c`) keeps its subscription while the client is away; the QoS 1
/// message published meanwhile arrives when it comes back, before it even subscribes again.
async fn persistent_session(version: &'static str) {
    let broker = TestBroker::tcp().await;
    let Some(m) = Mosquitto::find(&broker, version) else {
        return;
    };
    within(30, async {
        let topic = format!("session/v{version}");
        let id = format!("persistent-v{version}");
        let session = ["-c", "-i", &id, "-q", "1", "-t", &topic];
        let mut first = m.sub_cmd(&session);
        first.arg("-E");
        run_ok(&mut first).await;

        m.publish(&["-t", &topic, "-q", "1", "-m", "while away"])
            .await;

        let mut again = m.sub_cmd(&session);
        again.args(["-C", "1"]);
        let out = run_ok(&mut again).await;
        assert!(
            out.lines()
                .any(|l| l == format!("MSG 1 0 {topic} while away")),
            "{out}"
        );
        let publish = out.find("received PUBLISH").expect("a PUBLISH");
        let suback = out.find("received SUBACK").unwrap_or(usize::MAX);
        assert!(
            publish < suback,
            "queued message came from the session:\n{out}"
        );
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_persistent_session_v31() {
    persistent_session("31").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_persistent_session_v311() {
    persistent_session("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_persistent_session_v5() {
    persistent_session("5").await;
}

/// A second connection with the same client id takes the session over and the first is
/// closed: a 5.0 client is told DISCONNECT 0x8E (142) and exits; a 3.x client sees the
/// connection drop and reconnects (mosquitto_sub retries on its own).
async fn take_over(version: &'static str) {
    let broker = TestBroker::tcp().await;
    let Some(m) = Mosquitto::find(&broker, version) else {
        return;
    };
    within(30, async {
        let id = format!("twin-v{version}");
        let topic = format!("takeover/v{version}");
        let mut first = m.subscriber(&["-i", &id, "-t", &topic]).await;
        let mut second = m.subscriber(&["-i", &id, "-t", &topic]).await;
        if version == "5" {
            first.expect_contains("DISCONNECT (142)").await;
            let status = first.wait(Duration::from_secs(5)).await;
            assert!(status.is_some(), "the first client exits after 0x8E");
            // The new owner of the session gets messages.
            m.publish(&["-t", &topic, "-m", "to the new one"]).await;
            let line = second.expect_contains("MSG ").await;
            assert_eq!(line, format!("MSG 0 0 {topic} to the new one"));
        } else {
            // A second CONNECT from the first process means its connection was closed.
            first.expect_contains("sending CONNECT").await;
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_take_over_v31() {
    take_over("31").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_take_over_v311() {
    take_over("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_take_over_v5() {
    take_over("5").await;
}
