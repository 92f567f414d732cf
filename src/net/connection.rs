//! The connection driver: read requests, run them, write replies.
//!
//! Per wake-up it parses every complete request in the read buffer and runs
//! them in one borrow of the server, so a pipeline of N commands costs one
//! read and one write (replies are batched per read, not flushed per reply).
//! It stops parsing while the client is blocked (BLPOP) and resumes when the
//! server unblocks it. Output produced by other clients (pub/sub messages,
//! MONITOR lines, served blocking pops) arrives in `Client::out` with a
//! `notify`.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::resp::{parse_request, Limits, ParsedRequest};
use crate::server::client::Client;
use crate::server::Server;
use crate::util::time::now_ms;

/// What the task should do after processing input.
enum Next {
    Continue,
    Close,
}

/// Parses and runs every complete request in `inbuf`.
fn process_input(
    srv: &mut Server,
    c: &mut Client,
    inbuf: &mut BytesMut,
    args: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) -> Next {
    let now = now_ms();
    let mut consumed = 0;
    let mut next = Next::Continue;
    while consumed < inbuf.len() {
        if c.blocked.is_some() || c.flags.close_after_reply || c.flags.close_asap {
            break;
        }
        let limits = Limits {
            max_bulk_len: srv.config.proto_max_bulk_len as usize,
            authenticated: c.authenticated,
        };
        let buf = &inbuf[consumed..];
        match parse_request(buf, args, scratch, &limits) {
            Ok(ParsedRequest::Incomplete { need }) => {
                // A declared length is not trusted for allocation: the
                // buffer grows towards it at most by what has arrived
                // (so, doubling), and a 20-byte `$536870912` header
                // reserves 16 KiB, not 512 MB.
                let missing = need.saturating_sub(buf.len());
                if missing > 0 {
                    inbuf.reserve(missing.min(buf.len().max(16 * 1024)));
                }
                break;
            }
            Ok(ParsedRequest::Complete {
                consumed: n,
                inline,
            }) => {
                if !args.is_empty() {
                    let src: &[u8] = if inline { scratch } else { buf };
                    let argv: smallvec::SmallVec<[&[u8]; 8]> =
                        args.iter().map(|&(s, e)| &src[s..e]).collect();
                    srv.process_command(c, &argv, now);
                }
                consumed += n;
            }
            Err(e) => {
                tracing::debug!(client = %c.addr, error = %e, "protocol error");
                c.error(&format!("ERR {e}"));
                srv.stats.count_error("ERR");
                c.flags.close_after_reply = true;
                consumed = inbuf.len();
                next = Next::Close;
            }
        }
    }
    inbuf.advance(consumed);
    c.qbuf = inbuf.len();
    if inbuf.len() as u64 > srv.config.client_query_buffer_limit {
        tracing::warn!(client = %c.addr, qbuf = inbuf.len(), "closing client that reached max query buffer length");
        c.flags.close_asap = true;
        next = Next::Close;
    }
    next
}

/// Output buffer hard limit for a client's class (normal or pubsub), bytes; 0 = none.
fn output_limit(srv: &Server, c: &Client) -> u64 {
    if c.subscriptions() > 0 {
        srv.obuf_hard_limits.1
    } else {
        srv.obuf_hard_limits.0
    }
}

/// Resolves once the client is marked close-asap (checked on each wake-up).
async fn close_requested(client: &Rc<RefCell<Client>>, notify: &tokio::sync::Notify) {
    loop {
        if client.borrow().flags.close_asap {
            return;
        }
        notify.notified().await;
    }
}

