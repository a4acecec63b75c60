//! A child process whose standard output and error are read as they come, on threads of their
//! own, so it never blocks on a full pipe however much it logs; tests read what it wrote so far,
//! wait for a line, and get everything when they stop it. Killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::eventually;

/// A started child process; see the module.
pub struct Process {
    child: Child,
    /// Standard output and error, interleaved line by line as they arrived.
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Process {
    /// Starts `command` with both outputs piped and drained.
    pub fn spawn(command: &mut Command) -> Process {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(drain(out, output.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(drain(err, output.clone()));
        }
        Process {
            child,
            output,
            readers,
        }
    }

    /// Everything it has written so far.
    pub fn output(&self) -> String {
        self.output.lock().clone()
    }

    /// Waits until a line it wrote gives `Some` through `find`, and returns that.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        find: impl Fn(&str) -> Option<T>,
    ) -> T {
        let output = self.output.clone();
        eventually(what, timeout, || {
            let text = output.lock().clone();
            let exited = self.child.try_wait().ok().flatten();
            let found = text.lines().find_map(&find);
            async move {
                match (found, exited) {
                    (Some(found), _) => Ok(found),
                    (None, Some(status)) => panic!("it exited ({status}) first:\n{text}"),
                    (None, None) => Err(text),
                }
            }
        })
        .await
    }

    /// The address it prints as `listening on ADDR`, the line the gpuboard binaries print once
    /// they have bound (with port 0, the port the system picked).
    pub async fn listening_address(&mut self) -> std::net::SocketAddr {
        self.wait_for("the `listening on` line", Duration::from_secs(60), |line| {
            line.trim().strip_prefix("listening on ")?.parse().ok()
        })
        .await
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it and returns everything it wrote.
    pub fn stop(mut self) -> String {
        self.kill();
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        self.output()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn drain(pipe: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            let mut all = into.lock();
            all.push_str(&line);
            all.push('\n');
        }
    })
}
