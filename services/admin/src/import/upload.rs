//! Getting the CSV file from the upload form, and carrying it from the preview to the confirm
//! step in hidden form fields.

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mep24web_employee_import::MAX_FILE_BYTES;
use sha2::{Digest, Sha256};

/// Name of the file input in the upload form.
pub const FILE_FIELD: &str = "datei";

/// Largest request body of the upload. It leaves room for the multipart framing, so a file a
/// little over [`MAX_FILE_BYTES`] still reaches the handler and gets the readable message.
pub const UPLOAD_BODY_BYTES: usize = MAX_FILE_BYTES + 1024 * 1024;

/// Largest request body of the confirm step: the file in base64 (4 characters per 3 bytes)
/// and the other hidden fields. The gateway's global body limit must not be lower.
pub const CONFIRM_BODY_BYTES: usize = MAX_FILE_BYTES.div_ceil(3) * 4 + 64 * 1024;

/// Failure to take a file from the upload form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadError {
    /// The form has no file, or the browser sent an empty one because none was chosen.
    NoFile,
    /// The file is larger than [`MAX_FILE_BYTES`].
    TooLarge,
    /// The multipart body is cut off or malformed.
    Malformed,
}

impl UploadError {
    /// Suffix of the message's locale key `import.file_error.<code>`.
    pub fn code(self) -> &'static str {
        match self {
            UploadError::NoFile => "no_file",
            UploadError::TooLarge => "too_large",
            UploadError::Malformed => "malformed",
        }
    }
}

/// An uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    /// File name as the browser sent it, for display only.
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Reads the file field of the upload form. Stops reading as soon as the file exceeds
/// [`MAX_FILE_BYTES`], so an oversized upload is never held in memory as a whole.
pub async fn read(mut multipart: Multipart) -> Result<Upload, UploadError> {
    while let Some(mut field) = multipart.next_field().await.map_err(classify)? {
        if field.name() != Some(FILE_FIELD) {
            continue;
        }
        let file_name = field.file_name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(classify)? {
            if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                return Err(UploadError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        if file_name.is_empty() && bytes.is_empty() {
            return Err(UploadError::NoFile);
        }
        return Ok(Upload { file_name, bytes });
    }
    Err(UploadError::NoFile)
}

fn classify(error: MultipartError) -> UploadError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        UploadError::TooLarge
    } else {
        tracing::info!(
            error = %error.body_text(),
            "import upload is not a readable multipart body"
        );
        UploadError::Malformed
    }
}

/// Returns the SHA-256 hex digest of the file, shown in the preview and checked on confirm.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Encodes the file for the hidden field: URL-safe base64 without padding, so the
/// form encoding adds no percent escapes and the field stays within [`CONFIRM_BODY_BYTES`].
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes the hidden field and checks it against the digest from the preview.
///
/// The digest catches a field that arrived cut off or altered by accident. It does not stop a
/// planner who edits both fields on purpose, and it need not: the confirm step parses and
/// validates the bytes again and writes only into the signed-in planner's own tenant. So an
/// altered field can import nothing that the planner could not upload directly.
pub fn decode(encoded: &str, expected_digest: &str) -> Option<Vec<u8>> {
    if encoded.len() > CONFIRM_BODY_BYTES {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(encoded.trim()).ok()?;
    if bytes.len() > MAX_FILE_BYTES || digest(&bytes) != expected_digest.trim().to_lowercase() {
        return None;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_returns_encoded_bytes() {
        let bytes = "Personalnummer;Nachname;Vorname\r\n1;Weiß;Jürgen\r\n".as_bytes();
        let encoded = encode(bytes);
        assert!(!encoded.contains(['+', '/', '=']));
        assert_eq!(decode(&encoded, &digest(bytes)), Some(bytes.to_vec()));
    }

    #[test]
    fn decode_rejects_wrong_digest() {
        let encoded = encode(b"a;b");
        assert_eq!(decode(&encoded, &digest(b"a;c")), None);
        assert_eq!(decode("not base64 !", &digest(b"a;b")), None);
    }

    #[test]
    fn confirm_limit_fits_largest_file() {
        let largest = encode(&vec![0xFF; MAX_FILE_BYTES]);
        assert!(largest.len() < CONFIRM_BODY_BYTES);
    }
}
