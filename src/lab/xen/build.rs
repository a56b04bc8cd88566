//! Which Xen build each lab host runs: the Debian suite its dom0 image is
//! built from (`lab up --xen N --dom0 SUITE[,SUITE...]`), and what that build
//! holds (Xen, libvirt and dom0 kernel versions, and the local packages of
//! `lab up --debs`, from the image's manifest).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::image::Variant;
use crate::image::inputs::InputFile;

/// The dom0 images virtsmoke can build (images/xen-dom0/build.sh).
pub const SUITES: [&str; 3] = ["bullseye", "bookworm", "trixie"];
/// The suite of a host nothing else was asked for.
pub const DEFAULT_SUITE: &str = "bookworm";

/// What a host's dom0 image was built from, as its manifest says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dom0Build {
    pub suite: String,
    pub xen_version: String,
    pub libvirt_version: String,
    pub kernel_version: String,
    /// Packages of the developer's own (`lab up --debs`) installed over the
    /// suite's: package name, version.
    pub local_packages: BTreeMap<String, String>,
}

impl Dom0Build {
    /// `bookworm: Xen 4.17.5 libvirt 9.0.0-4+deb12u2`, then `, local
    /// packages: NAME VERSION, ...` when there are any.
    pub fn summary(&self) -> String {
        let mut s = format!("{}: Xen {} libvirt {}", self.suite, self.xen_version, self.libvirt_version);
        if !self.local_packages.is_empty() {
            let local: Vec<String> = self.local_packages.iter().map(|(p, v)| format!("{p} {v}")).collect();
            s.push_str(&format!(", local packages: {}", local.join(", ")));
        }
        s
    }
}

/// The suite of each of `count` hosts: none given is the default for all,
/// one is for all, otherwise one per host, in host order.
pub fn per_host(count: u32, suites: &[String]) -> Result<Vec<String>, String> {
    if let Some(bad) = suites.iter().find(|s| !SUITES.contains(&s.as_str())) {
        return Err(format!("no dom0 image for suite `{bad}` (known: {})", SUITES.join(", ")));
    }
    match suites {
        [] => Ok(vec![DEFAULT_SUITE.to_string(); count as usize]),
        [one] => Ok(vec![one.clone(); count as usize]),
        many if many.len() == count as usize => Ok(many.to_vec()),
        many => Err(format!("{} dom0 suites for {count} hosts: give one for all, or one per host", many.len())),
    }
}

/// The image variant of a suite, with local packages (see `debs.rs`) or
/// none: the recipe reads the suite from its environment, the packages from
/// its input files.
pub fn image_variant(suite: &str, debs: &[InputFile]) -> Variant {
    Variant { env: vec![("VIRTSMOKE_DOM0_SUITE".to_string(), suite.to_string())], files: debs.to_vec() }
}

/// The build an image directory holds, from its `manifest.json`; none if
/// it cannot be read. An image built before suites existed is bookworm's.
pub fn of_image(dir: &Path) -> Option<Dom0Build> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
    let m: serde_json::Value = serde_json::from_str(&text).ok()?;
    let field = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let suite = Some(field("suite")).filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT_SUITE.to_string());
    Some(Dom0Build {
        suite,
        xen_version: field("xen_version"),
        libvirt_version: field("libvirt_version"),
        kernel_version: field("kernel_version"),
        local_packages: m
            .get("local_packages")
            .and_then(|l| l.as_object())
            .map(|l| l.iter().map(|(p, v)| (p.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn suites_are_one_for_all_or_one_per_host() {
        assert_eq!(per_host(2, &[]).unwrap(), v(&["bookworm", "bookworm"]));
        assert_eq!(per_host(2, &v(&["trixie"])).unwrap(), v(&["trixie", "trixie"]));
        assert_eq!(per_host(2, &v(&["bookworm", "trixie"])).unwrap(), v(&["bookworm", "trixie"]));
        let e = per_host(3, &v(&["bookworm", "trixie"])).unwrap_err();
        assert_eq!(e, "2 dom0 suites for 3 hosts: give one for all, or one per host");
        let e = per_host(1, &v(&["sid"])).unwrap_err();
        assert_eq!(e, "no dom0 image for suite `sid` (known: bullseye, bookworm, trixie)");
    }

    #[test]
    fn the_build_is_read_from_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(of_image(dir.path()), None);
        std::fs::write(
            dir.path().join("manifest.json"),
            r#"{"suite": "trixie", "kernel_version": "6.12.57+deb13-amd64", "xen_version": "4.20.1+10-1",
                "libvirt_version": "11.3.0-3", "packages": {}}"#,
        )
        .unwrap();
        let b = of_image(dir.path()).unwrap();
        assert_eq!((b.suite.as_str(), b.xen_version.as_str()), ("trixie", "4.20.1+10-1"));
        assert_eq!(b.libvirt_version, "11.3.0-3");
        assert!(b.local_packages.is_empty());
        assert_eq!(b.summary(), "trixie: Xen 4.20.1+10-1 libvirt 11.3.0-3");
        std::fs::write(dir.path().join("manifest.json"), r#"{"xen_version": "4.17.5"}"#).unwrap();
        assert_eq!(of_image(dir.path()).unwrap().suite, "bookworm");
    }

    #[test]
    fn local_packages_are_read_from_the_manifest_and_summed_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("manifest.json"),
            r#"{"suite": "bookworm", "xen_version": "4.17.5", "libvirt_version": "9.0.0-4+deb12u2",
                "packages": {"libvirt-daemon-driver-xen": "9.0.0-4+deb12u2+virtsmoke1"},
                "local_packages": {"libvirt-daemon-driver-xen": "9.0.0-4+deb12u2+virtsmoke1"}}"#,
        )
        .unwrap();
        let b = of_image(dir.path()).unwrap();
        assert_eq!(b.local_packages["libvirt-daemon-driver-xen"], "9.0.0-4+deb12u2+virtsmoke1");
        assert_eq!(
            b.summary(),
            "bookworm: Xen 4.17.5 libvirt 9.0.0-4+deb12u2, \
             local packages: libvirt-daemon-driver-xen 9.0.0-4+deb12u2+virtsmoke1"
        );
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["local_packages"]["libvirt-daemon-driver-xen"], "9.0.0-4+deb12u2+virtsmoke1");
    }

    #[test]
    fn the_variant_carries_the_suite_and_the_packages() {
        let deb = InputFile { name: "a_1_all.deb".into(), path: "/d/a_1_all.deb".into(), sha256: "00".into() };
        let v = image_variant("trixie", std::slice::from_ref(&deb));
        assert_eq!(v.env, [("VIRTSMOKE_DOM0_SUITE".to_string(), "trixie".to_string())]);
        assert_eq!(v.files, [deb]);
        assert!(image_variant("trixie", &[]).files.is_empty());
    }
}
