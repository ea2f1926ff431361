use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn rempart() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rempart"));
    // Every setting of the environment (REMPART_CONFIG included) and the log filter: a test
    // sets those it needs.
    for (var, _) in std::env::vars_os() {
        if var.to_str().is_some_and(|v| v.starts_with("REMPART_")) {
            c.env_remove(var);
        }
    }
    c.env_remove("RUST_LOG");
    c.stdin(Stdio::null());
    c
}

pub fn run(args: &[&str]) -> Output {
    rempart().args(args).output().expect("running rempart")
}

/// [`run`] for a command that might not stop on its own (a server): killed after `limit`.
pub fn run_for(args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = rempart()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running rempart");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

/// The request ids of the entries `rempart audit export` printed (JSON lines).
#[allow(dead_code)]
pub fn logged_request_ids(o: &Output) -> std::collections::HashSet<String> {
    assert!(o.status.success(), "audit export: {}", stderr(o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["entry"]["request_id"].as_str().map(str::to_string)
        })
        .collect()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether the black-box tests of this harness run on PostgreSQL (`tests_postgres.rs`) rather
/// than on the embedded SQLite (`tests.rs`).
pub fn on_postgres() -> bool {
    crate::POSTGRES
}

/// The Redis the tests use.
pub fn redis_server() -> String {
    std::env::var("REMPART_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A key prefix of the test's own in the test Redis; its keys are deleted when dropped.
pub struct RedisSpace {
    pub prefix: String,
}

impl RedisSpace {
    pub fn new() -> RedisSpace {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let space = RedisSpace {
            prefix: format!(
                "rempart-cli-test:{}:{}:{}:",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ),
        };
        space.keys();
        space
    }

    fn conn() -> redis::Connection {
        redis::Client::open(redis_server().as_str())
            .and_then(|c| c.get_connection_with_timeout(std::time::Duration::from_secs(2)))
            .unwrap_or_else(|e| {
                panic!("Redis is needed at REMPART_TEST_REDIS, or redis://127.0.0.1:6379 without it: {e}; start it with `service redis-server start`")
            })
    }

    /// Every key under the prefix.
    pub fn keys(&self) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut Self::conn())
            .unwrap()
    }
}

impl Drop for RedisSpace {
    fn drop(&mut self) {
        let keys = self.keys();
        if !keys.is_empty() {
            let _: usize = redis::cmd("DEL")
                .arg(keys)
                .query(&mut Self::conn())
                .unwrap();
        }
    }
}

/// A PostgreSQL database of the test's own, dropped with it.
pub struct PgDb {
    name: String,
    pub url: String,
}

fn pg_server() -> String {
    std::env::var("REMPART_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl PgDb {
    pub fn new() -> PgDb {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let server = pg_server();
        let mut admin = postgres::Client::connect(&server, postgres::NoTls).unwrap_or_else(|e| {
            panic!("PostgreSQL is needed at {server} (REMPART_TEST_POSTGRES): {e}; start it with `service postgresql start`")
        });
        let name = format!(
            "rempart_cli_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let i = server.rfind('/').unwrap();
        PgDb {
            url: format!("{}/{name}", &server[..i]),
            name,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&pg_server(), postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// An initialised installation: a data directory with its key file beside it, or (on
/// PostgreSQL) a files and a keys database of the test's own, with the key file and the
/// witness file in the test's directory. `data` is then a directory for the test's own files.
pub struct Install {
    pub _dir: tempfile::TempDir,
    pub data: PathBuf,
    pub key: PathBuf,
    pub pg: Option<(PgDb, PgDb)>,
    /// On PostgreSQL (`Install::new`): containment's counts in Redis, under a prefix of its own.
    pub redis: Option<(RedisSpace, String)>,
    witness: String,
}

impl Install {
    /// On the backend the run names (`REMPART_TEST_BACKEND`).
    pub fn new() -> Install {
        let mut i = Install::on(on_postgres());
        if on_postgres() {
            i.redis = Some((RedisSpace::new(), redis_server()));
        }
        i
    }

    /// On PostgreSQL whatever the run names: for what only PostgreSQL has (several nodes).
    #[allow(dead_code)]
    pub fn postgres() -> Install {
        Install::on(true)
    }

    fn on(postgres: bool) -> Install {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let key = dir.path().join("master.key");
        let witness = dir
            .path()
            .join("data.witness")
            .to_str()
            .unwrap()
            .to_string();
        let pg = postgres.then(|| (PgDb::new(), PgDb::new()));
        let o = match &pg {
            None => run(&[
                "init",
                "--data",
                data.to_str().unwrap(),
                "--key-file",
                key.to_str().unwrap(),
            ]),
            Some((files, keys)) => {
                std::fs::create_dir(&data).unwrap();
                run(&[
                    "init",
                    "--database",
                    &files.url,
                    "--keys-database",
                    &keys.url,
                    "--key-file",
                    key.to_str().unwrap(),
                ])
            }
        };
        assert!(o.status.success(), "init failed: {}", stderr(&o));
        Install {
            _dir: dir,
            data,
            key,
            pg,
            redis: None,
            witness,
        }
    }

    /// The data directory of the embedded store, for a test of its files: such a test has a
    /// counterpart on PostgreSQL, or none (`.ci/run` names those it leaves out there).
    pub fn sqlite_dir(&self) -> &Path {
        assert!(
            self.pg.is_none(),
            "this test reads the embedded store's files: not for REMPART_TEST_BACKEND=postgres"
        );
        &self.data
    }

    /// The witness file's path.
    pub fn witness_file(&self) -> PathBuf {
        PathBuf::from(&self.witness)
    }

    /// The `[store]` table of a configuration file naming this installation.
    pub fn store_toml(&self) -> String {
        match &self.pg {
            None => format!(
                "[store]\ndata = {:?}\nkey_file = {:?}\n",
                self.data, self.key
            ),
            Some((files, keys)) => {
                let mut t = format!(
                    "[store]\ndatabase_url = {:?}\nkeys_database_url = {:?}\nkey_file = {:?}\n",
                    files.url, keys.url, self.key
                );
                if let Some((space, url)) = &self.redis {
                    t.push_str(&format!(
                        "redis_url = {url:?}\nredis_prefix = {:?}\n",
                        space.prefix
                    ));
                }
                t
            }
        }
    }

    /// The `file` line of the `[witness]` table (needed on PostgreSQL; beside the data
    /// directory otherwise).
    pub fn witness_toml(&self) -> String {
        format!("file = {:?}\n", self.witness)
    }

    pub fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut v = rest.to_vec();
        match &self.pg {
            None => v.extend(["--data", self.data.to_str().unwrap()]),
            Some((files, keys)) => v.extend([
                "--database",
                files.url.as_str(),
                "--keys-database",
                keys.url.as_str(),
                "--witness",
                self.witness.as_str(),
            ]),
        }
        if let Some((space, url)) = &self.redis {
            v.extend([
                "--redis",
                url.as_str(),
                "--redis-prefix",
                space.prefix.as_str(),
            ]);
        }
        v.extend(["--key-file", self.key.to_str().unwrap()]);
        v
    }

    pub fn run(&self, rest: &[&str]) -> Output {
        run(&self.args(rest))
    }

    pub fn token(&self, principal: &str, role: &str, agency: &str) -> String {
        self.token_for(principal, role, agency, "1d")
    }

    pub fn token_for(&self, principal: &str, role: &str, agency: &str, expires: &str) -> String {
        let o = self.run(&[
            "token",
            "create",
            "--principal",
            principal,
            "--role",
            role,
            "--agency",
            agency,
            "--expires",
            expires,
        ]);
        assert!(o.status.success(), "token create failed: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    }

    pub fn synth_import(
        &self,
        count: usize,
        agencies: usize,
        seed: u64,
    ) -> Vec<rempart_synth::SynthFile> {
        let csv = self.data.with_file_name(format!("synth-{seed}.csv"));
        let c = count.to_string();
        let a = agencies.to_string();
        let s = seed.to_string();
        let o = run(&[
            "synth",
            "--count",
            &c,
            "--agencies",
            &a,
            "--seed",
            &s,
            "--out",
            csv.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "synth failed: {}", stderr(&o));
        let o = self.run(&["import", csv.to_str().unwrap()]);
        assert!(o.status.success(), "import failed: {}", stderr(&o));
        rempart_synth::generate(count, agencies, seed)
    }

    pub fn serve(&self) -> Server {
        self.serve_logged().0
    }

    /// `serve` with more flags.
    pub fn serve_with(&self, flags: &[&str]) -> Server {
        self.serve_logged_with(flags).0
    }

    /// [`Install::serve`], with what the server wrote to standard error before it listened.
    pub fn serve_logged(&self) -> (Server, Vec<String>) {
        self.serve_logged_with(&[])
    }

    /// A configuration file holding every hour as office hours (containment's off-hours
    /// signal then never depends on when a test runs); its path.
    pub fn every_hour(&self) -> String {
        let config = self.data.with_file_name("every-hour.toml");
        std::fs::write(&config, "[guard]\noffice_hours = [0, 24]\n").unwrap();
        config.to_str().unwrap().to_string()
    }

    /// [`Install::serve_logged`] with more flags. The server holds every hour as office
    /// hours (a configuration file of the test's), so that containment's budgets do not
    /// depend on when the test runs.
    pub fn serve_logged_with(&self, flags: &[&str]) -> (Server, Vec<String>) {
        let config = self.every_hour();
        let mut args = vec!["--config", &config, "serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        serve_command(rempart().args(self.args(&args)))
    }
}

/// Spawns `command` (a `rempart … serve`), waits until it listens, and returns the server with
/// what it wrote to standard error before.
pub fn serve_command(command: &mut Command) -> (Server, Vec<String>) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting rempart serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut before = Vec::new();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(a) = line.strip_prefix("rempart: listening on ") {
            break a.to_string();
        }
        before.push(line);
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let server = Server {
        child,
        base: addr,
        client: reqwest::blocking::Client::new(),
    };
    (server, before)
}

pub struct Server {
    child: Child,
    pub base: String,
    pub client: reqwest::blocking::Client,
}

impl Drop for Server {
    /// Stops the server as an operator would (SIGTERM, so that it signs its last checkpoint),
    /// and kills it if it has not stopped within five seconds.
    fn drop(&mut self) {
        // Already stopped (and reaped: its pid may belong to another process by now).
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub json: serde_json::Value,
    /// The `Retry-After` header, if any.
    #[allow(dead_code)]
    pub retry_after: Option<String>,
}

impl Server {
    /// The server's address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.base
            .split_once("://")
            .map(|(_, a)| a)
            .unwrap_or(&self.base)
    }

    /// A plain TCP connection to the server.
    pub fn connect(&self) -> std::net::TcpStream {
        std::net::TcpStream::connect(self.addr()).unwrap()
    }

    /// Kills the server at once (SIGKILL: no checkpoint, no clean shutdown), as a crash or the
    /// kernel's OOM killer would, and waits for it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder, token: Option<&str>) -> Resp {
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let r = req.send().expect("request");
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let text = r.text().unwrap();
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        };
        Resp {
            status,
            content_type,
            json,
            retry_after,
        }
    }

    pub fn get(&self, token: Option<&str>, path: &str) -> Resp {
        self.send(self.client.get(format!("{}{path}", self.base)), token)
    }
    pub fn post(&self, token: Option<&str>, path: &str, body: &serde_json::Value) -> Resp {
        self.send(
            self.client.post(format!("{}{path}", self.base)).json(body),
            token,
        )
    }
    pub fn post_raw(&self, token: Option<&str>, path: &str, body: &str) -> Resp {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
            token,
        )
    }
    pub fn patch(&self, token: Option<&str>, path: &str, body: &serde_json::Value) -> Resp {
        self.send(
            self.client.patch(format!("{}{path}", self.base)).json(body),
            token,
        )
    }
    pub fn delete(&self, token: Option<&str>, path: &str) -> Resp {
        self.send(self.client.delete(format!("{}{path}", self.base)), token)
    }
    pub fn put(&self, token: Option<&str>, path: &str, body: &serde_json::Value) -> Resp {
        self.send(
            self.client.put(format!("{}{path}", self.base)).json(body),
            token,
        )
    }
    /// A GET with a break-glass justification.
    pub fn get_break_glass(&self, token: Option<&str>, path: &str, why: &str) -> Resp {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .header("x-break-glass", why),
            token,
        )
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `n` files of agency ML-1 in nobody's caseload, created over HTTP by the agency's service
/// (`case-app`); their ids.
pub fn outside_files(i: &Install, s: &Server, n: usize) -> Vec<String> {
    let app = i.token("case-app", "service", "ML-1");
    (0..n)
        .map(|k| {
            let r = s.post(
                Some(&app),
                "/v1/persons",
                &serde_json::json!({
                    "agency": "ML-1",
                    "identity": {"last_name": format!("Nom{}", (b'a' + k as u8) as char), "first_names": "Léa", "birth_date": "2001-04-17", "sex": "F"},
                    "contact": {"email": format!("p{k}@example.fr")},
                }),
            );
            assert_eq!(r.status, 201, "{}", r.json);
            r.json["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// A real SMTP server (aiosmtpd) keeping each message it accepts as a file of `dir`, written
/// before it answers; it waits `delay` seconds before each answer (a slow relay). Killed when
/// dropped.
pub struct MailSink {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

const MAIL_SINK: &str = r#"
import asyncio, email, email.policy, os, sys, time
from aiosmtpd.controller import Controller
folder, port, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
class Keep:
    async def handle_DATA(self, server, session, envelope):
        m = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        text = "To: %s\nMessage-ID: %s\nSubject: %s\n\n%s" % (m["To"], m["Message-ID"], m["Subject"], m.get_content())
        path = os.path.join(folder, "%d.eml" % time.time_ns())
        with open(path + ".part", "w", encoding="utf-8") as f:
            f.write(text)
        os.rename(path + ".part", path)
        if delay:
            await asyncio.sleep(delay)
        return "250 OK"
c = Controller(Keep(), hostname="127.0.0.1", port=port)
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

impl MailSink {
    pub fn start(dir: &Path, delay: f64) -> MailSink {
        std::fs::create_dir_all(dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-c",
                MAIL_SINK,
                dir.to_str().unwrap(),
                &port.to_string(),
                &delay.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the SMTP server of this test");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).ok();
            panic!(
                "the SMTP server did not start: install aiosmtpd (`python3 -m pip install aiosmtpd`); it said: {err}"
            );
        }
        MailSink {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
            .collect()
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token's public id (`rmp_{id}.{secret}`).
pub fn token_id(token: &str) -> &str {
    token
        .strip_prefix("rmp_")
        .and_then(|t| t.split_once('.'))
        .map(|(id, _)| id)
        .expect("a Rempart token")
}
