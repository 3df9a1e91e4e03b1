//! Looking before a long run: a contact sheet of every style of a network on one photo
//! (`--sheet`), and a preview of a few evenly spaced frames of a video, input beside output
//! (`--preview N`). Both are one PNG, each tile labelled.

use crate::cancel::Cancel;
use std::path::Path;

use font8x8::UnicodeFonts;
use image::{RgbImage, imageops};

use crate::decode::Source;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::progress::NoProgress;
use crate::stylize::Stylizer;
use crate::stylize::feedforward::FeedForward;
use crate::stylize::limit_side;

/// Pixels of one font cell (font8x8 at twice its size).
const GLYPH: u32 = 16;
/// Height of the label strip above each tile.
const LABEL: u32 = GLYPH + 8;
/// Space between tiles.
const GAP: u32 = 8;
/// The sheet's tiles: the photo's longer side, unless `--max-side` says otherwise.
pub const SHEET_TILE: u32 = 384;
/// The widest a preview row (input and output side by side) is drawn.
const PREVIEW_ROW: u32 = 1920;

/// A labelled picture on its way onto a sheet.
struct Tile {
    label: String,
    image: RgbImage,
}

fn to_image(f: &Frame) -> RgbImage {
    RgbImage::from_raw(f.width, f.height, f.rgb.clone()).expect("frame size matches its bytes")
}

/// Draws `text` in black at `(x, y)`, cut to `max_w` pixels.
fn draw_label(img: &mut RgbImage, text: &str, x: u32, y: u32, max_w: u32) {
    let fits = (max_w / GLYPH) as usize;
    let text: String = if text.chars().count() > fits && fits > 1 {
        text.chars().take(fits - 1).chain(['~']).collect()
    } else {
        text.chars().take(fits).collect()
    };
    for (n, c) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(c)
            .or_else(|| font8x8::BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8u32 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let px = x + n as u32 * GLYPH + col * 2 + dx;
                    let py = y + row as u32 * 2 + dy;
                    if px < img.width() && py < img.height() {
                        img.put_pixel(px, py, image::Rgb([0, 0, 0]));
                    }
                }
            }
        }
    }
}

/// Lays `tiles` out in `columns` columns on white, each under its label.
fn compose(tiles: &[Tile], columns: usize) -> RgbImage {
    let cell_w = tiles.iter().map(|t| t.image.width()).max().unwrap_or(1);
    let cell_h = tiles.iter().map(|t| t.image.height()).max().unwrap_or(1);
    let rows = tiles.len().div_ceil(columns);
    let width = GAP + columns as u32 * (cell_w + GAP);
    let height = GAP + rows as u32 * (LABEL + cell_h + GAP);
    let mut sheet = RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    for (i, t) in tiles.iter().enumerate() {
        let (r, c) = ((i / columns) as u32, (i % columns) as u32);
        let x = GAP + c * (cell_w + GAP);
        let y = GAP + r * (LABEL + cell_h + GAP);
        draw_label(&mut sheet, &t.label, x, y + 2, cell_w);
        imageops::replace(&mut sheet, &t.image, i64::from(x), i64::from(y + LABEL));
    }
    sheet
}

