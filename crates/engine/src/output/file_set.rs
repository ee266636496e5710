use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::csv_file::{CsvSink, LineEnd, csv_writer};
use crate::error::{EngineError, ErrorCode, Result};

/// A file name around the run's stamp: `{before}{stamp}{after}`, e.g.
/// `recent-offer-creators_` + `20261128T060000` + `.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    pub before: String,
    pub after: String,
}

impl FileName {
    pub fn new(before: impl Into<String>, after: impl Into<String>) -> Self {
        FileName { before: before.into(), after: after.into() }
    }

    pub fn with_stamp(&self, stamp: &str) -> String {
        format!("{}{}{}", self.before, stamp, self.after)
    }
}

/// A file the set moved into place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub name: FileName,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub bytes: u64,
}

/// Makes the set's last file (the manifest) from the final stamp and the files moved so far.
pub type LastFile<'a> = (FileName, &'a dyn Fn(&str, &[WrittenFile]) -> Vec<u8>);

struct Pending {
    name: FileName,
    temp: NamedTempFile,
    sha256: String,
    bytes: u64,
}

/// Writes the rows of one CSV and returns how many data rows it wrote.
pub type CsvRows<'a> = Box<dyn FnOnce(&mut CsvSink) -> csv::Result<usize> + Send + 'a>;

/// The files of one run, complete under temporary names until `commit`.
///
/// Temporary files are created with mode 0600 (owner only): the CSVs hold personal data.
pub struct FileSet {
    dir: PathBuf,
    stamp: String,
    line_end: LineEnd,
    pending: Vec<Pending>,
}

/// How many stamps `commit` tries (`<ts>`, `<ts>-2`, …) before giving up.
const MAX_STAMP_ATTEMPTS: usize = 1000;

impl FileSet {
    pub fn new(dir: PathBuf, stamp: String) -> Self {
        FileSet { dir, stamp, line_end: LineEnd::Lf, pending: Vec::new() }
    }

    /// The directory the set writes into.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The set's CSVs end their rows with `line_end` (default `\n`).
    pub fn with_line_end(mut self, line_end: LineEnd) -> Self {
        self.line_end = line_end;
        self
    }

