//! Splitting the decoded text into records of cleaned cells, with physical line numbers.
//!
//! The `csv` crate does the quoting: a quoted field may contain the delimiter, doubled quotes
//! and line breaks, and text after a closing quote is appended instead of raising an error.
//! Line numbers are counted here, because `Position::line` in csv 1.4 counts only LF bytes.
//! That is wrong for files with CR line ends, and after a CRLF line end it points at the
//! previous line.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

use crate::FileError;

/// One record of the file, borrowed from the reader until the next call.
///
/// Cells are cleaned when they are read, so that a line of millions of empty fields costs no
/// more than the `csv` crate's own buffers.
#[derive(Debug)]
pub(crate) struct Record<'r> {
    /// 1-based physical line on which the record starts.
    pub(crate) line: usize,
    fields: &'r csv::StringRecord,
}

impl Record<'_> {
    pub(crate) fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// Returns the cleaned cell at a zero-based position, or `None` if the record is shorter.
    pub(crate) fn cell(&self, position: usize) -> Option<String> {
        self.fields.get(position).map(clean_cell)
    }

    /// Returns all cells, cleaned, in file order.
    pub(crate) fn cells(&self) -> impl Iterator<Item = String> + '_ {
        self.fields.iter().map(clean_cell)
    }

    /// Returns whether every cell is empty after cleaning, as on a line of only delimiters.
    pub(crate) fn is_blank(&self) -> bool {
        !self.has_content_from(0)
    }

    /// Returns whether any cell at `position` or later is non-empty after cleaning.
    pub(crate) fn has_content_from(&self, position: usize) -> bool {
        self.fields
            .iter()
            .skip(position)
            .any(|raw| !clean_cell(raw).is_empty())
    }
}

/// Picks the delimiter that occurs most often outside quotes on the first line.
///
/// Ties go to `;`, then tab, then `,`, and a line without any of them yields `;`.
pub(crate) fn detect_delimiter(text: &str) -> u8 {
    let (mut semicolons, mut tabs, mut commas) = (0usize, 0usize, 0usize);
    let mut in_quotes = false;
    for byte in text.bytes() {
        if byte == b'"' {
            in_quotes = !in_quotes;
            continue;
        }
        if in_quotes {
            continue;
        }
        match byte {
            b'\n' | b'\r' => break,
            b';' => semicolons += 1,
            b'\t' => tabs += 1,
            b',' => commas += 1,
            _ => {}
        }
    }

    let mut best = (b';', semicolons);
    for (delimiter, count) in [(b'\t', tabs), (b',', commas)] {
        if count > best.1 {
            best = (delimiter, count);
        }
    }
    best.0
}

/// Trims a cell, unwraps Excel's `="..."` text-cell form and normalizes it to NFC.
///
/// Excel writes `="00123"` so that leading zeros survive when the file is opened again.
pub(crate) fn clean_cell(raw: &str) -> String {
    let trimmed = raw.trim();
    let unwrapped = match trimmed
        .strip_prefix("=\"")
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) => Cow::Owned(inner.replace("\"\"", "\"").trim().to_owned()),
        None => Cow::Borrowed(trimmed),
    };
    unwrapped.nfc().collect()
}

/// Reads records one by one from decoded text.
///
/// NOTE: the `csv` crate stores about 40 bytes per field of the current record, so a 5 MiB line
/// of only delimiters briefly takes about 200 MB (measured with a release build).
pub(crate) struct RecordReader<'a> {
    text: &'a [u8],
    reader: csv::Reader<&'a [u8]>,
    record: csv::StringRecord,
    lines: LineCounter,
}

