//! The side-by-side runner (filled in below).