/// Writes `img` as PNG to `out` through a temporary name, so `out` only ever holds a whole file.
fn save_png(img: &RgbImage, out: &Path) -> Result<()> {
    let partial = crate::output::partial_path(out);
    let result = img
        .save_with_format(&partial, image::ImageFormat::Png)
        .map_err(|e| Error::output(out, format!("cannot write the PNG ({e})")))
        .and_then(|()| {
            std::fs::rename(&partial, out)
                .map_err(|e| Error::output(out, format!("cannot finish the file ({e})")))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// A contact sheet being made: the photo, then one labelled tile per style of each network
/// added.
#[derive(Default)]
pub struct Sheet {
    tiles: Vec<Tile>,
}

impl Sheet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Paints every style of `network` on `photo` (fitted into `tile_side`): a multi-style
    /// network each of its styles, a single- or arbitrary-style network its one. Labels start
    /// with `prefix` when given (the model's name on a sheet of several models). The first
    /// network added also puts the photo itself first. Returns the number of styles painted.
    ///
    /// # Errors
    /// An unreadable photo or a failed network run.
    pub fn add(
        &mut self,
        photo: &Path,
        network: &mut FeedForward,
        tile_side: u32,
        prefix: Option<&str>,
    ) -> Result<usize> {
        let picture = crate::decode::first_picture(photo, |w, h| {
            let (w, h) = limit_side(w, h, Some(tile_side));
            network.processing_size(w, h)
        })?;
        if self.tiles.is_empty() {
            self.tiles.push(Tile {
                label: "original".into(),
                image: to_image(&picture),
            });
        }
        let named = |label: String| match prefix {
            Some(p) if label.is_empty() => p.to_string(),
            None if label.is_empty() => "stylized".into(),
            // The style's index first, so that a label cut to the tile keeps it.
            Some(p) => format!("{label} {p}"),
            None => label,
        };
        let count = network.styles().map_or(0, |s| s.len());
        let mut paint = |network: &mut FeedForward, label: String| -> Result<()> {
            let mut f = picture.clone();
            network.stylize(std::slice::from_mut(&mut f), &NoProgress, &Cancel::new())?;
            self.tiles.push(Tile {
                label,
                image: to_image(&f),
            });
            Ok(())
        };
        if count == 0 {
            // A model's one style: its name, or on a sheet of several models the model's.
            let label = match (network.style_label(), prefix) {
                (Some(style), None) => style.to_string(),
                _ => String::new(),
            };
            paint(network, named(label))?;
            return Ok(1);
        }
        for i in 0..count {
            network.set_style(i)?;
            let name = network.style_label().unwrap_or_default();
            let label = match prefix {
                // A named style says more than the model's name; an index needs the model's.
                Some(_) if name != i.to_string() => format!("{i} {name}"),
                Some(p) => format!("{i} {p}"),
                None if name == i.to_string() => name.to_string(),
                None => format!("{i} {name}"),
            };
            paint(network, label)?;
        }
        Ok(count)
    }

    /// The styles painted so far.
    pub fn styles(&self) -> usize {
        self.tiles.len().saturating_sub(1)
    }

    /// Lays the tiles out about square and writes the PNG `out`.
    ///
    /// # Errors
    /// An unwritable output.
    pub fn save(&self, out: &Path) -> Result<()> {
        let columns = (self.tiles.len() as f64).sqrt().ceil() as usize;
        save_png(&compose(&self.tiles, columns.max(1)), out)
    }
}

/// Renders every style of `network` on `photo` (the photo first, then one labelled tile per
/// style) into the PNG `out`. A single-style or arbitrary-style network gives the photo and its
/// one style. Returns the number of styles drawn.
///
/// # Errors
/// An unreadable photo, a failed network run, or an unwritable output.
pub fn contact_sheet(
    photo: &Path,
    network: &mut FeedForward,
    tile_side: u32,
    out: &Path,
) -> Result<usize> {
    let mut sheet = Sheet::new();
    sheet.add(photo, network, tile_side, None)?;
    sheet.save(out)?;
    Ok(sheet.styles())
}

/// Which of `total` frames a preview of `n` shows: the centres of `n` equal parts.
pub fn preview_indices(total: u64, n: usize) -> Vec<u64> {
    let n = (n as u64).min(total).max(1);
    let mut out: Vec<u64> = (0..n).map(|k| (2 * k + 1) * total / (2 * n)).collect();
    out.dedup();
    out
}

/// Stylizes `n` evenly spaced frames of `input` and writes them, input beside output, one row
/// per frame, into the PNG `out`. Returns the number of frames shown.
///
/// # Errors
/// An unreadable input, a failed stylization, an unwritable output, or `Cancelled`.
pub fn video_preview(
    input: &Path,
    stylizer: &mut FeedForward,
    n: usize,
    out: &Path,
    cancel: &Cancel,
) -> Result<usize> {
    let open = || -> Result<Source> {
        let mut source = Source::open(input)?;
        let (w, h) = source.info.upright_size();
        let (pw, ph) = stylizer.processing_size(w, h);
        source.set_output_size(pw, ph);
        Ok(source)
    };
    let source = open()?;
    let rate = source.info.frame_rate;
    let total = match source.info.frames {
        0 => count_frames(open()?, cancel)?,
        n => n,
    };
    if total == 0 {
        return Err(Error::input(input, "holds no frames"));
    }
    let wanted = preview_indices(total, n);
    let last = *wanted.last().expect("at least one frame");
    let mut picked: Vec<Frame> = Vec::with_capacity(wanted.len());
    let (tx, rx) = crossbeam_channel::bounded::<Frame>(4);
    let (ptx, _prx) = crossbeam_channel::unbounded();
    std::thread::scope(|s| -> Result<()> {
        let decoder = s.spawn(move || {
            source.run(
                &tx,
                &ptx,
                &[],
                Some(last + 1),
                &|| cancel.is_cancelled(),
                || Ok(Vec::new()),
            )
        });
        for f in rx.iter() {
            if wanted.binary_search(&f.index).is_ok() {
                picked.push(f);
            }
        }
        decoder
            .join()
            .map_err(|_| Error::WorkerPanicked {
                thread: "decode".into(),
            })?
            .map(|_| ())
    })?;
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    stylizer.reset();
    let mut tiles = Vec::new();
    for f in &picked {
        let mut styled = f.clone();
        stylizer.stylize(std::slice::from_mut(&mut styled), &NoProgress, cancel)?;
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let seconds = if rate.numerator() > 0 {
            f.index as f64 * f64::from(rate.denominator()) / f64::from(rate.numerator())
        } else {
            0.0
        };
        let (a, b) = (to_image(f), to_image(&styled));
        let (a, b) = if 2 * a.width() > PREVIEW_ROW {
            let w = PREVIEW_ROW / 2;
            let h = (u64::from(a.height()) * u64::from(w) / u64::from(a.width())).max(1) as u32;
            (
                imageops::resize(&a, w, h, imageops::FilterType::Triangle),
                imageops::resize(&b, w, h, imageops::FilterType::Triangle),
            )
        } else {
            (a, b)
        };
        tiles.push(Tile {
            label: format!("frame {} ({seconds:.2} s)", f.index),
            image: a,
        });
        tiles.push(Tile {
            label: match stylizer.style_label() {
                Some(s) => format!("stylized: {s}"),
                None => "stylized".into(),
            },
            image: b,
        });
    }
    save_png(&compose(&tiles, 2), out)?;
    Ok(picked.len())
}

/// Decodes `source` to the end to count its frames (for containers that do not say).
fn count_frames(source: Source, cancel: &Cancel) -> Result<u64> {
    let (tx, rx) = crossbeam_channel::bounded::<Frame>(4);
    let (ptx, _prx) = crossbeam_channel::unbounded();
    std::thread::scope(|s| {
        let decoder = s.spawn(move || {
            source.run(&tx, &ptx, &[], None, &|| cancel.is_cancelled(), || {
                Ok(Vec::new())
            })
        });
        let counted = rx.iter().count() as u64;
        decoder
            .join()
            .map_err(|_| Error::WorkerPanicked {
                thread: "decode".into(),
            })?
            .map(|_| counted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_frames_are_the_centres_of_equal_parts() {
        assert_eq!(preview_indices(100, 4), vec![12, 37, 62, 87]);
        assert_eq!(preview_indices(3, 5), vec![0, 1, 2]);
        assert_eq!(preview_indices(10, 1), vec![5]);
    }

    #[test]
    fn labels_are_drawn_in_black_and_cut_to_the_tile() {
        let mut img = RgbImage::from_pixel(40, 20, image::Rgb([255, 255, 255]));
        draw_label(&mut img, "HELLO WORLD", 0, 0, 40);
        let dark = img.pixels().filter(|p| p.0 == [0, 0, 0]).count();
        assert!(dark > 20, "some ink: {dark}");
        // Two glyph cells fit in 40 px: "H~"; nothing is drawn past the tile.
        assert!(
            img.pixels()
                .all(|p| p.0 == [0, 0, 0] || p.0 == [255, 255, 255])
        );
    }

    #[test]
    fn tiles_are_laid_out_under_their_labels() {
        let tile = |v: u8| Tile {
            label: "x".into(),
            image: RgbImage::from_pixel(10, 6, image::Rgb([v, v, v])),
        };
        let sheet = compose(&[tile(10), tile(20), tile(30)], 2);
        assert_eq!(sheet.width(), GAP + 2 * (10 + GAP));
        assert_eq!(sheet.height(), GAP + 2 * (LABEL + 6 + GAP));
        assert_eq!(sheet.get_pixel(GAP, GAP + LABEL).0, [10, 10, 10]);
        assert_eq!(sheet.get_pixel(2 * GAP + 10, GAP + LABEL).0, [20, 20, 20]);
        assert_eq!(
            sheet.get_pixel(GAP, 2 * GAP + 2 * LABEL + 6).0,
            [30, 30, 30]
        );
    }
}
