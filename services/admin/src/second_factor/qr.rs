//! The QR code of the setup page, rendered on the server as SVG and embedded as a `data:` URI,
//! so the page needs no JavaScript and no second request that would carry the secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Smallest edge of the rendered image in pixels, large enough for phone cameras at arm's
/// length.
const MIN_EDGE_PIXELS: u32 = 220;

/// Returns `data:image/svg+xml;base64,...` with a QR code of `text`, or `None` when the text
/// does not fit into a QR code.
pub(super) fn svg_data_uri(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(MIN_EDGE_PIXELS, MIN_EDGE_PIXELS)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(image.as_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_data_uri_encodes_svg() {
        let Some(uri) = svg_data_uri("otpauth://totp/MEP24web:anna@apotheke?secret=ABC") else {
            panic!("no QR code");
        };
        let encoded = uri.trim_start_matches("data:image/svg+xml;base64,");
        let decoded = STANDARD.decode(encoded).unwrap_or_default();
        let svg = String::from_utf8(decoded).unwrap_or_default();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("</svg>"), "{svg}");
    }
}
