//! Reading spooled records back in order, from the applied marker on.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use tracegate_core::Trace;

use super::record::{self, RecordError, HEADER_LEN};
use super::segment::{segment_path, Position};

/// What one read found.
#[derive(Debug, Default)]
pub struct Read {
    pub traces: Vec<Trace>,
    /// Where the next read starts once these traces are applied.
    pub next: Option<Position>,
    /// Records found corrupt or torn and skipped.
    pub skipped: u64,
}

/// Reads records from `at` in the segments `ends` (sequence number to the bytes readable
/// in it), at most `max` traces, from one segment. A record that fails its check ends
/// the segment: it and the rest of that segment are skipped with a warning.
pub fn read(dir: &Path, ends: &BTreeMap<u64, u64>, at: Position, max: usize) -> io::Result<Read> {
    let mut out = Read::default();
    // The segment `at` points into, or the first after it.
    let Some((&seq, &end)) = ends.range(at.seq..).next() else {
        return Ok(out);
    };
    let mut offset = if seq == at.seq { at.offset } else { 0 };
    if offset >= end {
        return Ok(out);
    }
    let file = File::open(segment_path(dir, seq))?;
    while out.traces.len() < max && offset < end {
        match read_one(&file, offset, end) {
            Ok((trace, used)) => {
                out.traces.push(trace);
                offset += used;
            }
            Err(error) => {
                tracing::warn!(segment = seq, offset, %error, skipped_bytes = end - offset,
                    "corrupt or torn spool record; the rest of the segment is skipped");
                out.skipped += 1;
                offset = end;
            }
        }
    }
    out.next = Some(Position { seq, offset });
    Ok(out)
}

fn read_one(file: &File, offset: u64, end: u64) -> Result<(Trace, u64), RecordError> {
    let avail = end - offset;
    if avail < HEADER_LEN as u64 {
        return Err(RecordError::Torn);
    }
    let mut header = [0u8; HEADER_LEN];
    file.read_exact_at(&mut header, offset)
        .map_err(|_| RecordError::Torn)?;
    let len = u64::from(u32::from_le_bytes([
        header[0], header[1], header[2], header[3],
    ]));
    if HEADER_LEN as u64 + len > avail {
        return Err(RecordError::Torn);
    }
    let mut buf = vec![0u8; HEADER_LEN + len as usize];
    file.read_exact_at(&mut buf, offset)
        .map_err(|_| RecordError::Torn)?;
    let (trace, used) = record::decode(&buf)?;
    Ok((trace, used as u64))
}
