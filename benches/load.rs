//! Placeholder: the load benchmark lands with its own commit.
fn main() {}
