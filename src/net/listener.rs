//! Binding the configured addresses and accepting connections.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::server::Server;

/// A listener could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("Could not create server TCP listening socket {addr}")]
pub struct BindError {
    /// The address.
    pub addr: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

fn bind_one(host: &str, port: u16, backlog: i32) -> std::io::Result<std::net::TcpListener> {
    let ip: std::net::IpAddr = host.parse().map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "invalid bind address")
    })?;
    let addr = SocketAddr::new(ip, port);
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(backlog)?;
    Ok(s.into())
}

/// Binds every `bind` address on `port`. Addresses marked optional (`-`)
/// are skipped when unavailable (e.g. no IPv6), as in Redis.
pub fn bind_all(cfg: &Config) -> Result<Vec<std::net::TcpListener>, BindError> {
    let mut out = Vec::new();
    for (host, optional) in cfg.bind_addrs() {
        match bind_one(&host, cfg.port as u16, cfg.tcp_backlog as i32) {
            Ok(l) => out.push(l),
            Err(e) if optional => {
                tracing::debug!(addr = %host, error = %e, "optional bind address skipped")
            }
            Err(source) => {
                return Err(BindError {
                    addr: format!("{host}:{}", cfg.port),
                    source,
                })
            }
        }
    }
    Ok(out)
}

/// The message protected mode sends to non-loopback clients (Redis 7.0's text).
const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Whether a new connection from `peer` is refused, and with which reply:
/// `maxclients` reached, or protected mode (on, the default user `nopass`,
/// and the peer is not on the loopback interface), as redis-server 7.0
/// decides.
pub fn admission(
    cfg: &Config,
    nopass: bool,
    connected: usize,
    peer: std::net::IpAddr,
) -> Option<&'static str> {
    if connected >= cfg.maxclients as usize {
        Some("-ERR max number of clients reached\r\n")
    } else if cfg.protected_mode && nopass && !is_local(peer) {
        Some(DENIED)
    } else {
        None
    }
}

/// Loopback, including IPv4-mapped IPv6 loopback (`::ffff:127.0.0.1`).
fn is_local(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Accepts connections on `listener` forever, spawning a connection task
/// for each on the current `LocalSet`.
pub async fn serve(srv: Rc<RefCell<Server>>, listener: TcpListener) {
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accepting client connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let local = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let (reject, keepalive) = {
            let mut s = srv.borrow_mut();
            let reject = admission(&s.config, s.default_user.nopass, s.clients.len(), peer.ip());
            if reject.is_some() {
                s.stats.rejected_connections += 1;
            }
            (reject, s.config.tcp_keepalive)
        };
        if let Some(msg) = reject {
            tokio::task::spawn_local(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), stream.write_all(msg.as_bytes()))
                        .await;
            });
            continue;
        }
        let _ = stream.set_nodelay(true);
        if keepalive > 0 {
            let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive as u64));
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
        }
        let client =
            srv.borrow_mut()
                .register_client(peer.to_string(), local, crate::util::time::now_ms());
        tokio::task::spawn_local(crate::net::connection::drive(srv.clone(), client, stream));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn protected_mode_refuses_remote_peers_without_a_password() {
        let mut cfg = Config::default();
        assert_eq!(admission(&cfg, true, 0, ip("127.0.0.1")), None);
        assert_eq!(admission(&cfg, true, 0, ip("::1")), None);
        assert_eq!(admission(&cfg, true, 0, ip("::ffff:127.0.0.1")), None);
        assert!(admission(&cfg, true, 0, ip("10.1.2.3"))
            .is_some_and(|m| m.starts_with("-DENIED Redis is running in protected mode")));
        // A password for the default user.
        assert_eq!(admission(&cfg, false, 0, ip("10.1.2.3")), None);
        cfg.protected_mode = false;
        assert_eq!(admission(&cfg, true, 0, ip("10.1.2.3")), None);
    }

    #[test]
    fn maxclients_is_checked_first() {
        let cfg = Config {
            maxclients: 2,
            ..Config::default()
        };
        assert_eq!(
            admission(&cfg, true, 2, ip("127.0.0.1")),
            Some("-ERR max number of clients reached\r\n")
        );
        assert_eq!(admission(&cfg, true, 1, ip("127.0.0.1")), None);
    }
}
