//! A server's data directory for one test, new when made and removed when dropped.

use std::path::PathBuf;

/// A fresh data directory, named after the test (`name`) and this process.
pub struct DataDir(PathBuf);

impl DataDir {
    /// An empty directory path under the system's temporary directory (the server creates it).
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("shipwatch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    /// The path, as the server's `--data-dir` takes it.
    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
