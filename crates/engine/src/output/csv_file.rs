//! The CSV dialect of every output file: RFC 4180, UTF-8 without BOM, `\n` line ends,
//! fields quoted only when they hold a comma, a double quote, `\r` or `\n`.

use std::fs::File;
use std::io::BufWriter;

/// The writer every CSV goes through.
pub type CsvSink = csv::Writer<BufWriter<File>>;

pub fn csv_writer(file: File) -> CsvSink {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(BufWriter::with_capacity(256 * 1024, file))
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
            let mut w = csv_writer(tmp.reopen().unwrap());
            w.write_record(fields).unwrap();
            w.flush().unwrap();
        }
        let mut text = String::new();
        tmp.reopen().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(
            text,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"cr\rhere\",👟 émoji,=SUM(A1), lead,\n"
        );
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(record.iter().collect::<Vec<_>>(), fields);
    }
}
