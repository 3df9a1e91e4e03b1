//! The settings tag of a picture output, where a container's `comment` is for videos: a PNG
//! `tEXt` chunk with the keyword `Comment`, a JPEG comment (`COM`) segment. Other picture
//! formats carry none, and resume keeps them as it keeps outputs that do not say.

use std::path::Path;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const PNG_KEYWORD: &[u8] = b"Comment";

/// Writes `text` into the picture at `path` (PNG or JPEG, by its bytes); anything else is left
/// as it is. Returns whether the tag was written.
///
/// # Errors
/// The file cannot be read or written.
pub fn write(path: &Path, text: &str) -> std::io::Result<bool> {
    let bytes = std::fs::read(path)?;
    let tagged = if bytes.starts_with(PNG_SIGNATURE) {
        png_with_text(&bytes, text)
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg_with_comment(&bytes, text)
    } else {
        None
    };
    match tagged {
        Some(t) => std::fs::write(path, t).map(|()| true),
        None => Ok(false),
    }
}

/// The comments of the picture at `path`: a PNG's `Comment` texts, a JPEG's comment segments.
pub fn read(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    if bytes.starts_with(PNG_SIGNATURE) {
        png_chunks(&bytes)
            .filter(|(kind, _)| kind == b"tEXt")
            .filter_map(|(_, data)| {
                let (key, value) = data.split_at(data.iter().position(|&b| b == 0)?);
                (key == PNG_KEYWORD).then(|| String::from_utf8_lossy(&value[1..]).into_owned())
            })
            .collect()
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg_segments(&bytes)
            .filter(|(marker, _)| *marker == 0xFE)
            .map(|(_, data)| String::from_utf8_lossy(data).into_owned())
            .collect()
    } else {
        Vec::new()
    }
}

/// The chunks of a PNG after its signature: (type, data).
fn png_chunks(bytes: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut at = PNG_SIGNATURE.len();
    std::iter::from_fn(move || {
        let len = u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let kind: [u8; 4] = bytes.get(at + 4..at + 8)?.try_into().ok()?;
        let data = bytes.get(at + 8..at + 8 + len)?;
        at += 12 + len;
        Some((kind, data))
    })
}

/// The PNG with a `tEXt` chunk `Comment` = `text` right after its header chunk.
fn png_with_text(bytes: &[u8], text: &str) -> Option<Vec<u8>> {
    let ihdr_len = u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?) as usize;
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let after_ihdr = 8 + 12 + ihdr_len;
    let mut data = PNG_KEYWORD.to_vec();
    data.push(0);
    // tEXt is Latin-1; the tag is ASCII.
    data.extend(text.bytes().filter(u8::is_ascii));
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let mut typed = b"tEXt".to_vec();
    typed.extend(&data);
    chunk.extend(&typed);
    chunk.extend(crc32(&typed).to_be_bytes());
    let mut out = bytes.get(..after_ihdr)?.to_vec();
    out.extend(chunk);
    out.extend(&bytes[after_ihdr..]);
    Some(out)
}

/// The segments of a JPEG before its scan: (marker, data without the length).
fn jpeg_segments(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = 2;
    std::iter::from_fn(move || {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        // The scan's data follows SOS; nothing after it is a segment this reads.
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = u16::from_be_bytes(bytes.get(at + 2..at + 4)?.try_into().ok()?) as usize;
        let data = bytes.get(at + 4..at + 2 + len)?;
        at += 2 + len;
        Some((marker, data))
    })
}

/// The JPEG with a comment segment right after its start marker.
fn jpeg_with_comment(bytes: &[u8], text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    let len = u16::try_from(text.len() + 2).ok()?;
    let mut out = bytes[..2].to_vec();
    out.extend([0xFF, 0xFE]);
    out.extend(len.to_be_bytes());
    out.extend(text);
    out.extend(&bytes[2..]);
    Some(out)
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_and_jpeg_carry_the_tag_and_still_decode() {
        let dir = tempfile::tempdir().unwrap();
        let img =
            image::RgbImage::from_fn(9, 7, |x, y| image::Rgb([x as u8 * 20, y as u8 * 30, 7]));
        let p = dir.path().join("a.png");
        img.save(&p).unwrap();
        assert!(read(&p).is_empty());
        assert!(write(&p, "vstyle settings 0123456789abcdef").unwrap());
        assert_eq!(read(&p), ["vstyle settings 0123456789abcdef"]);
        assert_eq!(
            image::open(&p).unwrap().to_rgb8(),
            img,
            "the picture is unchanged"
        );
        // A minimal JPEG's segments: SOI, APP0, then the comment goes first.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9,
        ];
        let j = dir.path().join("a.jpg");
        std::fs::write(&j, jpeg).unwrap();
        assert!(write(&j, "vstyle settings x").unwrap());
        assert_eq!(read(&j), ["vstyle settings x"]);
        let bytes = std::fs::read(&j).unwrap();
        assert_eq!(&bytes[bytes.len() - jpeg.len() + 2..], &jpeg[2..]);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }
}
