//! License providers: where licenses come from. Each turns its service's data into the plain
//! records of `records`, which the sync engine writes.

pub mod records;
