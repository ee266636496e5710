//! The CSV dialect of every output file: RFC 4180, UTF-8 without BOM, `\n` line ends (or
//! `\r\n`, as Python's `csv` writes), fields quoted only when they hold a comma, a double
//! quote, `\r` or `\n`.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use sha2::{Digest, Sha256};

/// The writer every CSV goes through.
pub type CsvSink = csv::Writer<BufWriter<HashingFile>>;

/// What ends each row, the last included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnd {
    #[default]
    Lf,
    CrLf,
}

pub fn csv_writer(file: File, line_end: LineEnd) -> CsvSink {
    let terminator = match line_end {
        LineEnd::Lf => csv::Terminator::Any(b'\n'),
        LineEnd::CrLf => csv::Terminator::CRLF,
    };
    csv::WriterBuilder::new()
        .terminator(terminator)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(BufWriter::with_capacity(256 * 1024, HashingFile::new(file)))
}

/// A file that hashes and counts the bytes written to it, so a file's digest comes with
/// writing it instead of reading it back.
pub struct HashingFile {
    file: File,
    hasher: Sha256,
    bytes: u64,
}

impl HashingFile {
    pub fn new(file: File) -> Self {
        HashingFile { file, hasher: Sha256::new(), bytes: 0 }
    }

    /// The file, the hex SHA-256 of the bytes written and their number.
    pub fn finish(self) -> (File, String, u64) {
        let hex = self.hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        (self.file, hex, self.bytes)
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn quotes_only_when_needed_and_round_trips() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let fields = ["plain", "a,b", "say \"hi\"", "line\nbreak", "cr\rhere", "👟 émoji", "=SUM(A1)", " lead", ""];
        {
            let mut w = csv_writer(tmp.reopen().unwrap(), LineEnd::Lf);
            w.write_record(fields).unwrap();
            w.flush().unwrap();
        }
        let mut text = String::new();
        tmp.reopen().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "plain,\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"cr\rhere\",👟 émoji,=SUM(A1), lead,\n");
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(record.iter().collect::<Vec<_>>(), fields);
    }

    #[test]
    fn crlf_ends_every_row_as_pythons_csv_does() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        {
            let mut w = csv_writer(tmp.reopen().unwrap(), LineEnd::CrLf);
            w.write_record(["a", "line\nbreak"]).unwrap();
            w.write_record(["b", ""]).unwrap();
            w.flush().unwrap();
        }
        let mut text = String::new();
        tmp.reopen().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "a,\"line\nbreak\"\r\nb,\r\n");
    }
}
