//! moto in server mode ([`infra::local::Moto`]), and the Python of its venv (with boto3,
//! PyYAML and jsonschema), which runs the tests' probes in `tests/scripts/`.

use std::path::PathBuf;

pub use infra::local::Moto;

/// The repository's root.
pub fn repository() -> PathBuf {
    infra::local::repository_root()
}

/// The Python of moto's venv.
pub fn python() -> PathBuf {
    repository().join(".local/moto-venv/bin/python")
}
