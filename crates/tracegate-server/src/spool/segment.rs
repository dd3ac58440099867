//! The spool's files: segments `<seq>.seg` appended to in order, and the `applied`
//! marker saying how far the store has taken them.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::HEADER_LEN;

/// A segment is closed and a new one begun once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// A position in the spool: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub seq: u64,
    pub offset: u64,
}

pub fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.seg"))
}

fn marker_path(dir: &Path) -> PathBuf {
    dir.join("applied")
}

/// The segments in `dir` with their sizes, by sequence number.
pub fn list(dir: &Path) -> io::Result<BTreeMap<u64, u64>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(seq) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".seg"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.insert(seq, entry.metadata()?.len());
    }
    Ok(out)
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The applied marker, if there is a readable one.
pub fn read_marker(dir: &Path) -> Option<Position> {
    let text = std::fs::read_to_string(marker_path(dir)).ok()?;
    let mut parts = text.split_whitespace();
    let seq = parts.next()?.parse().ok()?;
    let offset = parts.next()?.parse().ok()?;
    Some(Position { seq, offset })
}

/// Writes the applied marker and fsyncs it (write, fsync, rename, fsync the directory).
pub fn write_marker(dir: &Path, at: Position) -> io::Result<()> {
    let tmp = dir.join("applied.tmp");
    let mut f = File::create(&tmp)?;
    writeln!(f, "{} {}", at.seq, at.offset)?;
    f.sync_all()?;
    std::fs::rename(&tmp, marker_path(dir))?;
    sync_dir(dir)
}

/// The segment being appended to.
#[derive(Debug)]
pub struct Appender {
    pub seq: u64,
    pub len: u64,
    file: File,
}

impl Appender {
    /// Creates segment `seq` (a new, empty file).
    pub fn create(dir: &Path, seq: u64) -> io::Result<Appender> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(segment_path(dir, seq))?;
        sync_dir(dir)?;
        Ok(Appender { seq, len: 0, file })
    }

    /// One write of many records.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Counts the records of segment `seq` from `offset` to its end by their length
/// prefixes (not checked: a count for the backlog gauge).
pub fn count_records(dir: &Path, seq: u64, offset: u64, end: u64) -> io::Result<u64> {
    let file = File::open(segment_path(dir, seq))?;
    let (mut at, mut n) = (offset, 0);
    let mut header = [0u8; HEADER_LEN];
    while at + HEADER_LEN as u64 <= end {
        file.read_exact_at(&mut header, at)?;
        let len = u64::from(u32::from_le_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        at += HEADER_LEN as u64 + len;
        if at > end {
            break;
        }
        n += 1;
    }
    Ok(n)
}
