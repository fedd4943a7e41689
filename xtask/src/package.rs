//! `cargo xtask package [--check] [--with-fake]`: one .deb and one .rpm per
//! extension in `target/dist/`, written with libraries (rpm, ar, tar, flate2) so
//! building needs no system tool, byte-identical for the same sources
//! (`SOURCE_DATE_EPOCH`, default: the last commit's time).
//!
//! Layout: `/usr/share/cloudstack-management/extensions/csx-<name>/<bin>` (0755,
//! `cloud:cloud`) — CloudStack finds it whether that directory is the 4.21+ symlink
//! to `/etc/cloudstack/extensions` or a real directory — plus the README and an
//! example of the details under `/usr/share/doc/csx-<name>/`.

use crate::util::{root, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const EXTENSIONS_DIR: &str = "/usr/share/cloudstack-management/extensions";
pub const LOG_DIR: &str = "/var/log/cloudstack/management/extensions";
const MAINTAINER: &str = "csx maintainers <csx-maintainers@users.noreply.github.com>";
const HOMEPAGE: &str = "https://github.com/csx-project/csx";

/// One extension package.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Package and extension directory name, e.g. `csx-proxmox`.
    pub name: &'static str,
    /// Binary name, e.g. `proxmox`.
    pub bin: &'static str,
    pub cargo_package: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    /// README shipped as documentation (relative to the workspace root).
    pub readme: &'static str,
    /// An example of the details an operator sets.
    pub details_example: &'static str,
    pub version: String,
}

impl Spec {
    pub fn dir(&self) -> String {
        format!("{EXTENSIONS_DIR}/{}", self.name)
    }
    pub fn entry(&self) -> String {
        format!("{}/{}", self.dir(), self.bin)
    }
    pub fn doc_dir(&self) -> String {
        format!("/usr/share/doc/{}", self.name)
    }
    fn postinst(&self) -> String {
        format!(
            "#!/bin/sh\n\
             # Give the extension to CloudStack's user and create the log directory.\n\
             set -e\n\
             if [ \"$1\" = configure ] || [ \"$1\" -ge 1 ] 2>/dev/null; then\n\
             \x20   if getent passwd cloud >/dev/null 2>&1; then\n\
             \x20       chown cloud:cloud \"${{DPKG_ROOT:-}}{dir}\" \"${{DPKG_ROOT:-}}{entry}\"\n\
             \x20       if [ -d \"${{DPKG_ROOT:-}}/var/log/cloudstack/management\" ]; then\n\
             \x20           mkdir -p \"${{DPKG_ROOT:-}}{LOG_DIR}\"\n\
             \x20           chown cloud:cloud \"${{DPKG_ROOT:-}}{LOG_DIR}\"\n\
             \x20           chmod 0750 \"${{DPKG_ROOT:-}}{LOG_DIR}\"\n\
             \x20       fi\n\
             \x20   fi\n\
             fi\n\
             exit 0\n",
            dir = self.dir(),
            entry = self.entry()
        )
    }
}

/// The packages to build: every target with packaging (the fake only `with_fake`).
pub fn specs(with_fake: bool) -> Vec<Spec> {
    let version = env!("CARGO_PKG_VERSION").to_string();
    let version = if version == "0.0.0" { workspace_version() } else { version };
    crate::targets::all()
        .into_iter()
        .filter_map(|t| {
            let p = t.packaging?;
            (p.by_default || with_fake).then(|| Spec {
                name: p.name,
                bin: t.bin,
                cargo_package: t.cargo_package,
                summary: p.summary,
                description: p.description,
                readme: p.readme,
                details_example: p.details_example,
                version: version.clone(),
            })
        })
        .collect()
}

fn workspace_version() -> String {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap_or_default();
    text.lines()
        .skip_while(|l| l.trim() != "[workspace.package]")
        .find_map(|l| l.trim().strip_prefix("version = ").map(|v| v.trim_matches('"').to_string()))
        .unwrap_or_else(|| "0.0.0".into())
}

/// `SOURCE_DATE_EPOCH`, else the last commit's time, else a fixed date.
pub fn source_date_epoch() -> u64 {
    if let Some(v) = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.parse().ok()) {
        return v;
    }
    std::process::Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(root())
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1_767_225_600)
}

