//! A Python script of `interop/python/` run by a test, and the lines it prints: used by
//! the `python_interop` tests of `herald-core` (HTTP) and `herald-nats`. The interpreter is
//! `$HERALD_PYTHON` (`bash .ci/interop` sets one up).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::sync::mpsc;

/// How long a test waits for the script's next line.
const LINE_WITHIN: Duration = Duration::from_secs(30);

/// A running script; killed when dropped.
#[derive(Debug)]
pub struct Script {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Script {
    /// Runs `interop/python/<name>` with `args`.
    pub fn start(name: &str, args: &[&str]) -> Self {
        let python = std::env::var("HERALD_PYTHON")
            .expect("HERALD_PYTHON names a Python with interop/python's requirements");
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../interop/python")
            .join(name);
        let mut child = Command::new(python)
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the Python script starts");
        let stdout = child.stdout.take().expect("piped");
        let (send, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line it prints.
    pub async fn line(&mut self) -> String {
        tokio::time::timeout(LINE_WITHIN, self.lines.recv())
            .await
            .expect("the Python script printed nothing in time")
            .expect("the Python script exited early")
    }

    /// The next line it prints, as JSON.
    pub async fn json(&mut self) -> serde_json::Value {
        let line = self.line().await;
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
