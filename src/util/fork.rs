//! Forking a child that writes a snapshot (Redis: redisFork): BGSAVE, the
//! AOF rewrite and the diskless full sync all fork the same way, so they
//! share this one function and its safety argument.

use std::io;

/// Forks; the child closes `close_in_child` (the listening sockets it
/// inherited and never uses), runs `body` and leaves with `_exit`: status
/// 0 when `body` returns true, 1 when it returns false or panics. The
/// parent gets the child's pid.
///
/// `body` runs in a copy of this process with only the forking thread:
/// it may read what it inherited (the keyspace) and write files or pipes,
/// and must not wait on anything another thread or the runtime would
/// have done.
pub fn fork_child(close_in_child: &[i32], body: impl FnOnce() -> bool) -> io::Result<i32> {
    // SAFETY: picket's server runs one thread that matters (the event
    // loop, which is this one); the child touches nothing but the
    // inherited memory and the file system, then leaves with _exit (no
    // destructors, no runtime shutdown, no flushing of the parent's
    // buffers).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        for &fd in close_in_child {
            // SAFETY: closes descriptors this child inherited and never uses.
            unsafe { libc::close(fd) };
        }
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(false);
        // SAFETY: ends the child without running the parent's state down.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(pid: i32) -> i32 {
        let mut status = 0;
        // SAFETY: waits for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        assert!(libc::WIFEXITED(status));
        libc::WEXITSTATUS(status)
    }

    #[test]
    fn the_child_exits_with_what_its_body_says_and_a_panic_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let p = path.clone();
        let pid = fork_child(&[], move || std::fs::write(&p, b"from the child").is_ok()).unwrap();
        assert_eq!(status_of(pid), 0);
        assert_eq!(std::fs::read(&path).unwrap(), b"from the child");
        assert_eq!(status_of(fork_child(&[], || false).unwrap()), 1);
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let pid = fork_child(&[], || panic!("in the child"));
        std::panic::set_hook(quiet);
        assert_eq!(status_of(pid.unwrap()), 1);
    }
}
