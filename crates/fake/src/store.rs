//! Where the fake world lives: in memory, or in a JSON state file shared by
//! concurrent processes (exclusive lock on a sibling `.lock` file for writers,
//! atomic rename so that readers never see a partial file).

use crate::World;
use csx_core::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub enum Store {
    Memory(Arc<Mutex<World>>),
    File(PathBuf),
}

impl Store {
    pub fn memory() -> Self {
        Store::Memory(Arc::default())
    }
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Store::File(path.into())
    }

    /// A snapshot of the world.
    pub async fn read(&self) -> Result<World> {
        match self {
            Store::Memory(m) => Ok(m.lock().unwrap_or_else(|e| e.into_inner()).clone()),
            Store::File(p) => {
                let p = p.clone();
                blocking(move || load(&p)).await
            }
        }
    }

    /// Applies `f` atomically: on error nothing is changed.
    pub async fn update<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut World) -> Result<R> + Send + 'static,
    {
        match self {
            Store::Memory(m) => {
                let mut guard = m.lock().unwrap_or_else(|e| e.into_inner());
                let mut next = guard.clone();
                let r = f(&mut next)?;
                *guard = next;
                Ok(r)
            }
            Store::File(p) => {
                let p = p.clone();
                blocking(move || {
                    let lock = lock_file(&p)?;
                    let mut w = load(&p)?;
                    let r = f(&mut w)?;
                    save(&p, &w)?;
                    drop(lock);
                    Ok(r)
                })
                .await
            }
        }
    }
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> Result<R> + Send + 'static) -> Result<R> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::internal(format!("state file worker failed: {e}")))?
}

fn io_err(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::bad_input(format!(
        "cannot {what} fake state file {}: {e} (set detail `state_file` to a writable path)",
        p.display()
    ))
}

fn lock_file(p: &Path) -> Result<File> {
    let lp = p.with_extension("lock");
    let f =
        OpenOptions::new().create(true).truncate(false).write(true).open(&lp).map_err(|e| io_err("lock", &lp, e))?;
    f.lock().map_err(|e| io_err("lock", &lp, e))?;
    Ok(f)
}

/// The largest state file read: thousands of instances take a few MiB.
pub const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// A state file that exists must be a regular file (not a directory, device, FIFO or
/// symbolic link): csx never reads through, nor replaces, anything else — not even as root.
fn check_regular(p: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_file() => Ok(true),
        Ok(m) => {
            let what = if m.file_type().is_symlink() {
                "a symbolic link"
            } else if m.is_dir() {
                "a directory"
            } else {
                "not a regular file"
            };
            Err(Error::bad_input(format!(
                "fake state file {} is {what}; csx reads and replaces only regular files (set detail `state_file` \
                 to a file path)",
                p.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("inspect", p, e)),
    }
}

fn load(p: &Path) -> Result<World> {
    if !check_regular(p)? {
        return Ok(World::default());
    }
    let read = File::open(p).and_then(|f| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_STATE_BYTES + 1), &mut bytes).map(|_| bytes)
    });
    match read {
        Ok(bytes) if bytes.len() as u64 > MAX_STATE_BYTES => Err(Error::bad_input(format!(
            "fake state file {} is larger than {} MiB; this is not a state file csx wrote",
            p.display(),
            MAX_STATE_BYTES >> 20
        ))),
        Ok(bytes) if bytes.is_empty() => Ok(World::default()),
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::bad_input(format!("fake state file {} is corrupt ({e}); delete it to start afresh", p.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(World::default()),
        Err(e) => Err(io_err("read", p, e)),
    }
}

fn save(p: &Path, w: &World) -> Result<()> {
    check_regular(p)?;
    let tmp = p.with_extension(format!("tmp.{}", std::process::id()));
    let bytes = serde_json::to_vec_pretty(w).map_err(|e| Error::internal(e.to_string()))?;
    let mut f = File::create(&tmp).map_err(|e| io_err("write", &tmp, e))?;
    f.write_all(&bytes).map_err(|e| io_err("write", &tmp, e))?;
    std::fs::rename(&tmp, p).map_err(|e| io_err("replace", p, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_regular_files_are_read_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, b"do not replace").unwrap();
        let link = dir.path().join("state.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let store = Store::file(&link);
        let e = store.update(|_| Ok(())).await.unwrap_err();
        assert!(e.message().contains("symbolic link"), "{}", e.message());
        assert_eq!(std::fs::read(&target).unwrap(), b"do not replace");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still there");
        let e = Store::file(dir.path()).read().await.unwrap_err();
        assert!(e.message().contains("a directory"), "{}", e.message());
    }

    #[tokio::test]
    async fn oversized_state_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let f = File::create(&path).unwrap();
        f.set_len(MAX_STATE_BYTES + 1).unwrap();
        let e = Store::file(&path).read().await.unwrap_err();
        assert!(e.message().contains("larger than"), "{}", e.message());
    }
}
