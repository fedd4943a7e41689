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

fn load(p: &Path) -> Result<World> {
    match std::fs::read(p) {
        Ok(bytes) if bytes.is_empty() => Ok(World::default()),
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::bad_input(format!("fake state file {} is corrupt ({e}); delete it to start afresh", p.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(World::default()),
        Err(e) => Err(io_err("read", p, e)),
    }
}

fn save(p: &Path, w: &World) -> Result<()> {
    let tmp = p.with_extension(format!("tmp.{}", std::process::id()));
    let bytes = serde_json::to_vec_pretty(w).map_err(|e| Error::internal(e.to_string()))?;
    let mut f = File::create(&tmp).map_err(|e| io_err("write", &tmp, e))?;
    f.write_all(&bytes).map_err(|e| io_err("write", &tmp, e))?;
    std::fs::rename(&tmp, p).map_err(|e| io_err("replace", p, e))
}
