//! The operator actions every csx backend offers under the same names and parameters, so an
//! operator registers the same custom actions whatever the hypervisor: data disks, guest
//! addresses, suspend/resume and migration. Each adapter describes them in its own terms.

use crate::params::{CustomActionSpec, ParamType};

/// `AddDisk(size_gb NUMBER, storage STRING optional)`.
pub fn add_disk(what: &'static str, storage: &'static str) -> CustomActionSpec {
    CustomActionSpec::new("AddDisk", what).param("size_gb", ParamType::Number, true, "size in GiB").param(
        "storage",
        ParamType::String,
        false,
        storage,
    )
}

/// `ListDisks()`.
pub fn list_disks(what: &'static str) -> CustomActionSpec {
    CustomActionSpec::new("ListDisks", what)
}

/// `ResizeDisk(disk STRING, size_gb NUMBER)`.
pub fn resize_disk(disk: &'static str) -> CustomActionSpec {
    CustomActionSpec::new("ResizeDisk", "grow a disk to a new total size")
        .param("disk", ParamType::String, true, disk)
        .param("size_gb", ParamType::Number, true, "the new total size in GiB (never smaller)")
}

/// `RemoveDisk(disk STRING)`.
pub fn remove_disk(what: &'static str, disk: &'static str) -> CustomActionSpec {
    CustomActionSpec::new("RemoveDisk", what).param("disk", ParamType::String, true, disk)
}

/// `GetIpAddresses()`.
pub fn get_ip_addresses(what: &'static str) -> CustomActionSpec {
    CustomActionSpec::new("GetIpAddresses", what)
}

/// `Migrate(target_node STRING)`.
pub fn migrate(what: &'static str, node: &'static str) -> CustomActionSpec {
    CustomActionSpec::new("Migrate", what).param("target_node", ParamType::String, true, node)
}

/// `Suspend()` and `Resume()`.
pub fn suspend(what: &'static str) -> CustomActionSpec {
    CustomActionSpec::new("Suspend", what)
}
pub fn resume(what: &'static str) -> CustomActionSpec {
    CustomActionSpec::new("Resume", what)
}

/// `size_gb`: a whole number of GiB from 1 to 65536, or a `bad_input` error naming it.
pub fn disk_size(params: &crate::params::Params) -> crate::error::Result<u64> {
    let n = params.num("size_gb").ok_or_else(|| crate::error::Error::bad_input("parameter `size_gb` is required"))?;
    if !((1.0..=65_536.0).contains(&n) && n.fract() == 0.0) {
        // `{n:e}` for what `{n}` would spell with hundreds of digits (1e-300, 1e300).
        let shown = if n != 0.0 && !(1e-3..1e9).contains(&n.abs()) { format!("{n:e}") } else { format!("{n}") };
        return Err(crate::error::Error::bad_input(format!(
            "`size_gb` must be a whole number of GiB from 1 to 65536, found {shown}"
        )));
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{ParamValue, Params};

    #[test]
    fn absurd_sizes_are_bad_input_in_few_words() {
        for (n, shown) in [(1e-300, "1e-300"), (1e300, "1e300"), (-4.0, "-4"), (0.5, "0.5"), (70000.0, "70000")] {
            let p = Params([("size_gb".to_string(), ParamValue::Num(n))].into());
            let e = disk_size(&p).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::BadInput);
            assert!(e.message().ends_with(&format!("found {shown}")), "{}", e.message());
        }
    }
}
