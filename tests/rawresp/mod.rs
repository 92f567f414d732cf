//! Raw RESP sessions for byte-exact tests: send commands, read back whole
//! reply frames (RESP2 and RESP3), and run the same script against picket
//! and Debian's redis-server to compare bytes.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One raw connection with a read buffer that keeps bytes past a frame.
pub struct Session {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Session {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> Session {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s.set_nodelay(true).unwrap();
        Session { s, buf: Vec::new() }
    }

    /// Sends one command as a RESP array.
    pub fn send(&mut self, args: &[&str]) {
        self.send_bytes(&encode(args));
    }

    /// Sends raw bytes.
    pub fn send_bytes(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
    }

    /// Reads `n` complete frames (waiting at most 5 s) and returns their bytes.
    pub fn frames(&mut self, n: usize) -> Vec<u8> {
        let start = Instant::now();
        loop {
            let mut at = 0;
            let mut got = 0;
            while got < n {
                match frame_len(&self.buf[at..]) {
                    Some(len) => {
                        at += len;
                        got += 1;
                    }
                    None => break,
                }
            }
            if got == n {
                return self.buf.drain(..at).collect();
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "timed out waiting for {n} frames, have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.fill();
        }
    }

    /// Sends a command and returns its one reply frame.
    pub fn call(&mut self, args: &[&str]) -> Vec<u8> {
        self.send(args);
        self.frames(1)
    }

    /// Whether nothing more arrives within `wait`.
    pub fn quiet_for(&mut self, wait: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < wait {
            self.fill();
        }
        self.buf.is_empty()
    }

    /// Whether the server closed the connection within `wait` (pending
    /// bytes are discarded).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let start = Instant::now();
        let mut b = vec![0u8; 1 << 16];
        while start.elapsed() < wait {
            match self.s.read(&mut b) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    }

    fn fill(&mut self) {
        let mut b = [0u8; 65536];
        match self.s.read(&mut b) {
            Ok(0) => panic!(
                "connection closed; have {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(n) => self.buf.extend_from_slice(&b[..n]),
            Err(_) => {}
        }
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
    }
    v
}

/// Length of the first complete RESP2/RESP3 frame in `b`, if complete.
pub fn frame_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&b[1..line_end]).ok()?;
    let after = line_end + 2;
    match b[0] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'!' | b'=' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'>' | b'~' | b'%' | b'|' => {
            let n: i64 = head.parse().ok()?;
            let items = if matches!(b[0], b'%' | b'|') {
                n * 2
            } else {
                n
            };
            let mut at = after;
            for _ in 0..items.max(0) {
                at += frame_len(&b[at..])?;
            }
            Some(at)
        }
        _ => panic!("bad frame {:?}", String::from_utf8_lossy(b)),
    }
}

/// A step of a multi-client script: which client, what it sends, and how
/// many frames to read back.
pub struct Step<'a> {
    /// Client index.
    pub client: usize,
    /// The command.
    pub args: &'a [&'a str],
    /// Frames expected back on that client.
    pub frames: usize,
}

/// Runs `steps` with `clients` connections to `port` and returns every
/// step's reply bytes, to compare picket with redis-server.
pub fn run_script(port: u16, clients: usize, steps: &[Step]) -> Vec<String> {
    let mut cs: Vec<Session> = (0..clients).map(|_| Session::connect(port)).collect();
    steps
        .iter()
        .map(|st| {
            let c = &mut cs[st.client];
            c.send(st.args);
            String::from_utf8_lossy(&c.frames(st.frames)).into_owned()
        })
        .collect()
}

/// Shorthand for a step.
pub fn step<'a>(client: usize, args: &'a [&'a str], frames: usize) -> Step<'a> {
    Step {
        client,
        args,
        frames,
    }
}
