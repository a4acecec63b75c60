//! One module per route.

pub mod login;
pub mod nodes;
