//! What the operator's and the instance's details may name on the host: a WinRM `url` without
//! credentials in it, and paths from the instance's side that stay local (issue #18 §1).

use csx_core::config::Source;
use csx_core::{Error, Payload, Result};

/// The `url` detail, refused when it carries credentials (`https://user:password@host`): the
/// account belongs in `username` and `password`, and the error never repeats what was given.
pub(crate) fn without_credentials(url: &str) -> Result<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    if rest.split(['/', '?', '#']).next().unwrap_or("").contains('@') {
        return Err(Error::bad_input(
            "detail `url` carries credentials (`user:password@`); refused: give the host or URL alone and set \
             `username` and `password` as host details",
        ));
    }
    Ok(url)
}

/// A path the instance's owner can set (a template, an ISO, a disk folder) must be a local
/// absolute path on the host (`X:\\…`): never a UNC path (`\\\\server\\share`, to which the host
/// would authenticate with its own account) nor one that climbs with `..`.
pub(crate) fn local_path(key: &str, path: &str) -> Result<()> {
    let b = path.as_bytes();
    let drive = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/');
    let climbs = path.split(['\\', '/']).any(|part| part == "..");
    if drive && !climbs && !path.contains(['\n', '\r', '\0']) {
        return Ok(());
    }
    Err(Error::bad_input(format!(
        "`{key}` must be a local absolute path on the Hyper-V host (like D:\\Templates\\debian.vhdx), without `..` and \
         not a network (UNC) path, found {path:?}"
    )))
}

/// A path key, checked with [`local_path`] when it comes from the instance's own details
/// (the operator's host, extension and cluster details are trusted as given).
pub(crate) fn instance_path<'a>(p: &'a Payload, key: &csx_core::Key) -> Result<&'a str> {
    let path = p.require_detail(key)?;
    if matches!(p.detail_source(key), Some((_, Source::Instance | Source::InstanceExternal))) {
        local_path(key.name, path)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        assert!(without_credentials("https://hv01:5986/wsman").is_ok());
        assert!(without_credentials("hv01").is_ok());
        let e = without_credentials("https://admin:S3cret@hv01/wsman").unwrap_err();
        assert!(!e.message().contains("S3cret"), "{}", e.message());
        assert!(without_credentials("admin:S3cret@hv01").is_err());
        assert!(local_path("iso_path", "D:\\ISO\\x.iso").is_ok());
        assert!(local_path("iso_path", "d:/ISO/x.iso").is_ok());
        for bad in ["\\\\srv\\share\\x.iso", "//srv/share/x.iso", "C:\\a\\..\\b", "ISO\\x.iso", "C:x.iso", "C:\\a\nb"] {
            assert!(local_path("iso_path", bad).is_err(), "{bad}");
        }
    }
}
