//! Record files: the outcome of each `check` and `drill`.

use super::Repository;
use crate::backend::FileType;
use crate::error::{Error, Result};
use crate::format::record::Record;
use crate::id::Id;

/// Records of each kind kept; a writer removes older ones after its own
/// record is stored.
pub const RECORDS_KEPT: usize = 30;

/// A record and its id.
pub type RecordEntry = (Id, Record);

/// A record file that does not decode, and why.
pub type UnreadableRecord = (Id, Error);

impl Repository {
    /// Stores a record, then removes the oldest records of its kind beyond
    /// `RECORDS_KEPT` (30) (a failure to remove is ignored: the next writer
    /// tries again). An append-only repository keeps them all.
    ///
    /// # Errors
    /// Storage errors writing the record.
    pub fn save_record(&self, record: &Record) -> Result<Id> {
        let id = self.save_file(FileType::Record, &record.encode())?;
        if self.append_only() {
            return Ok(id);
        }
        if let Ok((all, _)) = self.records() {
            let mut same: Vec<&RecordEntry> =
                all.iter().filter(|(_, r)| r.kind == record.kind).collect();
            same.sort_by(|a, b| b.1.end.cmp(&a.1.end).then(b.0.cmp(&a.0)));
            for (old, _) in same.into_iter().skip(RECORDS_KEPT) {
                if *old != id {
                    let _ = self.backend().remove(FileType::Record, &old.to_hex());
                }
            }
        }
        Ok(id)
    }

    /// Loads one record.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the record, or storage errors.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn load_record(&self, id: &Id) -> Result<Record> {
        let plain = self.load_file(FileType::Record, id)?;
        Record::decode(&plain).map_err(|e| Error::corrupt("record", id, e))
    }

    /// Every record that loads, oldest first (by end time), and the errors
    /// of those that do not.
    ///
    /// # Errors
    /// Storage errors.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn records(&self) -> Result<(Vec<RecordEntry>, Vec<UnreadableRecord>)> {
        let (mut ok, bad) = self.load_all(FileType::Record, |id| self.load_record(id))?;
        ok.sort_by(|a, b| a.1.end.cmp(&b.1.end).then(a.0.cmp(&b.0)));
        Ok((ok, bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::{CheckRecord, RecordKind};
    use crate::repo::{InitOptions, test_repo};

    fn check_record(end: i64, ok: bool) -> Record {
        let errors = if ok { vec![] } else { vec!["bad".to_owned()] };
        let mut r = Record::new(RecordKind::Check, end - 1, end, &errors);
        r.check = Some(CheckRecord::default());
        r
    }

    #[test]
    fn saves_lists_and_trims() {
        let repo = test_repo(&InitOptions::default());
        for i in 1..=(RECORDS_KEPT as i64 + 5) {
            repo.save_record(&check_record(i * 10, i % 7 != 0)).unwrap();
        }
        let (all, bad) = repo.records().unwrap();
        assert!(bad.is_empty());
        assert_eq!(all.len(), RECORDS_KEPT);
        assert_eq!(all.last().unwrap().1.end, (RECORDS_KEPT as i64 + 5) * 10);
        // the oldest went: 60..=350 remain
        assert_eq!(all[0].1.end, 60);
    }

    #[test]
    fn a_damaged_record_is_reported_not_fatal() {
        let repo = test_repo(&InitOptions::default());
        let good = repo.save_record(&check_record(5, true)).unwrap();
        repo.backend()
            .write_new(FileType::Record, &Id([9; 32]).to_hex(), b"junk")
            .unwrap();
        let (all, bad) = repo.records().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, good);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].1.to_string().contains("record"), "{}", bad[0].1);
    }
}
