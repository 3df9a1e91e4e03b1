//! The two graphs that let a style network run tile by tile (thumbnail instance normalisation,
//! Chen et al. 2022, "Towards Ultra-Resolution Neural Style Transfer via Thumbnail Instance
//! Normalization"), derived from the network itself:
//!
//! - the statistics graph takes the network's inputs (a thumbnail of the frame, the style) and
//!   gives every `InstanceNormalization`'s per-channel mean and variance (`[N, C, 1, 1]`), in
//!   network order;
//! - the tile graph takes the network's inputs (a tile) plus those statistics and computes the
//!   network with each instance norm replaced by the same affine arithmetic on the given
//!   statistics, `y = (x − mean) / sqrt(var + ε) · scale + bias`: a `BatchNormalization` in
//!   inference mode, which is that arithmetic in one kernel.
//!
//! With the statistics of the whole frame, every tile sees the normalisation the whole frame
//! would; what a tile still lacks is its neighbourhood, so tiles overlap by the network's
//! receptive margin ([`TileGraphs::margin`]), found here by walking the graph's convolutions,
//! poolings and resamplings. With that margin and tile origins on the network's coarsest grid
//! ([`TileGraphs::align`]), a tile's inner part is what the whole frame gives there.
//!
//! Networks this does not apply to (no instance norm, another global operation such as a
//! decomposed norm or a global pooling, channels-last tensors, control flow, a resampling of
//! unknown scale) are refused with the reason; they keep the whole-frame path.

use std::collections::{HashMap, HashSet};

use prost::Message;

use crate::stylize::onnx_proto::{
    AttributeProto, Dim, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto, value_info,
};

/// The ONNX element type float32.
const FLOAT: i32 = 1;