/// The newest `GLIBC_2.N` symbol version the binary needs (scanned from its bytes),
/// for the libc dependency of both packages.
/// The glibc the packages depend on: the floor they are built for (or newer, should a binary
/// need it — `--check` refuses that); none for a static binary.
pub fn glibc_dependency(binary: &[u8]) -> Option<(u32, u32)> {
    glibc_needed(binary).map(|v| v.max(crate::util::GLIBC_FLOOR))
}

pub fn glibc_needed(binary: &[u8]) -> Option<(u32, u32)> {
    let needle = b"GLIBC_2.";
    let mut best: Option<(u32, u32)> = None;
    let mut i = 0;
    while let Some(pos) = binary[i..].windows(needle.len()).position(|w| w == needle) {
        let start = i + pos + needle.len();
        let digits: String =
            binary[start..].iter().take(4).take_while(|b| b.is_ascii_digit()).map(|b| *b as char).collect();
        if let Ok(minor) = digits.parse::<u32>() {
            best = best.max(Some((2, minor)));
        }
        i = start;
    }
    best
}

/// One file of a package.
struct PkgFile {
    path: String,
    mode: u32,
    /// Owned by `cloud:cloud` (else root).
    cloud: bool,
    content: Vec<u8>,
}

fn file(path: String, mode: u32, cloud: bool, content: Vec<u8>) -> PkgFile {
    PkgFile { path, mode, cloud, content }
}

/// The files of a package.
fn files(spec: &Spec, binary: &[u8]) -> Result<Vec<PkgFile>> {
    let readme = std::fs::read(root().join(spec.readme)).map_err(|e| format!("{}: {e}", spec.readme))?;
    Ok(vec![
        file(spec.entry(), 0o755, true, binary.to_vec()),
        file(format!("{}/README.md", spec.doc_dir()), 0o644, false, readme),
        file(
            format!("{}/details.example.json", spec.doc_dir()),
            0o644,
            false,
            spec.details_example.as_bytes().to_vec(),
        ),
    ])
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut e = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    e.write_all(data).map_err(|e| e.to_string())?;
    e.finish().map_err(|e| e.to_string())
}

fn tar_gz(entries: &[(String, u32, Option<&[u8]>)], epoch: u64) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, mode, content) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(*mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root").map_err(|e| e.to_string())?;
        h.set_groupname("root").map_err(|e| e.to_string())?;
        h.set_mtime(epoch);
        match content {
            Some(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_path(path).map_err(|e| e.to_string())?;
                h.set_cksum();
                b.append(&h, *data).map_err(|e| e.to_string())?;
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_path(path).map_err(|e| e.to_string())?;
                h.set_cksum();
                b.append(&h, std::io::empty()).map_err(|e| e.to_string())?;
            }
        }
    }
    gzip(&b.into_inner().map_err(|e| e.to_string())?)
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// The lintian overrides shipped in the .deb, each with its reason, so that `lintian` run
/// by anyone on the package reports no error.
pub fn lintian_overrides(spec: &Spec) -> String {
    format!(
        "# CloudStack runs an orchestrator extension only from\n\
         # {EXTENSIONS_DIR}/<extension name>/ (since 4.21 a symlink to\n\
         # /etc/cloudstack/extensions), so the binary must live under /usr/share.\n\
         {name}: arch-dependent-file-in-usr-share [{entry}]\n",
        name = spec.name,
        entry = spec.entry().trim_start_matches('/')
    )
}

