//! A streaming ZIP writer for `dump --archive zip`: entries are stored
//! (a backup's data is mostly compressed already, and stored entries need
//! no buffering), each followed by a data descriptor, so nothing is ever
//! seeked. ZIP64 records are written where sizes or offsets need them
//! (APPNOTE 6.3.10, 4.3.9 and 4.5.3). Unix modes, symlinks (the target as
//! the content, as Info-ZIP does) and UTF-8 names are kept.

use std::io::{self, Read, Write};

const LOCAL: u32 = 0x0403_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
/// Bit 3: sizes in a data descriptor; bit 11: UTF-8 names.
const FLAGS: u16 = 0x0808;
/// Version 4.5 (ZIP64), made on Unix.
const VERSION: u16 = 45;
const MADE_BY: u16 = (3 << 8) | VERSION;

/// The CRC-32 of ZIP (IEEE, reflected).
fn crc32_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    t
}

struct Entry {
    name: Vec<u8>,
    mode: u32,
    dos: (u16, u16),
    crc: u32,
    size: u64,
    offset: u64,
}

/// Writes a ZIP archive to `W`, entry by entry.
pub(crate) struct ZipWriter<W: Write> {
    out: W,
    at: u64,
    entries: Vec<Entry>,
    table: [u32; 256],
}

/// DOS time and date of a Unix time (ns); 1980 at the earliest.
fn dos_time(ns: i64) -> (u16, u16) {
    let t = crate::time::format_ns(ns.max(315_532_800_000_000_000));
    // "YYYY-MM-DD HH:MM:SS"
    let n = |a: usize, b: usize| t.get(a..b).and_then(|s| s.parse::<u16>().ok()).unwrap_or(0);
    let (y, mo, d, h, mi, s) = (n(0, 4), n(5, 7), n(8, 10), n(11, 13), n(14, 16), n(17, 19));
    let time = (h << 11) | (mi << 5) | (s / 2);
    let date = (y.saturating_sub(1980).min(127) << 9) | (mo << 5) | d;
    (time, date)
}