/// The derived graphs of a network, encoded, and what running them tile by tile needs.
#[derive(Debug, Clone)]
pub struct TileGraphs {
    /// The statistics graph (see the module's documentation).
    pub stats: Vec<u8>,
    /// The tile graph.
    pub tile: Vec<u8>,
    /// Per instance norm, the names of its mean and variance: outputs of the statistics graph,
    /// inputs of the tile graph.
    pub stat_names: Vec<(String, String)>,
    /// How far (input pixels) an output pixel's value reaches on each side, rounded up to
    /// [`TileGraphs::align`]: tiles overlap their neighbours by this much.
    pub margin: u32,
    /// The network's coarsest grid (the product of its strides): tile origins are multiples of it.
    pub align: u32,
    /// The most values per input pixel any one tensor of the network holds (a 32-channel map
    /// at full resolution: 32; 128 channels at a quarter: 8): the basis of the memory estimate.
    pub values_per_pixel: f64,
    /// True when the network computes in int8 (quantise / dequantise nodes).
    pub quantized: bool,
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

/// The float values of a constant: an initializer or a `Constant` node's tensor.
fn constant_f32(consts: &HashMap<&str, &TensorProto>, name: &str) -> Option<Vec<f32>> {
    consts.get(name).and_then(|t| t.to_f32().ok())
}

/// The receptive field walk's state of one value: `extent` input pixels feed one of its
/// elements, which lie `jump` input pixels apart; `channels` per element when known.
#[derive(Debug, Clone, Copy)]
struct Reach {
    extent: f64,
    jump: f64,
    channels: f64,
}

/// Derives the statistics and tile graphs of the style network `model` (an encoded ONNX model)
/// whose image input is `image_input`.
///
/// # Errors
/// Why the network cannot run in tiles (one line, no model name).
pub fn derive(model: &[u8], image_input: &str) -> Result<TileGraphs, String> {
    let model = ModelProto::decode(model).map_err(|e| format!("does not parse as ONNX ({e})"))?;
    let graph = model.graph.as_ref().ok_or("has no graph")?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(1, |o| o.version);
    let norms: Vec<&NodeProto> = graph
        .node
        .iter()
        .filter(|n| n.op_type == "InstanceNormalization")
        .collect();
    if norms.is_empty() {
        return Err("has no InstanceNormalization".into());
    }
    let (margin, align, values_per_pixel) = receptive_margin(graph, image_input)?;
    let quantized = graph
        .node
        .iter()
        .any(|n| n.op_type == "QuantizeLinear" || n.op_type.starts_with("QLinear"));
    let stat_names: Vec<(String, String)> = (0..norms.len())
        .map(|i| {
            (
                format!("vstyle.norm{i}.mean"),
                format!("vstyle.norm{i}.var"),
            )
        })
        .collect();
    Ok(TileGraphs {
        stats: stats_model(&model, opset, &stat_names).encode_to_vec(),
        tile: tile_model(&model, &stat_names).encode_to_vec(),
        stat_names,
        margin,
        align,
        values_per_pixel,
        quantized,
    })
}

/// Walks the graph from `image_input` and returns (margin, align, values per pixel).
fn receptive_margin(graph: &GraphProto, image_input: &str) -> Result<(u32, u32, f64), String> {
    let mut consts: HashMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    // Shapes of weights, also through the dequantisation of an int8 network's weights.
    let mut shapes: HashMap<String, Vec<i64>> = graph
        .initializer
        .iter()
        .map(|t| (t.name.clone(), t.dims.clone()))
        .collect();
    let mut reach: HashMap<String, Reach> = HashMap::new();
    reach.insert(
        image_input.to_string(),
        Reach {
            extent: 1.0,
            jump: 1.0,
            channels: 3.0,
        },
    );
    let (mut deepest_jump, mut values_per_pixel) = (1.0f64, 3.0f64);
    for node in &graph.node {
        if node.op_type == "Constant" {
            if let (Some(t), Some(out)) = (
                attr(node, "value").and_then(|a| a.t.as_ref()),
                node.output.first(),
            ) {
                consts.insert(out.as_str(), t);
                shapes.insert(out.clone(), t.dims.clone());
            }
            continue;
        }
        if matches!(
            node.op_type.as_str(),
            "DequantizeLinear" | "QuantizeLinear" | "Identity" | "Cast"
        ) && let (Some(i), Some(o)) = (node.input.first(), node.output.first())
            && let Some(s) = shapes.get(i).cloned()
        {
            shapes.insert(o.clone(), s);
        }
        let from: Vec<Reach> = node
            .input
            .iter()
            .filter_map(|i| reach.get(i).copied())
            .collect();
        if from.is_empty() {
            continue;
        }
        let op = node.op_type.as_str();
        if matches!(op, "If" | "Loop" | "Scan") {
            return Err(format!("has control flow ({op})"));
        }
        if op.starts_with("Global")
            || op.starts_with("Reduce")
            || matches!(op, "Flatten" | "Gemm" | "MatMul" | "LpNormalization")
        {
            return Err(format!(
                "computes a global {op} over the image (only InstanceNormalization can use a thumbnail's statistics)"
            ));
        }
        if op == "Shape" || op == "Size" {
            continue; // sizes, not pixels
        }
        let mut r = Reach {
            extent: from.iter().map(|r| r.extent).fold(0.0, f64::max),
            jump: from.iter().map(|r| r.jump).fold(f64::INFINITY, f64::min),
            channels: from[0].channels,
        };
        match op {
            "Conv" | "ConvInteger" | "QLinearConv" | "MaxPool" | "AveragePool" | "LpPool" => {
                let weight = if op == "QLinearConv" { 3 } else { 1 };
                let w_shape = node.input.get(weight).and_then(|w| shapes.get(w));
                let kernel = ints(node, "kernel_shape")
                    .or_else(|| w_shape.filter(|s| s.len() == 4).map(|s| s[2..].to_vec()))
                    .ok_or_else(|| format!("has a {op} whose kernel size is unknown"))?;
                let strides = ints(node, "strides").unwrap_or_else(|| vec![1, 1]);
                let dilations = ints(node, "dilations").unwrap_or_else(|| vec![1, 1]);
                let span = kernel
                    .iter()
                    .zip(dilations.iter().chain(std::iter::repeat(&1)))
                    .map(|(&k, &d)| ((k - 1) * d) as f64)
                    .fold(0.0, f64::max);
                r.extent += span * r.jump;
                r.jump *= strides.iter().copied().max().unwrap_or(1) as f64;
                if !op.ends_with("Pool")
                    && let Some(s) = w_shape.filter(|s| s.len() == 4)
                {
                    r.channels = s[0] as f64;
                }
            }
            "ConvTranspose" => {
                let kernel = ints(node, "kernel_shape")
                    .or_else(|| {
                        node.input
                            .get(1)
                            .and_then(|w| shapes.get(w))
                            .map(|s| s[2..].to_vec())
                    })
                    .ok_or("has a ConvTranspose whose kernel size is unknown")?;
                let stride = ints(node, "strides")
                    .and_then(|s| s.into_iter().max())
                    .unwrap_or(1);
                r.jump /= stride as f64;
                let k = kernel.iter().copied().max().unwrap_or(1);
                r.extent += (k - 1) as f64 * r.jump;
            }
            "Resize" | "Upsample" => {
                let scales_at = if op == "Resize" { 2 } else { 1 };
                let scales = node
                    .input
                    .get(scales_at)
                    .filter(|s| !s.is_empty())
                    .and_then(|s| constant_f32(&consts, s))
                    .filter(|s| s.len() == 4)
                    .ok_or_else(|| {
                        format!("has a {op} whose scale is not a constant (sizes given instead?)")
                    })?;
                let scale = f64::from(scales[2].max(scales[3]));
                let nearest = attr(node, "mode").is_none_or(|a| a.s == b"nearest");
                if !nearest {
                    r.extent += r.jump;
                }
                r.jump /= scale;
            }
            "DepthToSpace" => {
                let b = attr(node, "blocksize").map_or(1, |a| a.i) as f64;
                r.jump /= b;
                r.channels /= b * b;
            }
            "SpaceToDepth" => {
                let b = attr(node, "blocksize").map_or(1, |a| a.i) as f64;
                r.extent += (b - 1.0) * r.jump;
                r.jump *= b;
                r.channels *= b * b;
            }
            _ => {}
        }
        deepest_jump = deepest_jump.max(r.jump);
        values_per_pixel = values_per_pixel.max(r.channels / (r.jump * r.jump));
        for out in &node.output {
            reach.insert(out.clone(), r);
        }
    }
    let output = graph.output.first().ok_or("has no output")?;
    let out = reach
        .get(&output.name)
        .ok_or("has an output that does not depend on the image")?;
    let align = deepest_jump.round().max(1.0) as u32;
    let half = ((out.extent - 1.0) / 2.0).ceil().max(0.0) as u32;
    let margin = half.div_ceil(align) * align;
    Ok((margin, align, values_per_pixel))
}

/// Fresh names and new nodes for a derived graph.
struct Nodes {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    next: usize,
}

impl Nodes {
    fn name(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("vstyle.{hint}.{}", self.next)
    }

    fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.name(&op.to_ascii_lowercase());
        self.op_to(op, inputs, &out, attrs);
        out
    }

    fn op_to(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) {
        let name = self.name(op);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name,
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
    }

    fn constant(&mut self, t: TensorProto) -> String {
        let name = self.name("const");
        self.inits.push(TensorProto {
            name: name.clone(),
            ..t
        });
        name
    }

    /// Mean over the spatial axes, kept as `[N, C, 1, 1]`.
    fn spatial_mean(&mut self, x: &str, opset: i64) -> String {
        self.spatial_reduce("ReduceMean", x, opset)
    }

    /// The number of values per channel of `x` (`[N, C, H, W]`), H·W as a float scalar (Slice's
    /// bounds as inputs from opset 10 on, as attributes before).
    fn spatial_count(&mut self, x: &str, opset: i64) -> String {
        let shape = self.op("Shape", &[x], vec![]);
        let hw = if opset >= 10 {
            let starts = self.constant(TensorProto::from_i64("", &[1], &[2]));
            let ends = self.constant(TensorProto::from_i64("", &[1], &[4]));
            self.op("Slice", &[&shape, &starts, &ends], vec![])
        } else {
            self.op(
                "Slice",
                &[&shape],
                vec![
                    AttributeProto::ints("starts", &[2]),
                    AttributeProto::ints("ends", &[4]),
                    AttributeProto::ints("axes", &[0]),
                ],
            )
        };
        let n = self.reduce("ReduceProd", &hw, &[0], false, opset);
        self.op("Cast", &[&n], vec![AttributeProto::int("to", FLOAT.into())])
    }

    /// A reduction over the spatial axes, kept as `[N, C, 1, 1]`.
    fn spatial_reduce(&mut self, op: &str, x: &str, opset: i64) -> String {
        self.reduce(op, x, &[2, 3], true, opset)
    }

    /// The reduction `op` of `x` over `axes` (an input from opset 18 on, an attribute before).
    fn reduce(&mut self, op: &str, x: &str, axes: &[i64], keepdims: bool, opset: i64) -> String {
        let keepdims = AttributeProto::int("keepdims", keepdims.into());
        if opset >= 18 {
            let axes = self.constant(TensorProto::from_i64("", &[axes.len() as i64], axes));
            self.op(op, &[x, &axes], vec![keepdims])
        } else {
            self.op(op, &[x], vec![AttributeProto::ints("axes", axes), keepdims])
        }
    }
}

fn stat_info(name: &str, i: usize) -> ValueInfoProto {
    value_info(
        name,
        FLOAT,
        &[
            Dim::Named("n".into()),
            Dim::Named(format!("c{i}")),
            Dim::Fixed(1),
            Dim::Fixed(1),
        ],
    )
}