/// The .deb: `debian-binary`, `control.tar.gz`, `data.tar.gz` in an ar archive.
pub fn build_deb(spec: &Spec, binary: &[u8], epoch: u64) -> Result<Vec<u8>> {
    let mut files = files(spec, binary)?;
    let changelog = format!(
        "{name} ({v}-1) unstable; urgency=medium\n\n  * Release {v}.\n\n -- {MAINTAINER}  {date}\n",
        name = spec.name,
        v = spec.version,
        date = rfc2822(epoch)
    );
    files.push(file(format!("{}/changelog.Debian.gz", spec.doc_dir()), 0o644, false, gzip(changelog.as_bytes())?));
    let copyright = format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: csx\nSource: {HOMEPAGE}\n\nFiles: *\nCopyright: 2026 csx contributors\nLicense: Apache-2.0\n On Debian systems, the full text of the Apache License 2.0 can be found in\n /usr/share/common-licenses/Apache-2.0.\n"
    );
    files.push(file(format!("{}/copyright", spec.doc_dir()), 0o644, false, copyright.into_bytes()));
    files.push(file(
        format!("/usr/share/lintian/overrides/{}", spec.name),
        0o644,
        false,
        lintian_overrides(spec).into_bytes(),
    ));
    files.sort_by(|a, b| a.path.cmp(&b.path));

    // Every parent directory, in order, then the files.
    let mut dirs: Vec<String> = Vec::new();
    for f in &files {
        let mut p = Path::new(&f.path).parent();
        let mut chain = Vec::new();
        while let Some(d) = p.filter(|d| d != &Path::new("/")) {
            chain.push(format!(".{}/", d.display()));
            p = d.parent();
        }
        for d in chain.into_iter().rev() {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    let mut data: Vec<(String, u32, Option<&[u8]>)> = vec![("./".to_string(), 0o755, None)];
    data.extend(dirs.iter().map(|d| (d.clone(), 0o755, None)));
    data.extend(files.iter().map(|f| (format!(".{}", f.path), f.mode, Some(f.content.as_slice()))));
    data.sort_by(|a, b| a.0.cmp(&b.0));
    let data_tgz = tar_gz(&data, epoch)?;

    let installed_kib: usize = files.iter().map(|f| f.content.len()).sum::<usize>().div_ceil(1024);
    let libc = glibc_dependency(binary).map(|(a, b)| format!(", libc6 (>= {a}.{b})")).unwrap_or_default();
    let control = format!(
        "Package: {}\nVersion: {}-1\nArchitecture: amd64\nMaintainer: {MAINTAINER}\nInstalled-Size: {installed_kib}\nDepends: cloudstack-management{libc}\nSection: admin\nPriority: optional\nHomepage: {HOMEPAGE}\nDescription: {}\n{}\n",
        spec.name,
        spec.version,
        spec.summary,
        spec.description.lines().map(|l| format!(" {l}")).collect::<Vec<_>>().join("\n")
    );
    let md5sums: String = files.iter().map(|f| format!("{}  {}\n", md5_hex(&f.content), &f.path[1..])).collect();
    let postinst = spec.postinst();
    let control_tgz = tar_gz(
        &[
            ("./".into(), 0o755, None),
            ("./control".into(), 0o644, Some(control.as_bytes())),
            ("./md5sums".into(), 0o644, Some(md5sums.as_bytes())),
            ("./postinst".into(), 0o755, Some(postinst.as_bytes())),
        ],
        epoch,
    )?;

    let mut ar = ar::Builder::new(Vec::new());
    for (name, content) in
        [("debian-binary", b"2.0\n".to_vec()), ("control.tar.gz", control_tgz), ("data.tar.gz", data_tgz)]
    {
        let mut h = ar::Header::new(name.as_bytes().to_vec(), content.len() as u64);
        h.set_mtime(epoch);
        h.set_mode(0o100644);
        ar.append(&h, content.as_slice()).map_err(|e| e.to_string())?;
    }
    ar.into_inner().map_err(|e| e.to_string())
}

/// The .rpm, through the rpm crate. Only our own directory is listed, never
/// CloudStack's (RPM cannot replace its symlink with a directory).
pub fn build_rpm(spec: &Spec, binary: &[u8], epoch: u64) -> Result<Vec<u8>> {
    let err = |e: rpm::Error| e.to_string();
    let config = rpm::BuildConfig::v4().compression(rpm::CompressionType::Gzip).source_date(epoch as u32);
    let mut b = rpm::PackageBuilder::new(spec.name, &spec.version, "Apache-2.0", "x86_64", spec.summary);
    b.using_config(config)
        .release("1")
        .description(spec.description)
        .add_changelog_entry(
            format!("{MAINTAINER} - {}-1", spec.version),
            format!("- Release {}", spec.version),
            rpm::Timestamp::from(epoch as u32),
        )
        .url(HOMEPAGE)
        .vendor("csx")
        .packager(MAINTAINER)
        .group("Applications/System")
        .build_host("csx-build")
        .requires(rpm::Dependency::any("cloudstack-management"))
        .requires(match glibc_dependency(binary) {
            Some((a, b)) => rpm::Dependency::greater_eq("glibc", format!("{a}.{b}")),
            None => rpm::Dependency::any("glibc"),
        })
        .post_install_script(spec.postinst().replacen("#!/bin/sh\n", "", 1));
    b.with_dir_entry(rpm::FileOptions::dir(spec.dir()).user("cloud").group("cloud").permissions(0o755)).map_err(err)?;
    b.with_dir_entry(rpm::FileOptions::dir(spec.doc_dir()).permissions(0o755)).map_err(err)?;
    for f in files(spec, binary)? {
        let o = rpm::FileOptions::new(f.path).permissions(f.mode as u16);
        let o = if f.cloud { o.user("cloud").group("cloud") } else { o.doc() };
        b.with_file_contents(f.content, o).map_err(err)?;
    }
    let pkg = b.build().map_err(err)?;
    let mut out = Vec::new();
    pkg.write(&mut out).map_err(err)?;
    Ok(out)
}

/// `Mon, 01 Jan 2026 00:00:00 +0000` for the Debian changelog.
fn rfc2822(epoch: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let c = csx_core::time::civil(epoch);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[c.weekday as usize],
        c.day,
        MONTHS[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

pub fn dist_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root().join("target")).join("dist")
}

/// Builds every package into `target/dist`; returns their paths.
pub fn build_all(with_fake: bool) -> Result<Vec<(Spec, PathBuf, PathBuf)>> {
    let specs = specs(with_fake);
    let packages: Vec<&str> = specs.iter().map(|s| s.cargo_package).collect();
    let bin_dir = crate::util::build_packaged(&packages)?;
    let dist = dist_dir();
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist).map_err(|e| e.to_string())?;
    let epoch = source_date_epoch();
    let mut out = Vec::new();
    for spec in specs {
        let binary = std::fs::read(bin_dir.join(spec.bin)).map_err(|e| format!("{}: {e}", spec.bin))?;
        let deb = dist.join(format!("{}_{}-1_amd64.deb", spec.name, spec.version));
        let rpm = dist.join(format!("{}-{}-1.x86_64.rpm", spec.name, spec.version));
        std::fs::write(&deb, build_deb(&spec, &binary, epoch)?).map_err(|e| e.to_string())?;
        std::fs::write(&rpm, build_rpm(&spec, &binary, epoch)?).map_err(|e| e.to_string())?;
        println!("{}\n{}", deb.display(), rpm.display());
        out.push((spec, deb, rpm));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn spec() -> Spec {
        specs(false).remove(0)
    }

    /// (path, mode, uid, size) of every entry in a gzip'd tar.
    fn tar_entries(tgz: &[u8]) -> Vec<(String, u32, u64, Vec<u8>)> {
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                // The tar crate normalises `./x` to `x`: put the `./` back as dpkg sees it.
                let path = format!("./{}", e.path().unwrap().display()).replace("/./", "/");
                let (mode, uid) = (e.header().mode().unwrap(), e.header().uid().unwrap());
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (path, mode, uid, data)
            })
            .collect()
    }

    fn ar_members(deb: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut a = ar::Archive::new(deb);
        let mut out = Vec::new();
        while let Some(m) = a.next_entry() {
            let mut m = m.unwrap();
            let name = String::from_utf8(m.header().identifier().to_vec()).unwrap();
            let mut data = Vec::new();
            m.read_to_end(&mut data).unwrap();
            out.push((name, data));
        }
        out
    }

    #[test]
    fn deb_contents_modes_and_scripts() {
        let deb = build_deb(&spec(), b"\x7fELF binary", 1_700_000_000).unwrap();
        let members = ar_members(&deb);
        assert_eq!(
            members.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
            ["debian-binary", "control.tar.gz", "data.tar.gz"]
        );
        assert_eq!(members[0].1, b"2.0\n");
        let control = tar_entries(&members[1].1);
        let get = |n: &str| control.iter().find(|e| e.0 == n).unwrap_or_else(|| panic!("{n} missing"));
        let ctl = String::from_utf8(get("./control").3.clone()).unwrap();
        assert!(
            ctl.contains("Package: csx-proxmox\n")
                && ctl.contains("Depends: cloudstack-management\n")
                && ctl.contains("Architecture: amd64\n"),
            "{ctl}"
        );
        let post = get("./postinst");
        assert_eq!(post.1, 0o755);
        let script = String::from_utf8(post.3.clone()).unwrap();
        assert!(script.contains("chown cloud:cloud \"${DPKG_ROOT:-}/usr/share/cloudstack-management/extensions/csx-proxmox\" \"${DPKG_ROOT:-}/usr/share/cloudstack-management/extensions/csx-proxmox/proxmox\""), "{script}");
        assert!(!script.contains("chown -R"));
        let data = tar_entries(&members[2].1);
        let bin =
            data.iter().find(|e| e.0 == "./usr/share/cloudstack-management/extensions/csx-proxmox/proxmox").unwrap();
        assert_eq!((bin.1, bin.2, bin.3.as_slice()), (0o755, 0, &b"\x7fELF binary"[..]));
        assert!(data.iter().any(|e| e.0 == "./usr/share/doc/csx-proxmox/README.md" && e.1 == 0o644));
        assert!(data.iter().any(|e| e.0 == "./usr/share/doc/csx-proxmox/details.example.json"));
        assert!(
            !data.iter().any(|e| e.0.contains("proxmox.sh") || e.0.contains("Proxmox/")),
            "never the built-in's files"
        );
        let md5 = String::from_utf8(get("./md5sums").3.clone()).unwrap();
        assert!(md5.contains("  usr/share/cloudstack-management/extensions/csx-proxmox/proxmox\n"));
    }

    #[test]
    fn rpm_contents_owners_and_scripts() {
        let bytes = build_rpm(&spec(), b"\x7fELF binary", 1_700_000_000).unwrap();
        let pkg = rpm::Package::parse(&mut std::io::Cursor::new(bytes)).unwrap();
        let m = &pkg.metadata;
        assert_eq!(m.get_name().unwrap(), "csx-proxmox");
        assert!(m.get_requires().unwrap().iter().any(|d| d.name == "cloudstack-management"));
        assert!(m.get_post_install_script().unwrap().script.contains("chown cloud:cloud"));
        let entries = m.get_file_entries().unwrap();
        let bin = entries
            .iter()
            .find(|e| e.path().to_str() == Some("/usr/share/cloudstack-management/extensions/csx-proxmox/proxmox"))
            .unwrap();
        assert_eq!((bin.user(), bin.group(), bin.permissions()), ("cloud", "cloud", 0o755));
        let dir = entries
            .iter()
            .find(|e| e.path().to_str() == Some("/usr/share/cloudstack-management/extensions/csx-proxmox"))
            .unwrap();
        assert_eq!((dir.user(), dir.permissions()), ("cloud", 0o755));
        assert!(
            !entries.iter().any(|e| e.path().to_str() == Some(EXTENSIONS_DIR)),
            "CloudStack's (symlinked) directory is never listed"
        );
    }

    #[test]
    fn packages_are_reproducible() {
        let s = spec();
        assert_eq!(build_deb(&s, b"x", 1_700_000_000).unwrap(), build_deb(&s, b"x", 1_700_000_000).unwrap());
        assert_eq!(build_rpm(&s, b"x", 1_700_000_000).unwrap(), build_rpm(&s, b"x", 1_700_000_000).unwrap());
        assert_ne!(build_deb(&s, b"x", 1_700_000_000).unwrap(), build_deb(&s, b"x", 1_700_000_001).unwrap());
        assert_eq!(rfc2822(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(glibc_needed(b"..GLIBC_2.17\0GLIBC_2.34\0GLIBC_2.3.4\0"), Some((2, 34)));
        assert_eq!(glibc_needed(b"static"), None);
    }
}