impl<W: Write> ZipWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        Self {
            out,
            at: 0,
            entries: Vec::new(),
            table: crc32_table(),
        }
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.at += b.len() as u64;
        Ok(())
    }

    /// A folder (`name` without the trailing slash).
    pub(crate) fn add_dir(&mut self, name: &[u8], mode: u32, mtime: i64) -> io::Result<()> {
        let mut n = name.to_vec();
        n.push(b'/');
        self.add(&n, 0o040_000 | (mode & 0o7777), mtime, &mut io::empty())
    }

    /// A regular file with the content `data`.
    pub(crate) fn add_file(
        &mut self,
        name: &[u8],
        mode: u32,
        mtime: i64,
        data: &mut dyn Read,
    ) -> io::Result<()> {
        self.add(name, 0o100_000 | (mode & 0o7777), mtime, data)
    }

    /// A symbolic link to `target`.
    pub(crate) fn add_symlink(&mut self, name: &[u8], target: &[u8], mtime: i64) -> io::Result<()> {
        self.add(name, 0o120_777, mtime, &mut &target[..])
    }

    fn add(&mut self, name: &[u8], mode: u32, mtime: i64, data: &mut dyn Read) -> io::Result<()> {
        let name_len = u16::try_from(name.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a path longer than 65535 bytes",
            )
        })?;
        let offset = self.at;
        let dos = dos_time(mtime);
        // local header: sizes follow in the descriptor; the ZIP64 extra
        // field says that descriptor holds 8-byte sizes
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        h.extend_from_slice(&LOCAL.to_le_bytes());
        h.extend_from_slice(&VERSION.to_le_bytes());
        h.extend_from_slice(&FLAGS.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&dos.0.to_le_bytes());
        h.extend_from_slice(&dos.1.to_le_bytes());
        h.extend_from_slice(&[0; 4]); // crc: in the descriptor
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        h.extend_from_slice(&name_len.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes());
        h.extend_from_slice(name);
        h.extend_from_slice(&1u16.to_le_bytes()); // ZIP64 extra
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(&[0; 16]);
        self.put(&h)?;
        let mut crc = !0u32;
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            for &b in &buf[..n] {
                crc = self.table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
            }
            self.put(&buf[..n])?;
            size += n as u64;
        }
        let crc = !crc;
        let mut d = Vec::with_capacity(24);
        d.extend_from_slice(&DESCRIPTOR.to_le_bytes());
        d.extend_from_slice(&crc.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        self.put(&d)?;
        self.entries.push(Entry {
            name: name.to_vec(),
            mode,
            dos,
            crc,
            size,
            offset,
        });
        Ok(())
    }

    /// Writes the central directory and the end records; returns the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        let start = self.at;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let big = e.size >= u64::from(u32::MAX) || e.offset >= u64::from(u32::MAX);
            let mut c = Vec::with_capacity(46 + e.name.len() + 28);
            c.extend_from_slice(&CENTRAL.to_le_bytes());
            c.extend_from_slice(&MADE_BY.to_le_bytes());
            c.extend_from_slice(&VERSION.to_le_bytes());
            c.extend_from_slice(&FLAGS.to_le_bytes());
            c.extend_from_slice(&0u16.to_le_bytes());
            c.extend_from_slice(&e.dos.0.to_le_bytes());
            c.extend_from_slice(&e.dos.1.to_le_bytes());
            c.extend_from_slice(&e.crc.to_le_bytes());
            let small = |v: u64| if big { u32::MAX } else { v as u32 };
            c.extend_from_slice(&small(e.size).to_le_bytes());
            c.extend_from_slice(&small(e.size).to_le_bytes());
            c.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            c.extend_from_slice(&(if big { 28u16 } else { 0 }).to_le_bytes());
            c.extend_from_slice(&0u16.to_le_bytes()); // comment
            c.extend_from_slice(&0u16.to_le_bytes()); // disk
            c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            c.extend_from_slice(&(e.mode << 16).to_le_bytes());
            c.extend_from_slice(&small(e.offset).to_le_bytes());
            c.extend_from_slice(&e.name);
            if big {
                c.extend_from_slice(&1u16.to_le_bytes());
                c.extend_from_slice(&24u16.to_le_bytes());
                c.extend_from_slice(&e.size.to_le_bytes());
                c.extend_from_slice(&e.size.to_le_bytes());
                c.extend_from_slice(&e.offset.to_le_bytes());
            }
            self.put(&c)?;
        }
        let (count, cd_size) = (entries.len() as u64, self.at - start);
        let zip64 =
            count >= 0xFFFF || start >= u64::from(u32::MAX) || cd_size >= u64::from(u32::MAX);
        if zip64 {
            let end64_at = self.at;
            let mut z = Vec::with_capacity(76);
            z.extend_from_slice(&END64.to_le_bytes());
            z.extend_from_slice(&44u64.to_le_bytes());
            z.extend_from_slice(&MADE_BY.to_le_bytes());
            z.extend_from_slice(&VERSION.to_le_bytes());
            z.extend_from_slice(&[0; 8]); // disks
            z.extend_from_slice(&count.to_le_bytes());
            z.extend_from_slice(&count.to_le_bytes());
            z.extend_from_slice(&cd_size.to_le_bytes());
            z.extend_from_slice(&start.to_le_bytes());
            z.extend_from_slice(&LOCATOR64.to_le_bytes());
            z.extend_from_slice(&0u32.to_le_bytes());
            z.extend_from_slice(&end64_at.to_le_bytes());
            z.extend_from_slice(&1u32.to_le_bytes());
            self.put(&z)?;
        }
        let mut e = Vec::with_capacity(22);
        e.extend_from_slice(&END.to_le_bytes());
        e.extend_from_slice(&[0; 4]); // disks
        let n16 = if zip64 { 0xFFFF } else { count as u16 };
        e.extend_from_slice(&n16.to_le_bytes());
        e.extend_from_slice(&n16.to_le_bytes());
        let s32 = |v: u64| if zip64 { u32::MAX } else { v as u32 };
        e.extend_from_slice(&s32(cd_size).to_le_bytes());
        e.extend_from_slice(&s32(start).to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        self.put(&e)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_times() {
        let mut z = ZipWriter::new(Vec::new());
        z.add_file(b"a", 0o644, 0, &mut &b"123456789"[..]).unwrap();
        // the check value of CRC-32/ISO-HDLC
        assert_eq!(z.entries[0].crc, 0xCBF4_3926);
        assert_eq!(
            dos_time(1_000_000_000 * 1_700_000_000),
            (((22 << 11) | (13 << 5) | 10), ((43 << 9) | (11 << 5) | 14))
        );
        let bytes = z.finish().unwrap();
        assert_eq!(
            &bytes[bytes.len() - 22..bytes.len() - 18],
            &END.to_le_bytes()
        );
    }
}
