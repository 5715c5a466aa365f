//! No code: see this crate's `Cargo.toml`. Its dependencies unify the features of the crates
//! under the AWS SDK across the workspace's members.