impl<'a> RecordReader<'a> {
    pub(crate) fn new(text: &'a str, delimiter: u8) -> Self {
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::None)
            .from_reader(text.as_bytes());
        RecordReader {
            text: text.as_bytes(),
            reader,
            record: csv::StringRecord::new(),
            lines: LineCounter::default(),
        }
    }

    /// Returns the next record, skipping lines that contain nothing but a line break.
    ///
    /// Lines of whitespace or delimiters are returned, and `Record::is_blank` identifies them.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record<'_>>, FileError> {
        match self.reader.read_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(error) => return Err(FileError::Unreadable(error.to_string())),
        }

        // The reported byte offset is where the reader stopped after the previous record,
        // which can be before the LF of a CRLF or before skipped empty lines.
        let stop = match self.record.position() {
            Some(position) => usize::try_from(position.byte()).unwrap_or(usize::MAX),
            None => self.lines.offset,
        };
        let skipped = self.text.get(stop..).map_or(0, |rest| {
            rest.iter()
                .take_while(|&&byte| byte == b'\r' || byte == b'\n')
                .count()
        });
        let line = self.lines.line_at(self.text, stop.saturating_add(skipped));

        Ok(Some(Record {
            line,
            fields: &self.record,
        }))
    }
}

/// Converts increasing byte offsets into 1-based line numbers.
///
/// CRLF, LF and a lone CR each end one line.
#[derive(Debug)]
struct LineCounter {
    offset: usize,
    line: usize,
}

impl Default for LineCounter {
    fn default() -> Self {
        LineCounter { offset: 0, line: 1 }
    }
}

