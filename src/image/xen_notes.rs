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

/// The most an unpacked kernel may hold: Linux kernels unpack to tens of MiB;
/// a crafted payload that unpacks to more is refused rather than read into memory.
const MAX_UNPACKED: u64 = 512 << 20;

/// The ELF kernel inside a bzImage (boot protocol >= 2.08: payload_offset/length).
fn unpack_bzimage(data: &[u8], name: &str) -> Result<Vec<u8>, NotesError> {
    let bad = || NotesError::Format(name.to_string());
    if data.get(0x202..0x206) != Some(b"HdrS".as_slice()) {
        return Err(bad());
    }
    let setup_sects = match data.get(0x1f1).copied().ok_or_else(bad)? {
        0 => 4,
        n => usize::from(n),
    };
    let offset = le_u32(data, 0x248).ok_or_else(bad)? as usize;
    let length = le_u32(data, 0x24c).ok_or_else(bad)? as usize;
    let start = (setup_sects + 1).checked_mul(512).and_then(|s| s.checked_add(offset)).ok_or_else(bad)?;
    let payload = data.get(start..start.checked_add(length).ok_or_else(bad)?).ok_or_else(bad)?;
    let unpack = |kind: &'static str| move |e: std::io::Error| NotesError::Unpack(name.to_string(), kind, e);
    let (kind, out) = if payload.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        // Kernels use xz with the x86 BCJ filter, which liblzma handles; the build
        // appends the unpacked size (4 bytes) after the stream.
        let stream = payload.get(..payload.len().saturating_sub(4)).unwrap_or_default();
        ("xz", read_bounded(liblzma::read::XzDecoder::new(stream)))
    } else if payload.starts_with(&[0x1f, 0x8b]) {
        ("gzip", read_bounded(flate2::read::GzDecoder::new(payload)))
    } else if payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = ruzstd::decoding::StreamingDecoder::new(payload).map_err(|e| std::io::Error::other(e.to_string()));
        ("zstd", d.and_then(read_bounded))
    } else if let Some(frame) = payload.strip_prefix(&[0x02, 0x21, 0x4c, 0x18]) {
        ("lz4", unpack_lz4_legacy(frame))
    } else if payload.starts_with(b"\x7fELF") {
        ("elf", Ok(payload.to_vec()))
    } else {
        let magic: String = payload.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Err(NotesError::Unsupported(name.to_string(), magic));
    };
    out.map_err(unpack(kind))
}

