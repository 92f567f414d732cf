//! The replication backlog (Redis: repl_backlog): the last `size` bytes of
//! the replication stream, so a replica that reconnects after a short
//! break gets only what it missed (PSYNC → +CONTINUE). Pure.
//!
//! Offsets are those of the stream: the byte at offset `o` is the `o`-th
//! byte ever fed (the first is 1), as in Redis's master_repl_offset.

/// A ring buffer over the newest bytes of the stream.
#[derive(Debug, Clone)]
pub struct Backlog {
    buf: Vec<u8>,
    /// Where the next byte goes.
    idx: usize,
    /// Bytes held (≤ buf.len()).
    histlen: usize,
    /// Offset of the last byte fed (master_repl_offset).
    end: u64,
}

impl Backlog {
    /// An empty backlog of `size` bytes whose next byte has offset `end + 1`.
    pub fn new(size: usize, end: u64) -> Backlog {
        Backlog {
            buf: vec![0; size.max(16 * 1024)],
            idx: 0,
            histlen: 0,
            end,
        }
    }

    /// Capacity in bytes.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes held (repl_backlog_histlen).
    pub fn histlen(&self) -> usize {
        self.histlen
    }

    /// Offset of the first byte held (repl_backlog_first_byte_offset).
    pub fn first_offset(&self) -> u64 {
        self.end + 1 - self.histlen as u64
    }

    /// Offset of the last byte fed.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Appends stream bytes.
    pub fn feed(&mut self, mut data: &[u8]) {
        self.end += data.len() as u64;
        let size = self.buf.len();
        if data.len() > size {
            data = &data[data.len() - size..];
        }
        while !data.is_empty() {
            let n = (size - self.idx).min(data.len());
            self.buf[self.idx..self.idx + n].copy_from_slice(&data[..n]);
            self.idx = (self.idx + n) % size;
            self.histlen = (self.histlen + n).min(size);
            data = &data[n..];
        }
    }

    /// The bytes from offset `from` to the end, if the backlog still holds
    /// them (Redis: addReplyReplicationBacklog). `from == end + 1` is an
    /// empty, valid range.
    pub fn since(&self, from: u64) -> Option<Vec<u8>> {
        if from < self.first_offset() || from > self.end + 1 {
            return None;
        }
        let len = (self.end + 1 - from) as usize;
        let size = self.buf.len();
        let start = (self.idx + size - len % size) % size;
        let mut out = Vec::with_capacity(len);
        if len == 0 {
            return Some(out);
        }
        if start + len <= size {
            out.extend_from_slice(&self.buf[start..start + len]);
        } else {
            out.extend_from_slice(&self.buf[start..]);
            out.extend_from_slice(&self.buf[..len - (size - start)]);
        }
        Some(out)
    }

    /// Changes the capacity, keeping the newest bytes that fit.
    pub fn resize(&mut self, size: usize) {
        let keep = self.since(self.first_offset()).unwrap_or_default();
        let mut b = Backlog::new(size, self.end - keep.len() as u64);
        b.feed(&keep);
        *self = b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_ranges_while_it_wraps() {
        let mut b = Backlog::new(16 * 1024, 100);
        assert_eq!(b.since(101), Some(vec![]));
        assert_eq!(b.since(100), None);
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(777) {
            b.feed(chunk);
        }
        assert_eq!(b.end(), 100 + 40_000);
        assert_eq!(b.histlen(), 16 * 1024);
        let first = b.first_offset();
        assert_eq!(first, 100 + 40_000 - 16 * 1024 + 1);
        assert_eq!(b.since(first - 1), None);
        for from in [first, first + 1, first + 5000, b.end(), b.end() + 1] {
            let want = &data[(from - 101) as usize..];
            assert_eq!(b.since(from).unwrap(), want, "from {from}");
        }
        assert_eq!(b.since(b.end() + 2), None);
    }

    #[test]
    fn a_feed_bigger_than_the_buffer_keeps_its_tail() {
        let mut b = Backlog::new(16 * 1024, 0);
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 13) as u8).collect();
        b.feed(&data);
        assert_eq!(
            b.since(b.first_offset()).unwrap(),
            &data[50_000 - 16 * 1024..]
        );
        b.resize(20 * 1024);
        assert_eq!(b.end(), 50_000);
        assert_eq!(
            b.since(b.first_offset()).unwrap(),
            &data[50_000 - 16 * 1024..]
        );
    }
}
