//! Character encoding detection and decoding of the uploaded bytes.
//!
//! Excel on Windows saves "CSV (Trennzeichen-getrennt)" in Windows-1252 and "CSV UTF-8" with a
//! byte order mark, and payroll exports are usually UTF-8 without one. Bytes that are valid
//! UTF-8 are read as UTF-8, everything else as Windows-1252. Decoding Windows-1252 cannot fail,
//! because encoding_rs follows the WHATWG Encoding Standard, which maps the five undefined bytes
//! to C1 control characters.

use std::borrow::Cow;

use encoding_rs::{UTF_8, WINDOWS_1252};
use serde::Serialize;

use crate::FileError;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const UTF16_LE_BOM: &[u8] = b"\xFF\xFE";
const UTF16_BE_BOM: &[u8] = b"\xFE\xFF";
const ZIP_SIGNATURE: &[u8] = b"PK\x03\x04";
const OLE2_SIGNATURE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Character encoding the file was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceEncoding {
    /// UTF-8 without a byte order mark. Plain ASCII files are reported as this.
    Utf8,
    /// UTF-8 that starts with the byte order mark EF BB BF, which is removed before parsing.
    /// Invalid byte sequences after the mark become U+FFFD and are then reported as
    /// `invalid_character` if they land in a recognised column.
    Utf8Bom,
    /// Windows-1252, assumed for every file that is not valid UTF-8. ISO-8859-1 files decode
    /// the same way except for the rarely used C1 range 0x80 to 0x9F.
    Windows1252,
}

/// Decodes the file to text, stripping a UTF-8 byte order mark.
///
/// Returns `FileError::Unreadable` for UTF-16 text, Excel workbooks and any other input that
/// contains NUL bytes, because none of these is CSV text in a supported encoding.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, SourceEncoding), FileError> {
    reject_binary(bytes)?;

    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        let (text, _had_errors) = UTF_8.decode_without_bom_handling(rest);
        return Ok((text, SourceEncoding::Utf8Bom));
    }

    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((Cow::Borrowed(text), SourceEncoding::Utf8)),
        Err(_) => {
            let (text, _had_errors) = WINDOWS_1252.decode_without_bom_handling(bytes);
            Ok((text, SourceEncoding::Windows1252))
        }
    }
}

fn reject_binary(bytes: &[u8]) -> Result<(), FileError> {
    let detail = if bytes.starts_with(UTF16_LE_BOM) || bytes.starts_with(UTF16_BE_BOM) {
        "UTF-16 text is not supported, expected UTF-8 or Windows-1252"
    } else if bytes.starts_with(ZIP_SIGNATURE) {
        "file is a ZIP archive such as an Excel workbook (.xlsx), expected CSV text"
    } else if bytes.starts_with(OLE2_SIGNATURE) {
        "file is a legacy Excel workbook (.xls), expected CSV text"
    } else if bytes.contains(&0) {
        "file contains NUL bytes, so it is binary data and not CSV text"
    } else {
        return Ok(());
    };
    Err(FileError::Unreadable(detail.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_ok(bytes: &[u8]) -> (String, SourceEncoding) {
        match decode(bytes) {
            Ok((text, encoding)) => (text.into_owned(), encoding),
            Err(error) => panic!("decode failed: {error:?}"),
        }
    }

    #[test]
    fn decode_plain_ascii_is_utf8() {
        assert_eq!(decode_ok(b"a;b"), ("a;b".to_owned(), SourceEncoding::Utf8));
    }

    #[test]
    fn decode_utf8_keeps_umlauts() {
        let (text, encoding) = decode_ok("Jürgen;Weiß".as_bytes());
        assert_eq!(text, "Jürgen;Weiß");
        assert_eq!(encoding, SourceEncoding::Utf8);
    }

    #[test]
    fn decode_strips_utf8_bom() {
        let (text, encoding) = decode_ok(b"\xEF\xBB\xBFVorname");
        assert_eq!(text, "Vorname");
        assert_eq!(encoding, SourceEncoding::Utf8Bom);
    }

    #[test]
    fn decode_bom_invalid_utf8_replaced() {
        let (text, encoding) = decode_ok(b"\xEF\xBB\xBFM\xFCller");
        assert_eq!(text, "M\u{FFFD}ller");
        assert_eq!(encoding, SourceEncoding::Utf8Bom);
    }

    #[test]
    fn decode_windows1252_umlauts_and_sharp_s() {
        let (text, encoding) = decode_ok(b"J\xFCrgen;Wei\xDF;\xC4\xD6\xDC\xE4\xF6;\x80");
        assert_eq!(text, "Jürgen;Weiß;ÄÖÜäö;€");
        assert_eq!(encoding, SourceEncoding::Windows1252);
    }

    #[test]
    fn decode_windows1252_maps_every_byte() {
        let all_bytes: Vec<u8> = (0..=u8::MAX).collect();
        let (text, had_errors) = WINDOWS_1252.decode_without_bom_handling(&all_bytes);
        assert!(!had_errors);
        assert_eq!(text.chars().count(), 256);
        assert!(!text.contains(char::REPLACEMENT_CHARACTER));
    }

    #[test]
    fn decode_rejects_utf16() {
        let result = decode(b"\xFF\xFEP\x00e\x00");
        assert!(matches!(result, Err(FileError::Unreadable(_))));
    }

    #[test]
    fn decode_rejects_xlsx() {
        let result = decode(b"PK\x03\x04\x14\x00\x06\x00");
        let Err(FileError::Unreadable(detail)) = result else {
            panic!("expected Unreadable, got {result:?}");
        };
        assert!(detail.contains("xlsx"), "detail: {detail}");
    }

    #[test]
    fn decode_rejects_legacy_xls() {
        let result = decode(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest");
        assert!(matches!(result, Err(FileError::Unreadable(_))));
    }

    #[test]
    fn decode_rejects_nul_bytes() {
        let result = decode(b"Vorname;Nachname\x00");
        assert!(matches!(result, Err(FileError::Unreadable(_))));
    }
}
