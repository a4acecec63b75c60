//! One module per route.

pub mod nodes;
