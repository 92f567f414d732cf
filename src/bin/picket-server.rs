//! picket-server: the Redis-compatible data server.
//!
//! `picket-server [config-file] [--directive value ...]`, like redis-server.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Context;
use picket::config::{self, LogLevel};
use picket::server::Server;
use tracing_subscriber::{prelude::*, reload, EnvFilter};

#[global_allocator]
static ALLOC: picket::alloc::CountingJemalloc = picket::alloc::CountingJemalloc;

const USAGE: &str = "Usage: ./picket-server [/path/to/redis.conf] [options] [-]
       ./picket-server - (read config from stdin)
       ./picket-server -v or --version
       ./picket-server -h or --help

Examples:
       ./picket-server (run the server with default conf)
       ./picket-server /etc/redis/6379.conf
       ./picket-server --port 7777
       ./picket-server /etc/myredis.conf --loglevel verbose -

Every redis.conf directive can be given as --directive value.

Checking files without a server (like redis-check-rdb / redis-check-aof):
       ./picket-server --check-rdb dump.rdb
       ./picket-server --check-aof [--fix] appendonlydir/appendonly.aof.manifest
--fix cuts the last AOF file back to its last complete command.

The preStop hook of data pods under picket-operator (hands a master over):
       ./picket-server --handover <sentinel host:port> <master name> [--port N]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!(
                "picket-server v={} (Redis 7.0.15 compatible) malloc=jemalloc-5.3.0 bits=64",
                env!("CARGO_PKG_VERSION")
            );
            return;
        }
        Some("-h") | Some("--help") => {
            println!("{USAGE}");
            return;
        }
        Some("--check-rdb") | Some("--check-aof") => std::process::exit(check(&args)),
        Some("--handover") => std::process::exit(handover(&args)),
        _ => {}
    }
    if let Err(e) = run(args) {
        eprintln!("{e:#}");
        std::process::exit(1);
    }
}

/// The data pods' preStop hook under picket-operator (see
/// `picket::operator::prestop`): `--handover <sentinel host:port>
/// <master name>`, with the password in `PICKET_PASSWORD` and the pod's
/// name in `POD_NAME`; the local server is 127.0.0.1:6379 unless
/// `--port` follows. Always exits 0: stopping goes on either way.
fn handover(args: &[String]) -> i32 {
    let (sentinel, set) = match args {
        [_, s, n, ..] => (s.clone(), n.clone()),
        _ => {
            eprintln!(
                "Usage: picket-server --handover <sentinel host:port> <master name> [--port N]"
            );
            return 1;
        }
    };
    let port = match args.get(3..) {
        Some([p, n]) if p == "--port" => n.clone(),
        _ => "6379".into(),
    };
    // The Secret as mounted now (a rotation may have changed it since
    // the pod started), then the one the pod started with.
    let from_file = std::env::var("PICKET_PASSWORD_FILE")
        .ok()
        .and_then(|f| std::fs::read_to_string(f).ok());
    let candidates: Vec<String> = [from_file, std::env::var("PICKET_PASSWORD").ok()]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect();
    let pod = std::env::var("POD_NAME").unwrap_or_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let local = format!("127.0.0.1:{port}");
    let done = rt.block_on(async {
        // Bounded: the whole hook must fit the pod's grace period.
        let pw = tokio::time::timeout(
            Duration::from_secs(3),
            picket::operator::prestop::first_accepted(&local, &candidates),
        )
        .await
        .unwrap_or_else(|_| candidates.first().cloned());
        picket::operator::prestop::hand_over(
            &local,
            &sentinel,
            &set,
            &pod,
            pw.as_deref(),
            Duration::from_secs(20),
        )
        .await
    });
    println!("picket-server --handover: {done}");
    0
}

/// The file checker: exit code 0 when the files are sound, 1 otherwise.
fn check(args: &[String]) -> i32 {
    use picket::persistence::check;
    let mut out = std::io::stdout();
    let ok = match args {
        [m, file] if m == "--check-rdb" => check::check_rdb(file.as_ref(), &mut out),
        [m, file] if m == "--check-aof" => check::check_aof(file.as_ref(), false, &mut out),
        [m, f, file] if m == "--check-aof" && f == "--fix" => {
            check::check_aof(file.as_ref(), true, &mut out)
        }
        _ => {
            eprintln!("Usage: picket-server --check-rdb <file.rdb>\n       picket-server --check-aof [--fix] <file.manifest|file.aof>");
            return 1;
        }
    };
    i32::from(!ok)
}