/// Reads `r` to its end, refusing more than `MAX_UNPACKED` bytes.
fn read_bounded(r: impl Read) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(MAX_UNPACKED + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_UNPACKED {
        return Err(std::io::Error::other(format!("it unpacks to more than {} MiB", MAX_UNPACKED >> 20)));
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
    let mut buf = vec![0u8; BLOCK];
    while let Some(size) = le_u32(data, 0) {
        let size = size as usize;
        let Some(block) = data.get(4..4 + size) else { break };
        if size == 0x184c_2102 {
            break; // a new frame's magic: concatenated frames are not used by kernels
        }
        let n = lz4_flex::block::decompress_into(block, &mut buf).map_err(|e| std::io::Error::other(e.to_string()))?;
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
        if out.len() as u64 > MAX_UNPACKED {
            return Err(std::io::Error::other(format!("it unpacks to more than {} MiB", MAX_UNPACKED >> 20)));
        }
        data = data.get(4 + size..).unwrap_or_default();
    }
    if out.is_empty() {
        return Err(std::io::Error::other("no lz4 block"));
    }
    Ok(out)
}

/// `N` bytes at `offset`, if the data holds them.
fn bytes_at<const N: usize>(data: &[u8], offset: usize) -> Option<[u8; N]> {
    data.get(offset..offset.checked_add(N)?)?.try_into().ok()
}

fn le_u16(data: &[u8], offset: usize) -> Option<u16> {
    bytes_at(data, offset).map(u16::from_le_bytes)
}

fn le_u32(data: &[u8], offset: usize) -> Option<u32> {
    bytes_at(data, offset).map(u32::from_le_bytes)
}

fn le_u64_usize(data: &[u8], offset: usize) -> Option<usize> {
    bytes_at(data, offset).map(u64::from_le_bytes).and_then(|v| usize::try_from(v).ok())
}

/// The size of an ELF64 program header: smaller ones are not ELF64.
const PHDR_SIZE: usize = 56;
/// How many notes all PT_NOTE segments may hold together: kernels have a few
/// dozen; a crafted file with many headers pointing at one large segment would
/// otherwise be scanned once per header.
const MAX_NOTES: usize = 1 << 16;

/// Scans every PT_NOTE segment of a 64-bit little-endian ELF for Xen notes;
/// `None` when the headers do not hold together.
fn elf_entries(elf: &[u8]) -> Option<XenEntries> {
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return None; // only ELF64 little-endian (x86_64) kernels
    }
    let phoff = le_u64_usize(elf, 0x20)?;
    let phentsize = usize::from(le_u16(elf, 0x36)?);
    let phnum = usize::from(le_u16(elf, 0x38)?);
    if phentsize < PHDR_SIZE {
        return None;
    }
    let mut found = XenEntries::default();
    let mut budget = MAX_NOTES;
    for i in 0..phnum {
        let ph = i.checked_mul(phentsize).and_then(|o| o.checked_add(phoff))?;
        if le_u32(elf, ph)? != 4 {
            continue; // PT_NOTE only
        }
        let off = le_u64_usize(elf, ph.checked_add(8)?)?;
        let size = le_u64_usize(elf, ph.checked_add(32)?)?;
        // A segment past the end of the file holds no notes.
        let notes = elf.get(off..off.checked_add(size)?.min(elf.len())).unwrap_or_default();
        budget = budget.checked_sub(scan_notes(notes, &mut found, budget)?)?;
    }
    Some(found)
}