impl LineCounter {
    /// Returns the line of the byte at `target`. Offsets must not decrease between calls,
    /// and a smaller one returns the line of the largest offset seen so far.
    fn line_at(&mut self, text: &[u8], target: usize) -> usize {
        let end = target.min(text.len());
        let Some(passed) = text.get(self.offset..end) else {
            return self.line;
        };
        for (index, &byte) in passed.iter().enumerate() {
            let next = text.get(self.offset + index + 1);
            if byte == b'\n' || (byte == b'\r' && next != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.offset = end;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str, delimiter: u8) -> Vec<(usize, Vec<String>)> {
        let mut reader = RecordReader::new(text, delimiter);
        let mut records = Vec::new();
        loop {
            match reader.next_record() {
                Ok(Some(record)) => records.push((record.line, record.cells().collect())),
                Ok(None) => return records,
                Err(error) => panic!("read failed: {error:?}"),
            }
        }
    }

    fn lines_of(text: &str, delimiter: u8) -> Vec<usize> {
        read_all(text, delimiter)
            .into_iter()
            .map(|(line, _)| line)
            .collect()
    }

    #[test]
    fn detect_delimiter_each_kind() {
        assert_eq!(
            detect_delimiter("Personalnummer;Nachname;Vorname\n1,5;a;b"),
            b';'
        );
        assert_eq!(
            detect_delimiter("Personalnummer,Nachname,Vorname\r\n"),
            b','
        );
        assert_eq!(detect_delimiter("Personalnummer\tNachname\tVorname"), b'\t');
    }

    #[test]
    fn detect_delimiter_ignores_quoted() {
        let text = "\"Name, Vorname\";\"Nr, intern\";\"a,b\"\nx";
        assert_eq!(detect_delimiter(text), b';');
        let text = "\"Name;Vorname;Zusatz\",Nr,Abteilung";
        assert_eq!(detect_delimiter(text), b',');
    }

    #[test]
    fn detect_delimiter_only_reads_first_line() {
        assert_eq!(detect_delimiter("a;b\nc,d,e,f,g"), b';');
        assert_eq!(detect_delimiter("a,b\rc;d;e;f"), b',');
    }

    #[test]
    fn detect_delimiter_ties_and_default() {
        assert_eq!(detect_delimiter("a;b,c"), b';');
        assert_eq!(detect_delimiter("a\tb,c"), b'\t');
        assert_eq!(detect_delimiter("Personalnummer"), b';');
        assert_eq!(detect_delimiter(""), b';');
    }

    #[test]
    fn clean_cell_trims_whitespace() {
        assert_eq!(clean_cell("  Müller \t"), "Müller");
        assert_eq!(clean_cell("\u{A0}Weiß\u{A0}"), "Weiß");
    }

    #[test]
    fn clean_cell_unwraps_excel_text() {
        assert_eq!(clean_cell("=\"00123\""), "00123");
        assert_eq!(clean_cell(" =\" 00123 \" "), "00123");
        assert_eq!(clean_cell("=\"\""), "");
        assert_eq!(
            clean_cell("=\"Apotheke \"\"Am Markt\"\"\""),
            "Apotheke \"Am Markt\""
        );
    }

    #[test]
    fn clean_cell_keeps_other_equals_signs() {
        assert_eq!(clean_cell("=\""), "=\"");
        assert_eq!(clean_cell("=A1"), "=A1");
        assert_eq!(clean_cell("\"00123\""), "\"00123\"");
    }

    #[test]
    fn clean_cell_normalizes_to_nfc() {
        assert_eq!(clean_cell("Mu\u{308}ller"), "M\u{FC}ller");
    }

    #[test]
    fn records_lf_line_numbers() {
        assert_eq!(lines_of("a;b\nc;d\ne;f\n", b';'), [1, 2, 3]);
    }

    #[test]
    fn records_crlf_line_numbers() {
        assert_eq!(lines_of("a;b\r\nc;d\r\ne;f\r\n", b';'), [1, 2, 3]);
    }

    #[test]
    fn records_cr_line_numbers() {
        assert_eq!(lines_of("a;b\rc;d\re;f", b';'), [1, 2, 3]);
    }

    #[test]
    fn records_skip_empty_lines_but_count_them() {
        assert_eq!(lines_of("\r\n\na;b\r\n\r\n\r\nc;d\r\ne;f", b';'), [3, 6, 7]);
    }

    #[test]
    fn records_quoted_newline_spans_lines() {
        let text = "a;b\r\n\"x\r\ny\";\"1\n2\n3\"\r\ne;f\r\n";
        let records = read_all(text, b';');
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[1],
            (2, vec!["x\r\ny".to_owned(), "1\n2\n3".to_owned()])
        );
        assert_eq!(records[2].0, 6);
    }

    #[test]
    fn records_quoted_delimiter_and_quotes() {
        let records = read_all("\"Müller, Hans\",\"sagt \"\"Hallo\"\"\",x\n", b',');
        let expected = vec![
            "Müller, Hans".to_owned(),
            "sagt \"Hallo\"".to_owned(),
            "x".to_owned(),
        ];
        assert_eq!(records, [(1, expected)]);
    }

    #[test]
    fn records_blank_detection() {
        let mut reader = RecordReader::new("a;b\n   \n;\n ; \t\n=\"\";\nc;\n", b';');
        let mut blank = Vec::new();
        while let Ok(Some(record)) = reader.next_record() {
            blank.push(record.is_blank());
        }
        assert_eq!(blank, [false, true, true, true, true, false]);
    }

    #[test]
    fn records_content_after_position() {
        let mut reader = RecordReader::new("a;b;;  ;\nc;d;e\n", b';');
        let Ok(Some(record)) = reader.next_record() else {
            panic!("first record missing");
        };
        assert_eq!(record.field_count(), 5);
        assert!(record.has_content_from(1));
        assert!(!record.has_content_from(2));
        assert!(!record.has_content_from(9));
        assert_eq!(record.cell(1).as_deref(), Some("b"));
        assert_eq!(record.cell(5), None);
    }

    #[test]
    fn records_unterminated_quote_reads_to_end() {
        let records = read_all("a;\"b\nc;d\n", b';');
        assert_eq!(records, [(1, vec!["a".to_owned(), "b\nc;d".to_owned()])]);
    }

    #[test]
    fn line_counter_ignores_earlier_offsets() {
        let mut counter = LineCounter::default();
        assert_eq!(counter.line_at(b"a\nb\nc", 4), 3);
        assert_eq!(counter.line_at(b"a\nb\nc", 1), 3);
        assert_eq!(counter.line_at(b"a\nb\nc", 100), 3);
    }
}
