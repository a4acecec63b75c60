//! One module per route.

pub mod gpus;
pub mod login;
pub mod node;
pub mod nodes;
pub mod overview;