/// Reads the notes of one segment into `found`; how many it read (at most
/// `budget`), or `None` when a note runs past the segment or the budget.
fn scan_notes(mut notes: &[u8], found: &mut XenEntries, budget: usize) -> Option<usize> {
    let mut count = 0;
    while notes.len() >= 12 {
        count += 1;
        if count > budget {
            return None;
        }
        let namesz = le_u32(notes, 0)? as usize;
        let descsz = le_u32(notes, 4)? as usize;
        let ty = le_u32(notes, 8)?;
        let name = notes.get(12..12usize.checked_add(namesz)?)?;
        if name.strip_suffix(&[0]).unwrap_or(name) == b"Xen" {
            match ty {
                XEN_ELFNOTE_ENTRY => found.pv = true,
                XEN_ELFNOTE_PHYS32_ENTRY => found.pvh = true,
                _ => {}
            }
        }
        let next =
            namesz.div_ceil(4).checked_mul(4)?.checked_add(descsz.div_ceil(4).checked_mul(4)?)?.checked_add(12)?;
        notes = notes.get(next..).unwrap_or_default();
    }
    Some(count)
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

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        /// Offsets of the header fields a crafted file would set: the ELF's
        /// phoff, phentsize, phnum, the program header's type, offset and size,
        /// the first note's namesz and descsz; and in the bzImage wrapping it,
        /// setup_sects, payload_offset and payload_length.
        const ELF_FIELDS: &[usize] = &[0x20, 0x36, 0x38, 64, 64 + 8, 64 + 32, 120, 124];
        const BZ_FIELDS: &[usize] = &[0x1f1, 0x248, 0x24c];

        fn overwrite(data: &mut [u8], at: usize, value: u64, width: usize) {
            let bytes = value.to_le_bytes();
            for (i, b) in bytes.iter().take(width).enumerate() {
                if let Some(slot) = data.get_mut(at + i) {
                    *slot = *b;
                }
            }
        }

        /// A synthetic kernel: a bare ELF or one in a bzImage, raw, gzip or lz4.
        fn real_header(wrap: u8) -> (Vec<u8>, usize) {
            let elf = elf_with_notes(&[1, 18]);
            match wrap % 4 {
                0 => (elf, 0),
                1 => (bzimage(&elf), 5 * 512),
                2 => {
                    use std::io::Write;
                    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    gz.write_all(&elf).unwrap();
                    (bzimage(&gz.finish().unwrap()), usize::MAX)
                }
                _ => {
                    let block = lz4_flex::block::compress(&elf);
                    let mut payload = vec![0x02, 0x21, 0x4c, 0x18];
                    payload.extend_from_slice(&(block.len() as u32).to_le_bytes());
                    payload.extend_from_slice(&block);
                    (bzimage(&payload), usize::MAX)
                }
            }
        }

        /// Values that a crafted header would hold: any, small, or at the edges of u32 and u64.
        fn field_value() -> impl Strategy<Value = u64> {
            prop_oneof![
                any::<u64>(),
                0u64..4096,
                (0u64..4).prop_map(|d| u64::MAX - d),
                (0u64..16).prop_map(|d| u64::from(u32::MAX) - d),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
                let _ = entries(&data, "fuzz");
                let mut elf = data.clone();
                elf.splice(..elf.len().min(6), *b"\x7fELF\x02\x01");
                let _ = entries(&elf, "fuzz");
            }

            #[test]
            fn mutated_real_headers(
                wrap in any::<u8>(),
                fields in proptest::collection::vec((any::<prop::sample::Index>(), field_value(), prop_oneof![Just(8usize), 1usize..=8]), 0..4),
                bytes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
                cut in any::<prop::sample::Index>(),
                truncate in any::<bool>(),
            ) {
                let (mut data, elf_at) = real_header(wrap);
                for (which, value, width) in fields {
                    if elf_at != usize::MAX && which.index(2) == 0 {
                        overwrite(&mut data, elf_at + *which.get(ELF_FIELDS), value, width);
                    } else if elf_at != 0 {
                        overwrite(&mut data, *which.get(BZ_FIELDS), value, width);
                    } else {
                        overwrite(&mut data, *which.get(ELF_FIELDS), value, width);
                    }
                }
                let len = data.len();
                for (at, b) in bytes {
                    data[at.index(len)] = b;
                }
                if truncate {
                    data.truncate(cut.index(len + 1));
                }
                let _ = entries(&data, "fuzz");
            }
        }

        /// What the proptest found: header fields that overflow offset arithmetic.
        #[test]
        fn overflowing_offsets_are_a_format_error() {
            let mut elf = elf_with_notes(&[1]);
            overwrite(&mut elf, 0x20, u64::MAX - 1, 8); // phoff
            assert!(matches!(entries(&elf, "k"), Err(NotesError::Format(_))));
            let mut elf = elf_with_notes(&[1]);
            overwrite(&mut elf, 120, u64::from(u32::MAX), 4); // namesz
            assert!(matches!(entries(&elf, "k"), Err(NotesError::Format(_))));
            let mut elf = elf_with_notes(&[1]);
            overwrite(&mut elf, 64 + 8, u64::MAX, 8); // p_offset
            overwrite(&mut elf, 64 + 32, 2, 8); // p_filesz
            assert!(matches!(entries(&elf, "k"), Err(NotesError::Format(_))));
            // Program headers of size 0: the same header read 65535 times.
            let mut elf = elf_with_notes(&[1]);
            overwrite(&mut elf, 0x36, 0, 2);
            overwrite(&mut elf, 0x38, 0xffff, 2);
            assert!(matches!(entries(&elf, "k"), Err(NotesError::Format(_))));
        }
    }
}
