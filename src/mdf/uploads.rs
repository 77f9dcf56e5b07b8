//! Files partners upload (MDF proof of performance), kept under `CONCORD_DATA_DIR/uploads` with random names: the
//! name a partner gave never reaches the file system, and a stored name cannot be guessed. Who may read a file is
//! decided by its database row, not here.

use std::io::Write;
use std::path::{Path, PathBuf};

/// One proof file a partner sent that passed the checks (size, and a PDF, PNG or JPEG by its content), waiting on
/// disk to be kept or dropped.
pub struct ProofUpload {
    /// The partner's file name, cleaned; shown, never used as a path.
    pub name: String,
    pub kind: &'static str,
    pub file: PendingFile,
}

/// A file being received: written to `<random>.partial` beside the stored files as it arrives (never held in
/// memory), kept under a final name by `keep`, and removed when dropped without being kept, so a refused form,
/// an error or a dropped connection leaves nothing behind.
pub struct PendingFile {
    path: PathBuf,
    file: Option<std::fs::File>,
    size: u64,
    head: Vec<u8>,
}

/// How many leading bytes are kept in memory to judge a file by its content.
const HEAD_BYTES: usize = 16;

impl PendingFile {
    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        self.size += chunk.len() as u64;
        match self.file.as_mut() {
            Some(file) => file.write_all(chunk),
            None => Err(std::io::Error::other("the file was closed")),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first bytes, enough to tell a PDF, PNG or JPEG.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Syncs the file and gives it its final random name; returns that name.
    fn keep(&mut self, dir: &Path) -> std::io::Result<String> {
        let file = self
            .file
            .take()
            .ok_or_else(|| std::io::Error::other("the file was closed"))?;
        file.sync_all()?;
        drop(file);
        let name = crate::platform::auth::token::new_token();
        std::fs::rename(&self.path, dir.join(&name))?;
        self.path = PathBuf::new();
        Ok(name)
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
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

    /// Opens a new partial file to receive an upload.
    pub fn begin(&self) -> std::io::Result<PendingFile> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(format!(
            "{}.partial",
            crate::platform::auth::token::new_token()
        ));
        let file = std::fs::File::create(&path)?;
        Ok(PendingFile {
            path,
            file: Some(file),
            size: 0,
            head: Vec::new(),
        })
    }

    /// Keeps a received file under its final name; returns the name.
    pub fn keep(&self, pending: &mut PendingFile) -> std::io::Result<String> {
        pending.keep(&self.dir)
    }

    /// Removes partial files older than an hour: uploads cut off by a crash. Younger ones may be arriving at
    /// another instance sharing the directory.
    pub fn remove_abandoned(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .filter(|e| {
                e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|at| at < hour_ago)
            })
            .filter(|e| std::fs::remove_file(e.path()).is_ok())
            .count()
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
        let mut pending = uploads.begin().unwrap();
        pending.write(b"%PDF-1.4 proof").unwrap();
        let name = uploads.keep(&mut pending).unwrap();
        assert_eq!(uploads.read(&name).unwrap(), b"%PDF-1.4 proof");
        assert!(dir.path().join("uploads").join(&name).exists());
        assert!(uploads.read("../../etc/passwd").is_err());
        uploads.remove(&name);
        assert!(uploads.read(&name).is_err());
    }

    #[test]
    fn a_pending_file_is_gone_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::new(dir.path());
        let count = || {
            std::fs::read_dir(dir.path().join("uploads"))
                .unwrap()
                .count()
        };
        let mut dropped = uploads.begin().unwrap();
        dropped.write(b"%PDF-1.4 ").unwrap();
        assert_eq!(count(), 1);
        drop(dropped);
        assert_eq!(count(), 0);

        let mut kept = uploads.begin().unwrap();
        kept.write(b"%PDF-1.4 ").unwrap();
        kept.write(b"proof of the event").unwrap();
        assert_eq!((kept.size(), kept.head()), (27, &b"%PDF-1.4 proof o"[..]));
        let name = uploads.keep(&mut kept).unwrap();
        drop(kept);
        assert_eq!(uploads.read(&name).unwrap(), b"%PDF-1.4 proof of the event");
        assert_eq!(count(), 1);
    }
}