    fn temp_file(&self, name: &FileName) -> Result<NamedTempFile> {
        tempfile::Builder::new()
            .prefix(&format!(".{}", name.with_stamp(&self.stamp)))
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|e| self.write_error(name, e))
    }

    fn write_error(&self, name: &FileName, e: impl std::fmt::Display) -> EngineError {
        EngineError::new(
            ErrorCode::WriteFailed,
            format!("writing {} in {:?} failed: {e}", name.with_stamp(&self.stamp), self.dir.display()),
        )
    }

    /// Writes a CSV: `write` receives the writer (header not yet written) and returns the
    /// number of data rows it wrote.
    pub fn add_csv(
        &mut self,
        name: FileName,
        write: impl FnOnce(&mut CsvSink) -> csv::Result<usize> + Send,
    ) -> Result<usize> {
        Ok(self.add_csvs(vec![(name, Box::new(write))])?[0])
    }

    /// Writes several CSVs at once, one thread each, and adds them to the set in the order
    /// given. Returns each one's number of data rows.
    pub fn add_csvs(&mut self, files: Vec<(FileName, CsvRows<'_>)>) -> Result<Vec<usize>> {
        let written: Vec<Result<(Pending, usize)>> = std::thread::scope(|scope| {
            let threads: Vec<_> =
                files.into_iter().map(|(name, write)| scope.spawn(|| self.write_csv(name, write))).collect();
            threads
                .into_iter()
                .map(|thread| {
                    thread.join().unwrap_or_else(|_| Err(EngineError::internal("a CSV writer thread panicked")))
                })
                .collect()
        });
        let mut rows = Vec::with_capacity(written.len());
        // The files written join the set even if another failed: dropping the set removes them all.
        let mut failure = None;
        for result in written {
            match result {
                Ok((pending, count)) => {
                    self.pending.push(pending);
                    rows.push(count);
                }
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        failure.map_or(Ok(rows), Err)
    }

    fn write_csv(&self, name: FileName, write: CsvRows<'_>) -> Result<(Pending, usize)> {
        let temp = self.temp_file(&name)?;
        let file = temp.reopen().map_err(|e| self.write_error(&name, e))?;
        let mut writer = csv_writer(file, self.line_end);
        let rows = write(&mut writer).map_err(|e| self.write_error(&name, e))?;
        let buffered = writer.into_inner().map_err(|e| self.write_error(&name, e.error()))?;
        let (file, sha256, bytes) = buffered.into_inner().map_err(|e| self.write_error(&name, e.error()))?.finish();
        file.sync_all().map_err(|e| self.write_error(&name, e))?;
        Ok((Pending { name, temp, sha256, bytes }, rows))
    }

    /// Moves every file into place under one stamp. If a name is taken (another run
    /// in the same second), the whole set moves to the next stamp (`<ts>-2`, …).
    pub fn commit(self) -> Result<Vec<WrittenFile>> {
        self.commit_with_last(None).map(|(files, _)| files)
    }

    /// Like `commit`, then writes `last` (made from the final stamp and the files moved)
    /// and moves it into place after all the others. Returns the files and the final stamp.
    pub fn commit_with_last(self, last: Option<LastFile<'_>>) -> Result<(Vec<WrittenFile>, String)> {
        let FileSet { dir, stamp, mut pending, .. } = self;
        for attempt in 1..=MAX_STAMP_ATTEMPTS {
            let stamp = if attempt == 1 { stamp.clone() } else { format!("{stamp}-{attempt}") };
            match persist_all(&dir, &stamp, pending, last.as_ref()) {
                Ok(written) => return Ok((written, stamp)),
                Err(PersistAll::Taken(back)) => pending = back,
                Err(PersistAll::Failed(e)) => {
                    return Err(EngineError::new(
                        ErrorCode::WriteFailed,
                        format!("moving the output files into {:?} failed: {e}", dir.display()),
                    ));
                }
            }
        }
        Err(EngineError::new(
            ErrorCode::WriteFailed,
            format!("could not find free file names in {:?} after {MAX_STAMP_ATTEMPTS} attempts", dir.display()),
        ))
    }
}

enum PersistAll {
    /// A name was taken; the files come back as temporaries.
    Taken(Vec<Pending>),
    Failed(io::Error),
}

fn temp_with_bytes(dir: &Path, name: &FileName, stamp: &str, bytes: &[u8]) -> io::Result<NamedTempFile> {
    let mut temp =
        tempfile::Builder::new().prefix(&format!(".{}", name.with_stamp(stamp))).suffix(".tmp").tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    Ok(temp)
}

fn persist_all(
    dir: &Path,
    stamp: &str,
    pending: Vec<Pending>,
    last: Option<&LastFile<'_>>,
) -> std::result::Result<Vec<WrittenFile>, PersistAll> {
    let mut done: Vec<WrittenFile> = Vec::new();
    let mut rest = pending.into_iter();
    while let Some(Pending { name, temp, sha256, bytes }) = rest.next() {
        let path = dir.join(name.with_stamp(stamp));
        match temp.persist_noclobber(&path) {
            Ok(_) => done.push(WrittenFile { path, name, sha256, bytes }),
            Err(error) => {
                let taken = error.error.kind() == io::ErrorKind::AlreadyExists;
                let mut back = undo_all(dir, done)?;
                back.push(Pending { name, temp: error.file, sha256, bytes });
                back.extend(rest);
                return Err(if taken { PersistAll::Taken(back) } else { PersistAll::Failed(error.error) });
            }
        }
    }
    if let Some((name, make)) = last {
        let contents = make(stamp, &done);
        let path = dir.join(name.with_stamp(stamp));
        let persisted = temp_with_bytes(dir, name, stamp, &contents)
            .and_then(|temp| temp.persist_noclobber(&path).map_err(|e| e.error));
        if let Err(error) = persisted {
            let back = undo_all(dir, done)?;
            return Err(if error.kind() == io::ErrorKind::AlreadyExists {
                PersistAll::Taken(back)
            } else {
                PersistAll::Failed(error)
            });
        }
    }
    Ok(done)
}

/// Undoes an attempt: the files it moved become temporaries again.
fn undo_all(dir: &Path, done: Vec<WrittenFile>) -> std::result::Result<Vec<Pending>, PersistAll> {
    done.into_iter()
        .map(|written| {
            let temp = undo(dir, &written).map_err(PersistAll::Failed)?;
            Ok(Pending { name: written.name, temp, sha256: written.sha256, bytes: written.bytes })
        })
        .collect()
}

fn undo(dir: &Path, written: &WrittenFile) -> io::Result<NamedTempFile> {
    // Reserve a fresh temporary name, then move the file over it: the temporary's
    // path (which is what persisting and dropping act on) now holds our content.
    let reserved = tempfile::Builder::new().prefix(".audience-engine-undo.").suffix(".tmp").tempfile_in(dir)?;
    fs::rename(&written.path, reserved.path())?;
    Ok(reserved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        n.sort();
        n
    }

    fn write_set(dir: &Path, stamp: &str) -> Result<Vec<WrittenFile>> {
        let mut set = FileSet::new(dir.to_path_buf(), stamp.into());
        set.add_csv(FileName::new("a_", ".csv"), |w| {
            w.write_record(["h"])?;
            w.write_record(["1"])?;
            Ok(1)
        })?;
        let manifest = |stamp: &str, files: &[WrittenFile]| format!("{stamp}:{}", files[0].sha256).into_bytes();
        set.commit_with_last(Some((FileName::new("", ".manifest.json"), &manifest))).map(|(files, _)| files)
    }

    #[test]
    fn commits_all_files_under_one_stamp_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_set(dir.path(), "20260101T000000").unwrap();
        assert_eq!(names(dir.path()), ["20260101T000000.manifest.json", "a_20260101T000000.csv"]);
        assert_eq!(fs::read_to_string(&written[0].path).unwrap(), "h\n1\n");
        assert_eq!(written[0].sha256, "733e3611b3b9ec754cb628ae0ce9d5f30f09ced371d95b0c605d6c97a75d0545");
        assert_eq!(written[0].bytes, 4);
        // The manifest is made from the final stamp and moved in last.
        let manifest = fs::read_to_string(dir.path().join("20260101T000000.manifest.json")).unwrap();
        assert_eq!(manifest, format!("20260101T000000:{}", written[0].sha256));
        let mode = fs::metadata(&written[0].path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn never_overwrites_and_moves_the_whole_set_to_the_next_stamp() {
        let dir = tempfile::tempdir().unwrap();
        // Only the second name is taken: the first must not be left under the old stamp.
        fs::write(dir.path().join("20260101T000000.manifest.json"), "theirs").unwrap();
        write_set(dir.path(), "20260101T000000").unwrap();
        write_set(dir.path(), "20260101T000000").unwrap();
        assert_eq!(
            names(dir.path()),
            [
                "20260101T000000-2.manifest.json",
                "20260101T000000-3.manifest.json",
                "20260101T000000.manifest.json",
                "a_20260101T000000-2.csv",
                "a_20260101T000000-3.csv",
            ]
        );
        assert_eq!(fs::read_to_string(dir.path().join("20260101T000000.manifest.json")).unwrap(), "theirs");
    }

    #[test]
    fn files_written_at_once_keep_their_order_and_a_failure_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = FileSet::new(dir.path().to_path_buf(), "s".into());
        let files: Vec<(FileName, CsvRows<'_>)> = (0..4)
            .map(|i| {
                let rows: CsvRows<'_> = Box::new(move |w| {
                    (0..i).try_for_each(|row| w.write_record([row.to_string()]))?;
                    Ok(i)
                });
                (FileName::new(format!("f{i}_"), ".csv"), rows)
            })
            .collect();
        assert_eq!(set.add_csvs(files).unwrap(), vec![0, 1, 2, 3]);
        let written = set.commit().unwrap();
        let shown: Vec<(String, u64)> = written.iter().map(|f| (f.name.with_stamp("s"), f.bytes)).collect();
        assert_eq!(
            shown,
            [("f0_s.csv".into(), 0), ("f1_s.csv".into(), 2), ("f2_s.csv".into(), 4), ("f3_s.csv".into(), 6)]
        );

        let dir = tempfile::tempdir().unwrap();
        let mut set = FileSet::new(dir.path().to_path_buf(), "s".into());
        let ok: CsvRows<'_> = Box::new(|w| w.write_record(["h"]).map(|_| 0));
        let failing: CsvRows<'_> = Box::new(|_| Err(csv::Error::from(io::Error::other("disk full"))));
        let failed = set.add_csvs(vec![(FileName::new("a_", ".csv"), ok), (FileName::new("b_", ".csv"), failing)]);
        assert_eq!(failed.unwrap_err().code, ErrorCode::WriteFailed);
        drop(set);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_set_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = FileSet::new(dir.path().to_path_buf(), "x".into());
        set.add_csv(FileName::new("a_", ".csv"), |w| w.write_record(["h"]).map(|_| 0)).unwrap();
        let failed = set.add_csv(FileName::new("b_", ".csv"), |_| Err(csv::Error::from(io::Error::other("disk full"))));
        assert_eq!(failed.unwrap_err().code, ErrorCode::WriteFailed);
        drop(set);
        assert!(names(dir.path()).is_empty());
    }
}
