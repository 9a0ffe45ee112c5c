//! Integration tests of netproof's reports, on hand-made runs.
//!
//! One test binary (fast linking on two cores); each module covers one
//! output. Runs are built by hand in `fixture` with fixed timestamps, so
//! snapshots are stable and no database is needed.

mod compare;
mod fixture;
mod html;
mod junit;
mod markdown;
mod odd_data;
mod store;
mod summary;
mod terminal;
mod xml;