/// The network with every instance norm's input statistics computed in place and given out
/// (its own output dropped, and the nodes only it needed). Each norm becomes the tile graph's
/// batch normalisation fed with the statistics just computed, which is the same arithmetic and
/// makes the next layer wait for them: so every map is freed as soon as its statistics are
/// taken, and the graph needs no more memory than the network.
fn stats_model(model: &ModelProto, opset: i64, names: &[(String, String)]) -> ModelProto {
    let graph = model.graph.as_ref().expect("checked");
    let mut outputs = Vec::new();
    let (nodes, inits) = replace_norms(graph, |b, i, x| {
        let (mean_name, var_name) = &names[i];
        let mean = b.spatial_mean(x, opset);
        b.op_to("Identity", &[&mean], mean_name, vec![]);
        // var = E[x²] − mean², from one more reading of the map (no map-sized intermediates,
        // which cost more than the reductions); clamped at 0 against rounding.
        let sum_sq = b.spatial_reduce("ReduceSumSquare", x, opset);
        let count = b.spatial_count(x, opset);
        let mean_sq = b.op("Div", &[&sum_sq, &count], vec![]);
        let sq_mean = b.op("Mul", &[&mean, &mean], vec![]);
        let var = b.op("Sub", &[&mean_sq, &sq_mean], vec![]);
        b.op_to("Relu", &[&var], var_name, vec![]);
        outputs.push(stat_info(mean_name, i));
        outputs.push(stat_info(var_name, i));
        (mean_name.clone(), var_name.clone())
    });
    let needed: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
    let (node, initializer, input) = prune(nodes, inits, &graph.input, &needed);
    derived(
        model,
        GraphProto {
            node,
            name: format!("{} statistics", graph.name),
            initializer,
            input,
            output: outputs,
        },
    )
}

/// The network with every instance norm computed from statistics given as inputs.
fn tile_model(model: &ModelProto, names: &[(String, String)]) -> ModelProto {
    let graph = model.graph.as_ref().expect("checked");
    let mut inputs = graph.input.clone();
    let (node, initializer) = replace_norms(graph, |_, i, _| {
        let (mean, var) = &names[i];
        inputs.push(stat_info(mean, i));
        inputs.push(stat_info(var, i));
        (mean.clone(), var.clone())
    });
    derived(
        model,
        GraphProto {
            node,
            name: format!("{} tiles", graph.name),
            initializer,
            input: inputs,
            output: graph.output.clone(),
        },
    )
}

/// The graph's nodes and initializers with instance norm `i` (input `x`) replaced by a batch
/// normalisation in inference mode, which is exactly the instance norm's arithmetic with given
/// statistics, in one fused kernel; `stats` adds what makes them and names the mean and variance
/// (`[N, C, 1, 1]`).
fn replace_norms(
    graph: &GraphProto,
    mut stats: impl FnMut(&mut Nodes, usize, &str) -> (String, String),
) -> (Vec<NodeProto>, Vec<TensorProto>) {
    let mut b = Nodes {
        nodes: Vec::new(),
        inits: Vec::new(),
        next: 0,
    };
    let flat = b.constant(TensorProto::from_i64("", &[1], &[-1]));
    let mut norm = 0;
    for node in &graph.node {
        if node.op_type != "InstanceNormalization" {
            b.nodes.push(node.clone());
            continue;
        }
        let (x, scale, bias) = (&node.input[0], &node.input[1], &node.input[2]);
        let (mean, var) = stats(&mut b, norm, x);
        norm += 1;
        let eps = attr(node, "epsilon").map_or(1e-5, |a| a.f);
        let flat_mean = b.op("Reshape", &[&mean, &flat], vec![]);
        let flat_var = b.op("Reshape", &[&var, &flat], vec![]);
        b.op_to(
            "BatchNormalization",
            &[x, scale, bias, &flat_mean, &flat_var],
            &node.output[0],
            vec![AttributeProto::float("epsilon", eps)],
        );
    }
    let mut inits = graph.initializer.clone();
    inits.extend(b.inits);
    (b.nodes, inits)
}

fn derived(model: &ModelProto, graph: GraphProto) -> ModelProto {
    ModelProto {
        graph: Some(graph),
        metadata_props: Vec::new(),
        ..model.clone()
    }
}

/// Only the nodes, initializers and graph inputs that the values `needed` depend on.
fn prune(
    nodes: Vec<NodeProto>,
    initializer: Vec<TensorProto>,
    inputs: &[ValueInfoProto],
    needed: &[&str],
) -> (Vec<NodeProto>, Vec<TensorProto>, Vec<ValueInfoProto>) {
    let mut live: HashSet<String> = needed.iter().map(|s| s.to_string()).collect();
    let mut keep = vec![false; nodes.len()];
    for (i, n) in nodes.iter().enumerate().rev() {
        if n.output.iter().any(|o| live.contains(o)) {
            keep[i] = true;
            live.extend(n.input.iter().filter(|s| !s.is_empty()).cloned());
        }
    }
    let nodes = nodes
        .into_iter()
        .zip(keep)
        .filter_map(|(n, k)| k.then_some(n))
        .collect();
    let initializer = initializer
        .into_iter()
        .filter(|t| live.contains(&t.name))
        .collect();
    let inputs = inputs
        .iter()
        .filter(|i| live.contains(&i.name))
        .cloned()
        .collect();
    (nodes, initializer, inputs)
}
