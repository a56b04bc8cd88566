//! Can this kernel boot as a Xen PV or PVH guest? Its ELF notes say so before
//! anything is booted: Xen needs a `Xen` note with the PV entry point
//! (XEN_ELFNOTE_ENTRY) or the PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY).
//! A bzImage carries the ELF kernel compressed inside; it is unpacked here.

use std::io::Read;
use std::path::Path;

const XEN_ELFNOTE_ENTRY: u32 = 1;
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XenEntries {
    pub pv: bool,
    pub pvh: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum NotesError {
    #[error("cannot read the kernel {0}")]
    Read(String, #[source] std::io::Error),
    #[error("{0} is neither an ELF file nor a bzImage")]
    Format(String),
    #[error("cannot unpack the {1} payload of the bzImage {0}")]
    Unpack(String, &'static str, #[source] std::io::Error),
    /// bzip2, lzma, lzo: compressions virtsmoke does not unpack; the kernel may
    /// well boot, it just cannot be checked beforehand.
    #[error("the bzImage {0} is compressed in a way virtsmoke does not unpack (magic {1})")]
    Unsupported(String, String),
}

pub fn read_entries(path: &Path) -> Result<XenEntries, NotesError> {
    let name = path.display().to_string();
    let data = std::fs::read(path).map_err(|e| NotesError::Read(name.clone(), e))?;
    entries(&data, &name)
}

pub fn entries(data: &[u8], name: &str) -> Result<XenEntries, NotesError> {
    if data.starts_with(b"\x7fELF") {
        return elf_entries(data).ok_or_else(|| NotesError::Format(name.to_string()));
    }
    let elf = unpack_bzimage(data, name)?;
    elf_entries(&elf).ok_or_else(|| NotesError::Format(name.to_string()))
}

/// The ELF kernel inside a bzImage (boot protocol >= 2.08: payload_offset/length).
fn unpack_bzimage(data: &[u8], name: &str) -> Result<Vec<u8>, NotesError> {
    let bad = || NotesError::Format(name.to_string());
    if data.len() < 0x250 || &data[0x202..0x206] != b"HdrS" {
        return Err(bad());
    }
    let setup_sects = match data[0x1f1] {
        0 => 4,
        n => n as usize,
    };
    let offset = u32::from_le_bytes(data[0x248..0x24c].try_into().map_err(|_| bad())?) as usize;
    let length = u32::from_le_bytes(data[0x24c..0x250].try_into().map_err(|_| bad())?) as usize;
    let start = (setup_sects + 1) * 512 + offset;
    let payload = data.get(start..start + length).ok_or_else(bad)?;
    let mut out = Vec::new();
    let unpack = |kind: &'static str| move |e: std::io::Error| NotesError::Unpack(name.to_string(), kind, e);
    if payload.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        // Kernels use xz with the x86 BCJ filter, which liblzma handles; the build
        // appends the unpacked size (4 bytes) after the stream.
        let stream = &payload[..payload.len().saturating_sub(4)];
        xz2::read::XzDecoder::new(stream).read_to_end(&mut out).map_err(unpack("xz"))?;
    } else if payload.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(payload).read_to_end(&mut out).map_err(unpack("gzip"))?;
    } else if payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let mut d = ruzstd::decoding::StreamingDecoder::new(payload)
            .map_err(|e| unpack("zstd")(std::io::Error::other(e.to_string())))?;
        d.read_to_end(&mut out).map_err(unpack("zstd"))?;
    } else if payload.starts_with(&[0x02, 0x21, 0x4c, 0x18]) {
        out = unpack_lz4_legacy(&payload[4..]).map_err(unpack("lz4"))?;
    } else if payload.starts_with(b"\x7fELF") {
        out.extend_from_slice(payload);
    } else {
        let magic: String = payload.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Err(NotesError::Unsupported(name.to_string(), magic));
    }
    Ok(out)
}

/// LZ4's legacy frame (what `lz4 -l` writes, and Linux's `CONFIG_KERNEL_LZ4`):
/// blocks of at most 8 MiB, each a 4-byte little-endian compressed size and
/// the block; the kernel build appends the unpacked size (4 bytes), which
/// reads as a size past the end and ends the frame.
fn unpack_lz4_legacy(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    const BLOCK: usize = 8 << 20;
    let mut out = Vec::new();
    while data.len() >= 4 {
        let size = u32::from_le_bytes(data[..4].try_into().unwrap_or_default()) as usize;
        let Some(block) = data.get(4..4 + size) else { break };
        if size == 0x184c_2102 {
            break; // a new frame's magic: concatenated frames are not used by kernels
        }
        let mut buf = vec![0u8; BLOCK];
        let n = lz4_flex::block::decompress_into(block, &mut buf).map_err(|e| std::io::Error::other(e.to_string()))?;
        out.extend_from_slice(&buf[..n]);
        data = &data[4 + size..];
    }
    if out.is_empty() {
        return Err(std::io::Error::other("no lz4 block"));
    }
    Ok(out)
}

