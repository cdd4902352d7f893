//! The binary's allocator: mimalloc for blocks under 4 KiB, the C library's malloc for larger
//! ones. mimalloc takes a fraction of glibc's instructions per allocation (which were a
//! quarter of a short deploy's own instructions, BENCHMARKS.md P1i, and a third of a
//! large plan's); glibc's malloc keeps the output buffers of P3 (64 KiB, often freed by
//! another thread than the one that made them) within its memory target, where mimalloc
//! alone held 3-5 MB more. mimalloc's v2 (the crate's `v2` feature), not v3: v3's start
//! sets up the bitmaps of a 1 GiB arena (40 more page faults), and P1 was 0.1–0.2 ms
//! slower with it (BENCHMARKS.md, round 6).
//!
//! Which allocator owns a block follows from its size alone, which Rust passes again
//! when the block is freed or resized, so no block is ever given to the wrong one.

use std::alloc::{GlobalAlloc, Layout, System};

use mimalloc::MiMalloc;

/// Blocks of this size or more come from the C library's malloc.
const LARGE: usize = 4 * 1024;

pub struct Split;

/// `$call` on the allocator that owns blocks of `$size` bytes.
macro_rules! owner {
    ($size:expr, $call:ident($($arg:expr),*)) => {
        if $size >= LARGE {
            System.$call($($arg),*)
        } else {
            MiMalloc.$call($($arg),*)
        }
    };
}

// SAFETY: each call goes to the allocator that owns the block (decided by its size, the
// same at allocation and at free); a resize across the threshold allocates from the
// other allocator, copies and frees, as `GlobalAlloc::realloc`'s default does.
unsafe impl GlobalAlloc for Split {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { owner!(layout.size(), alloc(layout)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { owner!(layout.size(), alloc_zeroed(layout)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { owner!(layout.size(), dealloc(ptr, layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            if (layout.size() >= LARGE) == (new_size >= LARGE) {
                return owner!(new_size, realloc(ptr, layout, new_size));
            }
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
