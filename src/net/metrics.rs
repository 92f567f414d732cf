//! The optional Prometheus HTTP endpoint (`metrics-port`, `metrics-bind`).
//!
//! Off by default (`metrics-port 0`). When on, `GET /metrics` answers the
//! Prometheus text format rendered by `server::metrics`. It runs on the
//! event loop's LocalSet like every client connection: each scrape borrows
//! the server only to copy a snapshot, never across an await, so a scrape
//! cannot delay commands by more than that copy. HTTP/1 comes from hyper;
//! this file only routes.

use std::cell::RefCell;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::server::metrics::render;
use crate::server::Server;

/// The Prometheus text exposition format's content type.
const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds `metrics-bind`:`metrics-port` and serves it on the current
/// LocalSet. Returns the bound address, or None when the endpoint is off.
pub fn spawn(srv: &Rc<RefCell<Server>>) -> std::io::Result<Option<SocketAddr>> {
    let (host, port) = {
        let s = srv.borrow();
        (s.config.metrics_bind.clone(), s.config.metrics_port)
    };
    if port <= 0 {
        return Ok(None);
    }
    let ip: IpAddr = host.parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid metrics-bind address {host:?}"),
        )
    })?;
    let std_listener = std::net::TcpListener::bind(SocketAddr::new(ip, port as u16))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let listener = TcpListener::from_std(std_listener)?;
    tokio::task::spawn_local(serve(srv.clone(), listener));
    Ok(Some(addr))
}

/// Accepts scrapers forever.
pub async fn serve(srv: Rc<RefCell<Server>>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accepting metrics connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let srv = srv.clone();
        tokio::task::spawn_local(async move {
            let service = service_fn(move |req| {
                let resp = respond(&srv, &req);
                async move { Ok::<_, Infallible>(resp) }
            });
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "metrics connection ended");
            }
        });
    }
}

/// Routes one request: GET (or HEAD) /metrics, otherwise 404 or 405.
fn respond(srv: &Rc<RefCell<Server>>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "Not Found. Try /metrics\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    // Commands borrow the server only inside synchronous code, so this
    // cannot collide with one; answer 503 rather than panic if it ever did.
    let snapshot = match srv.try_borrow() {
        Ok(s) => s.metrics_snapshot(crate::util::time::now_ms()),
        Err(_) => return plain(StatusCode::SERVICE_UNAVAILABLE, "busy\n"),
    };
    let mut r = Response::new(Full::new(Bytes::from(render(&snapshot))));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_TEXT));
    r
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
