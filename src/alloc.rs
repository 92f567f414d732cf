//! Memory accounting: a global allocator wrapping jemalloc that keeps a
//! running total of allocated bytes (usable sizes), the figure INFO reports as
//! `used_memory` and `maxmemory` is checked against, as redis-server's
//! zmalloc does with jemalloc.
//!
//! The binaries install it with `#[global_allocator]`; in unit tests the
//! system allocator runs and `allocated()` is 0.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

use tikv_jemallocator::Jemalloc;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

/// jemalloc, counting.
pub struct CountingJemalloc;

/// Bytes currently allocated through `CountingJemalloc`.
pub fn allocated() -> usize {
    ALLOCATED.load(Ordering::Relaxed)
}

// SAFETY: every method forwards to jemalloc with the same arguments; the
// counter only observes sizes.
unsafe impl GlobalAlloc for CountingJemalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = Jemalloc.alloc(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(tikv_jemallocator::usable_size(p), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = Jemalloc.alloc_zeroed(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(tikv_jemallocator::usable_size(p), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(tikv_jemallocator::usable_size(ptr), Ordering::Relaxed);
        Jemalloc.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = tikv_jemallocator::usable_size(ptr);
        let p = Jemalloc.realloc(ptr, layout, new_size);
        if !p.is_null() {
            let new = tikv_jemallocator::usable_size(p);
            if new >= old {
                ALLOCATED.fetch_add(new - old, Ordering::Relaxed);
            } else {
                ALLOCATED.fetch_sub(old - new, Ordering::Relaxed);
            }
        }
        p
    }
}
