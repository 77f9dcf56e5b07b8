//! Files partners upload (MDF proof of performance), kept under `CONCORD_DATA_DIR/uploads` with random names: the
//! name a partner gave never reaches the file system, and a stored name cannot be guessed. Who may read a file is
//! decided by its database row, not here.

use std::io::Write;
use std::path::{Path, PathBuf};

/// One proof file a partner sent that passed the checks (size, and a PDF, PNG or JPEG by its content), before it
/// is stored.
pub struct ProofUpload {
    /// The partner's file name, cleaned; shown, never used as a path.
    pub name: String,
    pub kind: &'static str,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Uploads {
    dir: PathBuf,
}

impl Uploads {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("uploads"),
        }
    }

    /// Writes the bytes under a new random name and returns the name. The file appears whole or not at all: it is
    /// written beside its final name, synced, then renamed.
    pub fn store(&self, bytes: &[u8]) -> std::io::Result<String> {
        std::fs::create_dir_all(&self.dir)?;
        let name = crate::platform::auth::token::new_token();
        let partial = self.dir.join(format!("{name}.partial"));
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&partial, self.dir.join(&name))?;
        Ok(name)
    }

    /// The bytes of a stored file. Only names `store` made are accepted, so no path can be smuggled in.
    pub fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path_of(name)?)
    }

    /// Removes a stored file whose database row was never written.
    pub fn remove(&self, name: &str) {
        if let Ok(path) = self.path_of(name) {
            let _ = std::fs::remove_file(path);
        }
    }

    fn path_of(&self, name: &str) -> std::io::Result<PathBuf> {
        if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(self.dir.join(name))
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a stored upload name",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_files_read_back_and_foreign_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::new(dir.path());
        let name = uploads.store(b"%PDF-1.4 proof").unwrap();
        assert_eq!(uploads.read(&name).unwrap(), b"%PDF-1.4 proof");
        assert!(dir.path().join("uploads").join(&name).exists());
        assert!(uploads.read("../../etc/passwd").is_err());
        uploads.remove(&name);
        assert!(uploads.read(&name).is_err());
    }
}
