//! Errors of the Xen lab: each says which host and step failed and, where it
//! helps, how the host's serial console ends.

use thiserror::Error;

use crate::image::ImageError;
use crate::lab::LabError;

#[derive(Debug, Error)]
pub enum XenLabError {
    /// The arguments cannot describe a lab.
    #[error("invalid xen lab options: {0}")]
    Options(String),

    /// An image (the dom0, or the test image copied into it) could not be built.
    #[error("cannot get image `{name}`")]
    Image {
        name: String,
        #[source]
        source: ImageError,
    },

    /// A command or file operation failed (message of the lab's helpers).
    #[error(transparent)]
    Lab(#[from] LabError),

    /// The loopback port a host's SSH is forwarded from is taken.
    #[error("{host}: 127.0.0.1:{port} is in use by another program; free it or take that lab down")]
    PortInUse { host: String, port: u16 },

    /// QEMU exited while the host booted.
    #[error("{host}: QEMU exited during boot{serial_tail}")]
    QemuExited {
        host: String,
        /// Empty, or "; serial.log ends with: ...".
        serial_tail: String,
    },

    /// libvirt in dom0 did not answer in time.
    #[error("{host}: libvirt did not answer at {uri} within {timeout} (last attempt: {last}){serial_tail}")]
    NotReady {
        host: String,
        uri: String,
        timeout: String,
        last: String,
        /// Empty, or "; serial.log ends with: ...".
        serial_tail: String,
    },

    /// QEMU outlived `quit`, SIGTERM and SIGKILL.
    #[error("{host}: QEMU (pid {pid}) survived quit, SIGTERM and SIGKILL")]
    Survivor { host: String, pid: i32 },

    /// `up` finished but some host is not healthy.
    #[error("xen lab is not healthy after start-up: {0}")]
    Unhealthy(String),
}