/// Scans every PT_NOTE segment of a 64-bit little-endian ELF for Xen notes.
fn elf_entries(elf: &[u8]) -> Option<XenEntries> {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| elf.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let u64_at = |o: usize| elf.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return None; // only ELF64 little-endian (x86_64) kernels
    }
    let phoff = u64_at(0x20)? as usize;
    let phentsize = u16_at(0x36)? as usize;
    let phnum = u16_at(0x38)? as usize;
    let mut found = XenEntries::default();
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph)? != 4 {
            continue; // PT_NOTE only
        }
        let off = u64_at(ph + 8)? as usize;
        let size = u64_at(ph + 32)? as usize;
        let mut p = off;
        let end = off.checked_add(size)?.min(elf.len());
        while p + 12 <= end {
            let namesz = u32_at(p)? as usize;
            let descsz = u32_at(p + 4)? as usize;
            let ty = u32_at(p + 8)?;
            let name = elf.get(p + 12..p + 12 + namesz)?;
            if name.strip_suffix(&[0]).unwrap_or(name) == b"Xen" {
                match ty {
                    XEN_ELFNOTE_ENTRY => found.pv = true,
                    XEN_ELFNOTE_PHYS32_ENTRY => found.pvh = true,
                    _ => {}
                }
            }
            p += 12 + namesz.div_ceil(4) * 4 + descsz.div_ceil(4) * 4;
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 with one PT_NOTE segment holding the given Xen note types.
    fn elf_with_notes(types: &[u32]) -> Vec<u8> {
        let mut notes = Vec::new();
        for &t in types {
            notes.extend_from_slice(&4u32.to_le_bytes()); // namesz "Xen\0"
            notes.extend_from_slice(&8u32.to_le_bytes()); // descsz
            notes.extend_from_slice(&t.to_le_bytes());
            notes.extend_from_slice(b"Xen\0");
            notes.extend_from_slice(&[0u8; 8]);
        }
        let mut elf = vec![0u8; 64 + 56];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let ph = 64;
        elf[ph..ph + 4].copy_from_slice(&4u32.to_le_bytes());
        elf[ph + 8..ph + 16].copy_from_slice(&(120u64).to_le_bytes());
        elf[ph + 32..ph + 40].copy_from_slice(&(notes.len() as u64).to_le_bytes());
        elf.extend_from_slice(&notes);
        elf
    }

    #[test]
    fn notes_are_found() {
        assert_eq!(entries(&elf_with_notes(&[1, 18]), "k").unwrap(), XenEntries { pv: true, pvh: true });
        assert_eq!(entries(&elf_with_notes(&[18]), "k").unwrap(), XenEntries { pv: false, pvh: true });
        assert_eq!(entries(&elf_with_notes(&[]), "k").unwrap(), XenEntries::default());
    }

    #[test]
    fn a_non_linux_elf_has_no_xen_entry() {
        // Any program on this machine: an ELF without Xen notes.
        let e = read_entries(Path::new("/bin/sh")).unwrap();
        assert_eq!(e, XenEntries::default());
    }

    #[test]
    fn garbage_is_a_format_error() {
        let err = entries(b"not a kernel at all", "junk").unwrap_err().to_string();
        assert_eq!(err, "junk is neither an ELF file nor a bzImage");
    }

    fn bzimage(payload: &[u8]) -> Vec<u8> {
        let mut img = vec![0u8; 5 * 512];
        img[0x1f1] = 4;
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x248..0x24c].copy_from_slice(&0u32.to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        img.extend_from_slice(payload);
        img
    }

    #[test]
    fn an_lz4_bzimage_is_unpacked_and_an_unknown_one_is_unsupported() {
        // The legacy frame as the kernel build writes it: magic, sized blocks, unpacked size.
        let elf = elf_with_notes(&[18]);
        let block = lz4_flex::block::compress(&elf);
        let mut payload = vec![0x02, 0x21, 0x4c, 0x18];
        payload.extend_from_slice(&(block.len() as u32).to_le_bytes());
        payload.extend_from_slice(&block);
        payload.extend_from_slice(&(elf.len() as u32).to_le_bytes());
        assert_eq!(entries(&bzimage(&payload), "lz4").unwrap(), XenEntries { pv: false, pvh: true });
        let err = entries(&bzimage(b"BZh91AY&SY"), "bz2").unwrap_err();
        assert!(matches!(err, NotesError::Unsupported(_, ref magic) if magic == "425a6839"), "{err}");
    }

    #[test]
    fn a_gzip_bzimage_is_unpacked() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&elf_with_notes(&[1])).unwrap();
        let payload = gz.finish().unwrap();
        let mut img = vec![0u8; 5 * 512];
        img[0x1f1] = 4;
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x248..0x24c].copy_from_slice(&0u32.to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        img.extend_from_slice(&payload);
        assert_eq!(entries(&img, "bz").unwrap(), XenEntries { pv: true, pvh: false });
    }

    #[test]
    fn the_debian_kernel_of_the_test_image_boots_pv_and_pvh() {
        let Some(img) = crate::image::cached("test-image").unwrap() else {
            // Built by ci/test before the suite; without it there is nothing to read.
            panic!("build the test image first: virtsmoke image build");
        };
        assert_eq!(read_entries(&img.kernel).unwrap(), XenEntries { pv: true, pvh: true });
        // Debian's cloud kernel (the disk image's) is LZ4-compressed.
        if let Some(disk) = crate::image::cached("debian-disk").unwrap() {
            assert_eq!(read_entries(&disk.kernel).unwrap(), XenEntries { pv: true, pvh: true });
        }
    }
}
