//! Forgetting a lab host's SSH host key in the user's `~/.ssh/known_hosts`.
//!
//! libvirt's `xen+ssh` transport runs `ssh`, which with `no_verify=1`
//! records the dom0's host key under `[127.0.0.1]:PORT`. A host started
//! afresh (another dom0 image build, or a host of another lab on the same
//! port) has another key; ssh then still logs in, but prints a screenful of
//! "REMOTE HOST IDENTIFICATION HAS CHANGED" into every libvirt error. So the
//! lab removes that one entry whenever it starts or removes a host.

use std::path::PathBuf;

use super::layout::XenHostLayout;
use crate::lab::command::{self, QUICK};

/// `$HOME/.ssh/known_hosts`, if `HOME` is set.
fn user_known_hosts() -> Option<PathBuf> {
    Some(PathBuf::from(std::env::var_os("HOME")?).join(".ssh/known_hosts"))
}

/// The name ssh files the host's key under.
pub fn entry_name(host: &XenHostLayout) -> String {
    format!("[127.0.0.1]:{}", host.port())
}

/// Removes the host's entry, if there is one. Best effort: a failure only
/// means the warning may show up again.
pub fn forget(host: &XenHostLayout) {
    let Some(file) = user_known_hosts().filter(|f| f.is_file()) else {
        return;
    };
    let file = file.display().to_string();
    let name = entry_name(host);
    let found = command::run(
        "look up the lab host key",
        &mut command::command(&["ssh-keygen", "-F", &name, "-f", &file]),
        QUICK,
    )
    .is_ok_and(|out| !out.stdout.is_empty());
    if found {
        let _ = command::run(
            "forget the lab host key",
            &mut command::command(&["ssh-keygen", "-R", &name, "-f", &file]),
            QUICK,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn entries_are_named_like_ssh_names_them() {
        assert_eq!(entry_name(&XenHostLayout::new(Path::new("/lab"), 3)), "[127.0.0.1]:2223");
    }
}