/// Drives one client connection until it closes.
pub async fn drive(srv: Rc<RefCell<Server>>, client: Rc<RefCell<Client>>, mut stream: TcpStream) {
    let notify = client.borrow().notify.clone();
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut outbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut args: Vec<(usize, usize)> = Vec::with_capacity(16);
    let mut scratch: Vec<u8> = Vec::new();
    let mut eof = false;
    loop {
        // Run what has arrived, then take the pending output.
        let (close_now, close_after, deadline, aof_sync, handover) = {
            let mut s = srv.borrow_mut();
            let mut c = client.borrow_mut();
            if !inbuf.is_empty() {
                process_input(&mut s, &mut c, &mut inbuf, &mut args, &mut scratch);
            }
            if let Some(b) = &c.blocked {
                if b.deadline_ms.is_some_and(|d| d <= now_ms()) {
                    s.unblock_on_timeout(&mut c);
                    if !inbuf.is_empty() {
                        process_input(&mut s, &mut c, &mut inbuf, &mut args, &mut scratch);
                    }
                }
            }
            // Nothing is acknowledged before it is in the AOF.
            let aof_sync = s.write_aof();
            // After PSYNC/SYNC the replication code owns the connection and
            // sends the pending replies itself.
            let handover = c.flags.replica;
            if !handover {
                std::mem::swap(&mut outbuf, &mut c.out);
            }
            let limit = output_limit(&s, &c);
            if limit > 0 && outbuf.len() as u64 > limit {
                tracing::warn!(client = %c.addr, omem = outbuf.len(), "client scheduled to be closed ASAP for overcoming of output buffer limits");
                c.flags.close_asap = true;
            }
            (
                c.flags.close_asap,
                c.flags.close_after_reply || eof,
                c.blocked.as_ref().and_then(|b| b.deadline_ms),
                aof_sync,
                handover,
            )
        };
        if handover {
            return crate::replication::master::serve_replica(srv, client, stream, inbuf).await;
        }
        if let Some(target) = aof_sync {
            // appendfsync always: let the other ready connections write
            // their commands first, so one fsync covers them all.
            tokio::task::yield_now().await;
            srv.borrow_mut().sync_aof(target);
        }
        if close_now {
            break;
        }
        if !outbuf.is_empty() {
            let n = outbuf.len();
            // A peer that stops reading stalls this write; the server may
            // then mark the client for closing (output buffer limit, CLIENT
            // KILL) and must not wait for the write to finish.
            let res = tokio::select! {
                r = stream.write_all(&outbuf) => r,
                _ = close_requested(&client, &notify) => break,
            };
            outbuf.clear();
            if outbuf.capacity() > 64 * 1024 {
                outbuf.shrink_to(16 * 1024);
            }
            let mut s = srv.borrow_mut();
            s.stats.total_net_output_bytes += n as u64;
            s.stats.total_writes_processed += 1;
            if res.is_err() {
                break;
            }
            // More output may have been queued while writing.
            if !client.borrow().out.is_empty() {
                continue;
            }
        }
        if close_after {
            break;
        }
        let sleep = async {
            match deadline {
                Some(d) => {
                    tokio::time::sleep(std::time::Duration::from_millis(
                        (d - now_ms()).max(0) as u64
                    ))
                    .await
                }
                None => std::future::pending::<()>().await,
            }
        };
        // Keep room for a full read: BytesMut reclaims consumed space on
        // reserve, so this does not grow the buffer in steady state.
        if inbuf.capacity() - inbuf.len() < 4096 {
            inbuf.reserve(16 * 1024);
        }
        tokio::select! {
            r = stream.read_buf(&mut inbuf) => {
                match r {
                    Ok(0) | Err(_) => {
                        eof = true;
                        if client.borrow().blocked.is_some() || inbuf.is_empty() {
                            break;
                        }
                    }
                    Ok(n) => {
                        let mut s = srv.borrow_mut();
                        s.stats.total_net_input_bytes += n as u64;
                        s.stats.total_reads_processed += 1;
                    }
                }
            }
            _ = notify.notified() => {}
            _ = sleep => {}
        }
    }
    let _ = stream.shutdown().await;
    let mut s = srv.borrow_mut();
    let mut c = client.borrow_mut();
    s.unregister_client(&mut c);
}