fn run(mut args: Vec<String>) -> anyhow::Result<()> {
    // Sentinel mode: --sentinel anywhere, or invoked as picket-sentinel.
    let argv0 = std::env::args().next().unwrap_or_default();
    let sentinel = args.iter().any(|a| a == "--sentinel") || argv0.ends_with("picket-sentinel");
    args.retain(|a| a != "--sentinel");
    let file = match args.first() {
        Some(a) if !a.starts_with("--") => Some(PathBuf::from(args.remove(0))),
        _ => None,
    };
    // A trailing "-" means: also read config from stdin (redis-server's form).
    let stdin = args.last().is_some_and(|a| a == "-");
    if stdin {
        args.pop();
    }
    let file = if stdin && file.is_none() {
        Some(PathBuf::from("-"))
    } else {
        file
    };
    let (cfg, sentinel_state) = if sentinel {
        let Some(path) = file.as_deref().filter(|p| *p != std::path::Path::new("-")) else {
            anyhow::bail!("Sentinel needs config file on disk to save state. Exiting...");
        };
        // A file that doesn't exist yet is created (empty) where its
        // directory is writable: a sentinel in a container starts from an
        // empty volume and is configured by SENTINEL MONITOR (redis-sentinel
        // refuses; the file it would need is the same empty one).
        let create = !path.exists();
        if std::fs::OpenOptions::new()
            .append(true)
            .create(create)
            .open(path)
            .is_err()
        {
            anyhow::bail!(
                "Sentinel config file {} is not writable: Permission denied. Exiting...",
                path.display()
            );
        }
        let (cfg, lines) =
            config::load_sentinel(path, &args).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut sc = picket::sentinel::config::SentinelConf::new();
        for l in &lines {
            sc.apply(&l.args[1..])
                .map_err(|e| anyhow::anyhow!("{}", config::ConfigError::at(l, &e.0)))?;
        }
        let abs = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let st = picket::sentinel::Sentinel::new(sc, abs, picket::util::time::now_ms());
        (cfg, Some(st))
    } else {
        (
            config::load(file.as_deref(), &args).map_err(|e| anyhow::anyhow!("{e}"))?,
            None,
        )
    };

    let reload_level = init_logging(&cfg)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        pid = std::process::id(),
        "picket-server starting"
    );
    if file.is_none() {
        tracing::warn!("no config file specified, using the default config. In order to specify a config file use picket-server /path/to/redis.conf");
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        // The snapshot is loaded before any socket listens; a corrupt file
        // ends start-up here (exit code 1, the message names file and offset).
        let mut server = Server::new(cfg);
        if let Some(mut st) = sentinel_state {
            st.flush_config()
                .context("Sentinel can't write its config file")?;
            tracing::info!("Sentinel ID is {}", st.myid);
            for m in st.masters.values() {
                tracing::info!(
                    "+monitor master {} {} {} quorum {}",
                    m.conf.name,
                    m.inst.ip,
                    m.inst.port,
                    m.conf.quorum
                );
            }
            server.sentinel = Some(st);
        } else {
            server.load_data_on_start()?;
        }
        let cfg = &server.config;
        let listeners = picket::net::bind_all(cfg)?;
        if listeners.is_empty() {
            anyhow::bail!("no listening sockets could be opened (check `bind` and `port`)");
        }
        let listener_fds = listeners
            .iter()
            .map(std::os::fd::AsRawFd::as_raw_fd)
            .collect();
        if !cfg.pidfile.is_empty() {
            std::fs::write(&cfg.pidfile, format!("{}\n", std::process::id()))
                .with_context(|| format!("writing pidfile {}", cfg.pidfile))?;
        }
        let hz = cfg.hz.clamp(1, 500) as u64;
        let pidfile = cfg.pidfile.clone();
        server.on_loglevel = Some(Box::new(move |l: LogLevel| {
            let _ = reload_level.reload(EnvFilter::new(l.filter()));
        }));
        server.rdb.listener_fds = listener_fds;
        let replicaof = server.config.replicaof.clone();
        let srv = Rc::new(RefCell::new(server));
        srv.borrow_mut().self_ref = Rc::downgrade(&srv);
        if let Some((host, port)) = replicaof {
            srv.borrow_mut().start_replication(&host, port as u16);
        }
        for l in listeners {
            let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let l = tokio::net::TcpListener::from_std(l).context("registering listener")?;
            tracing::info!(%addr, "Ready to accept connections tcp");
            tokio::task::spawn_local(picket::net::serve(srv.clone(), l));
        }
        if let Some(addr) =
            picket::net::metrics::spawn(&srv).context("opening the metrics-port listener")?
        {
            tracing::info!(%addr, "Prometheus metrics on /metrics");
        }
        if srv.borrow().sentinel.is_some() {
            let timer_srv = srv.clone();
            tokio::task::spawn_local(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let now = picket::util::time::now_ms();
                    timer_srv.borrow_mut().sentinel_timer(now);
                }
            });
        }
        let cron_srv = srv.clone();
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / hz));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = picket::util::time::now_ms();
                cron_srv.borrow_mut().cron(now);
            }
        });
        let shutdown = srv.borrow().shutdown_notify.clone();
        let mut sigterm =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        loop {
            // SHUTDOWN saved already; a signal saves here (and keeps serving
            // when that fails, as redis-server does).
            tokio::select! {
                _ = sigterm.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
                _ = sigint.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
                _ = shutdown.notified() => break,
            }
            tracing::warn!("User requested shutdown...");
            let saved = srv
                .borrow_mut()
                .prepare_shutdown(picket::server::ShutdownMode::Default, false);
            if saved.is_ok() {
                break;
            }
            tracing::warn!(
                "Errors trying to shut down the server. Check the logs for more information."
            );
        }
        if !pidfile.is_empty() {
            let _ = std::fs::remove_file(&pidfile);
        }
        tracing::warn!("picket-server is now ready to exit, bye bye...");
        Ok(())
    })
}

type LevelHandle = reload::Handle<EnvFilter, tracing_subscriber::Registry>;

/// Logs to stdout or `logfile`. RUST_LOG, when set, overrides `loglevel`.
fn init_logging(cfg: &config::Config) -> anyhow::Result<LevelHandle> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .map(EnvFilter::new)
        .unwrap_or_else(|| EnvFilter::new(cfg.loglevel.filter()));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    if cfg.logfile.is_empty() {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    // No colour escapes when stdout is a file or a pipe.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                    .with_writer(std::io::stdout),
            )
            .init();
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.logfile)
            .with_context(|| format!("Can't open the log file: {}", cfg.logfile))?;
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(f)),
            )
            .init();
    }
    Ok(handle)
}
