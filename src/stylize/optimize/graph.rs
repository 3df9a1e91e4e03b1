//! The loss network taken apart, and the two ONNX graphs built from it at load time.
//!
//! ONNX Runtime's inference builds have no automatic differentiation, so the gradient of the
//! style-transfer loss with respect to the image is written out here as an ordinary ONNX graph,
//! layer by layer, from the loss network's own weights:
//!
//! ```text
//! image ─ Sub(mean) ─ Conv ─ Relu ─ … ─ Conv ─ Relu (deepest layer used)     forward
//!                                │               │
//!                         loss terms, closed-form gradients dL/dF            losses
//!                                │               │
//! grad ◀─ ConvTranspose ◀─ mask ◀┴─ … ◀─ ConvTranspose ◀─ mask (F > 0) ◀──┘  backward
//! ```
//!
//! - ReLU's derivative is a mask: the gradient passes where the layer's output is positive.
//! - A convolution's input gradient is a `ConvTranspose` with the same weights and padding.
//! - Max pooling routes the gradient back to the position of each window's maximum (`MaxPool`'s
//!   indices and `MaxUnpool`); average pooling ([`Pool::Avg`], which Gatys et al. recommend)
//!   spreads it evenly over the window.
//! - The loss terms' gradients are closed-form (see [`LossSpec`] for the conventions).
//!
//! [`loss_model`] gives one graph whose outputs are the scalar `loss` and `grad`, the gradient
//! with respect to `image`, so one run of ONNX Runtime serves one evaluation of the optimiser.
//! [`targets_model`] gives the forward half with the content features and style Gram matrices as
//! outputs; it makes the targets once, which the loss graph then takes as inputs.
//! Both stop at the deepest layer any loss term uses.
//!
//! The loss network must be "prepared" like `models/vgg16_features.onnx` (see `models/README.md`):
//! an input `image` `[1,3,H,W]` in RGB 0..255, `Sub(image, mean)`, then a chain of
//! `Conv → Relu [→ MaxPool 2x2]`; each `Relu`'s output names the layer (`conv_1`, `conv_2`, …).
//! Any depth works (VGG16 has 13 such layers, VGG19 16).

use std::collections::HashMap;

use prost::Message;

use crate::stylize::onnx_proto::{
    AttributeProto, FLOAT, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    value_info,
};

/// The ONNX IR version and operator set of the graphs built here.
const IR_VERSION: i64 = 8;
const OPSET: i64 = 17;

/// The name of the image input of every graph built here.
pub const IMAGE: &str = "image";
/// The scalar loss output of [`loss_model`].
pub const LOSS: &str = "loss";
/// The gradient output of [`loss_model`], shaped like [`IMAGE`].
pub const GRAD: &str = "grad";
/// The temporal term's input of [`video_loss_model`]: the previous result moved to this frame
/// by the motion, shaped like [`IMAGE`].
pub const TEMPORAL_TARGET: &str = "temporal_target";
/// The temporal term's input of [`video_loss_model`]: how far each pixel of
/// [`TEMPORAL_TARGET`] can be trusted, 0..1, `[1, 1, H, W]` (shared by the three channels).
pub const TEMPORAL_MASK: &str = "temporal_mask";

/// The graph input (loss graph) or output (targets graph) holding the content features of `layer`.
pub fn content_name(layer: &str) -> String {
    format!("content_{layer}")
}

/// The graph input (loss graph) or output (targets graph) holding the Gram matrix of `layer`.
pub fn gram_name(layer: &str) -> String {
    format!("gram_{layer}")
}

/// How the loss network's 2x2 pooling layers pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Pool {
    /// Max pooling, as the network was trained.
    #[default]
    Max,
    /// Average pooling, which Gatys et al. found gives slightly smoother images.
    Avg,
}

/// One `Conv → Relu [→ pool]` block of the loss network.
#[derive(Debug, Clone)]
pub struct ConvLayer {
    /// The `Relu` output's name, which users pick layers by (`conv_4`).
    pub name: String,
    pub in_channels: i64,
    pub out_channels: i64,
    weight: TensorProto,
    bias: Option<TensorProto>,
    /// Conv padding as ONNX writes it: `[top, left, bottom, right]`.
    pads: Vec<i64>,
    /// A 2x2, stride-2 pooling follows this layer.
    pub pool_after: bool,
}

/// A loss network read from an ONNX file prepared like `models/vgg16_features.onnx`.
#[derive(Debug, Clone)]
pub struct LossNetwork {
    mean: TensorProto,
    pub layers: Vec<ConvLayer>,
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn ints_attr(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

fn describe(node: &NodeProto) -> String {
    format!(
        "{} node {:?} ({} → {})",
        node.op_type,
        node.name,
        node.input.join(", "),
        node.output.join(", ")
    )
}

impl LossNetwork {
    /// Reads the layers and weights of a prepared loss network.
    ///
    /// # Errors
    /// Bytes that are not an ONNX model, or a graph that is not `Sub(image, mean)` followed by
    /// `Conv → Relu [→ MaxPool]` blocks; the message names the first node that does not fit.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let model = ModelProto::decode(bytes).map_err(|e| format!("is not an ONNX model ({e})"))?;
        let graph = model.graph.ok_or("has no graph")?;
        let inits: HashMap<&str, &TensorProto> = graph
            .initializer
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let image = graph
            .input
            .iter()
            .find(|i| !inits.contains_key(i.name.as_str()))
            .ok_or("has no image input")?
            .name
            .clone();
        let init = |name: &str, node: &NodeProto| {
            inits.get(name).map(|t| (*t).clone()).ok_or_else(|| {
                format!(
                    "{}: input {name:?} is not a weight stored in the file",
                    describe(node)
                )
            })
        };
        const EXPECTED: &str = "a loss network prepared like vgg16_features.onnx is Sub(image, mean) followed by Conv → Relu [→ MaxPool 2x2] blocks (see models/README.md)";
        let mut nodes = graph.node.iter().peekable();
        let first = nodes.next().ok_or("has no nodes")?;
        if first.op_type != "Sub" || first.input.len() != 2 || first.input[0] != image {
            return Err(format!("starts with {}; {EXPECTED}", describe(first)));
        }
        let mut mean = init(&first.input[1], first)?;
        mean.to_f32()?;
        mean.name = "mean".into();
        let mut current = first.output[0].clone();
        let mut layers: Vec<ConvLayer> = Vec::new();
        while let Some(node) = nodes.next() {
            let bad = |why: &str| format!("{}: {why}; {EXPECTED}", describe(node));
            match node.op_type.as_str() {
                "Conv" => {
                    if node.input.first() != Some(&current) || node.input.len() < 2 {
                        return Err(bad("does not continue the chain"));
                    }
                    let weight = init(&node.input[1], node)?;
                    let bias = match node.input.get(2).filter(|b| !b.is_empty()) {
                        Some(b) => Some(init(b, node)?),
                        None => None,
                    };
                    let [cout, cin, kh, kw] = weight.dims[..] else {
                        return Err(bad("weight is not 4-dimensional"));
                    };
                    weight.to_f32()?;
                    if let Some(b) = &bias
                        && (b.to_f32()?.len() as i64) != cout
                    {
                        return Err(bad("bias does not match the weight"));
                    }
                    let expected_in = layers.last().map_or(3, |l| l.out_channels);
                    if cin != expected_in {
                        return Err(bad(&format!(
                            "takes {cin} channels where {expected_in} arrive"
                        )));
                    }
                    let all = |name: &str, want: i64| {
                        ints_attr(node, name).is_none_or(|v| v.iter().all(|&x| x == want))
                    };
                    let group = attr(node, "group").map_or(1, |a| a.i);
                    if !all("strides", 1) || !all("dilations", 1) || group != 1 {
                        return Err(bad("only stride 1, dilation 1, group 1 are supported"));
                    }
                    let pads = ints_attr(node, "pads").unwrap_or_else(|| vec![0; 4]);
                    if pads.len() != 4 || pads[0] + pads[2] != kh - 1 || pads[1] + pads[3] != kw - 1
                    {
                        return Err(bad("padding does not keep the size"));
                    }
                    if attr(node, "auto_pad").is_some_and(|a| !a.s.is_empty() && a.s != b"NOTSET") {
                        return Err(bad("auto_pad is not supported"));
                    }
                    let relu = nodes
                        .next()
                        .filter(|r| r.op_type == "Relu" && r.input.first() == node.output.first())
                        .ok_or_else(|| bad("is not followed by its Relu"))?;
                    current = relu.output[0].clone();
                    let (mut weight, mut bias) = (weight, bias);
                    let k = layers.len() + 1;
                    weight.name = format!("w{k}");
                    if let Some(b) = &mut bias {
                        b.name = format!("b{k}");
                    }
                    layers.push(ConvLayer {
                        name: current.clone(),
                        in_channels: cin,
                        out_channels: cout,
                        weight,
                        bias,
                        pads,
                        pool_after: false,
                    });
                }
                "MaxPool" | "AveragePool" => {
                    let Some(last) = layers.last_mut().filter(|l| !l.pool_after) else {
                        return Err(bad("does not follow a Relu"));
                    };
                    let two = |name| ints_attr(node, name).is_some_and(|v| v == [2, 2]);
                    let no_pads = ints_attr(node, "pads").is_none_or(|v| v.iter().all(|&p| p == 0));
                    let ceil = attr(node, "ceil_mode").is_some_and(|a| a.i != 0);
                    if node.input.first() != Some(&current)
                        || !two("kernel_shape")
                        || !two("strides")
                        || !no_pads
                        || ceil
                    {
                        return Err(bad("only 2x2 pooling with stride 2 is supported"));
                    }
                    last.pool_after = true;
                    current = node.output[0].clone();
                }
                _ => return Err(bad("unexpected operator")),
            }
        }
        if layers.is_empty() {
            return Err(format!("has no Conv → Relu layers; {EXPECTED}"));
        }
        Ok(Self { mean, layers })
    }

    /// The index of the layer called `name`.
    ///
    /// # Errors
    /// An unknown name; the message lists the names there are.
    pub fn layer(&self, name: &str) -> Result<usize, String> {
        self.layers
            .iter()
            .position(|l| l.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.layers.iter().map(|l| l.name.as_str()).collect();
                format!(
                    "has no layer {name:?} (it has {}…{}: {})",
                    names[0],
                    names[names.len() - 1],
                    names.join(", ")
                )
            })
    }
}

/// What to minimise, and the conventions of each term.
///
/// With `F` a layer's features (post-ReLU) reshaped to `C x M` (`M = H·W`) and `N = C·M`:
/// - content: the mean over the `N` elements of `(F − P)²`, `P` the content image's features;
/// - style: per layer, the mean over the `C²` entries of `(G − A)²` with `G = F·Fᵀ / N` (the Gram
///   matrix normalised by the feature map's element count) and `A` the style image's; the layers'
///   terms are summed;
/// - total variation: the mean over the image's elements of the squared differences between
///   horizontal and vertical neighbours;
///
/// and `loss = content_weight · content + style_weight · style + tv_weight · tv`. These are the
/// conventions of the PyTorch implementation the defaults come from (mean squared errors, Gram
/// divided by `C·H·W`).
#[derive(Debug, Clone, PartialEq)]
pub struct LossSpec {
    /// The content layer's index; `None` for texture synthesis.
    pub content_layer: Option<usize>,
    pub content_weight: f32,
    /// The style layers' indices; empty for content reconstruction.
    pub style_layers: Vec<usize>,
    pub style_weight: f32,
    pub tv_weight: f32,
    pub pool: Pool,
}

impl LossSpec {
    /// The deepest layer any term reads: the graphs stop there.
    pub fn deepest(&self) -> Option<usize> {
        self.content_layer
            .into_iter()
            .chain(self.style_layers.iter().copied())
            .max()
    }
}

/// Accumulates nodes and constants, handing out fresh value names.
struct Builder {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    next: usize,
}

impl Builder {
    fn new() -> Self {
        Self {
            nodes: Vec::new(),
            inits: Vec::new(),
            next: 0,
        }
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}.{}", self.next)
    }

    /// Adds a node with the given outputs.
    fn node_to(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) {
        let name = self.fresh(op);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name,
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
    }

    /// Adds a node with one fresh output and returns its name.
    fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.node_to(op, inputs, &[&out], attrs);
        out
    }

    fn constant(&mut self, mut t: TensorProto) -> String {
        if t.name.is_empty() {
            t.name = self.fresh("const");
        }
        let name = t.name.clone();
        self.inits.push(t);
        name
    }

    fn scalar(&mut self, v: f32) -> String {
        self.constant(TensorProto::from_f32("", &[], &[v]))
    }

    fn ints(&mut self, v: &[i64]) -> String {
        self.constant(TensorProto::from_i64("", &[v.len() as i64], v))
    }

    /// The element count of `x` as a float32 scalar.
    fn size_of(&mut self, x: &str) -> String {
        let n = self.op("Size", &[x], vec![]);
        self.op("Cast", &[&n], vec![AttributeProto::int("to", FLOAT.into())])
    }

    /// `coefficient / size(x)` as a float32 scalar.
    fn per_element(&mut self, coefficient: f32, x: &str) -> String {
        let n = self.size_of(x);
        let c = self.scalar(coefficient);
        self.op("Div", &[&c, &n], vec![])
    }

    fn mean_all(&mut self, x: &str) -> String {
        self.op("ReduceMean", &[x], vec![AttributeProto::int("keepdims", 0)])
    }

    fn finish(
        self,
        inputs: Vec<crate::stylize::onnx_proto::ValueInfoProto>,
        outputs: Vec<crate::stylize::onnx_proto::ValueInfoProto>,
        name: &str,
    ) -> ModelProto {
        ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            producer_name: "vstyle".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(GraphProto {
                node: self.nodes,
                name: name.into(),
                initializer: self.inits,
                input: inputs,
                output: outputs,
            }),
            ..Default::default()
        }
    }
}

/// Values the forward pass leaves for the backward pass and the loss terms.
struct Forward {
    /// Each layer's post-ReLU features.
    features: Vec<String>,
    /// For each layer followed by a max pooling: the pooling's indices output.
    indices: Vec<Option<String>>,
}

fn forward(
    b: &mut Builder,
    net: &LossNetwork,
    deepest: usize,
    pool: Pool,
    want_indices: bool,
) -> Forward {
    let mean = b.constant(net.mean.clone());
    let mut h = b.op("Sub", &[IMAGE, &mean], vec![]);
    let mut features = Vec::new();
    let mut indices = Vec::new();
    for (k, layer) in net.layers[..=deepest].iter().enumerate() {
        let w = b.constant(layer.weight.clone());
        let mut inputs = vec![h.as_str(), w.as_str()];
        let bias = layer.bias.clone().map(|t| b.constant(t));
        if let Some(bias) = &bias {
            inputs.push(bias);
        }
        let z = b.op("Conv", &inputs, conv_attrs(layer));
        let a = layer.name.clone();
        b.node_to("Relu", &[&z], &[&a], vec![]);
        features.push(a.clone());
        let mut idx = None;
        h = a.clone();
        if layer.pool_after && k < deepest {
            let window = vec![
                AttributeProto::ints("kernel_shape", &[2, 2]),
                AttributeProto::ints("strides", &[2, 2]),
            ];
            h = match pool {
                Pool::Avg => b.op("AveragePool", &[&a], window),
                Pool::Max if want_indices => {
                    let (y, i) = (b.fresh("maxpool"), b.fresh("indices"));
                    b.node_to("MaxPool", &[&a], &[&y, &i], window);
                    idx = Some(i);
                    y
                }
                Pool::Max => b.op("MaxPool", &[&a], window),
            };
        }
        indices.push(idx);
    }
    Forward { features, indices }
}

fn conv_attrs(layer: &ConvLayer) -> Vec<AttributeProto> {
    vec![
        AttributeProto::ints("kernel_shape", &layer.weight.dims[2..]),
        AttributeProto::ints("pads", &layer.pads),
        AttributeProto::ints("strides", &[1, 1]),
    ]
}

/// `F` reshaped to `C x M` and its Gram matrix `F·Fᵀ / (C·M)`.
fn gram(b: &mut Builder, features: &str, channels: i64) -> (String, String) {
    let shape = b.ints(&[channels, -1]);
    let f = b.op("Reshape", &[features, &shape], vec![]);
    let ft = b.op(
        "Transpose",
        &[&f],
        vec![AttributeProto::ints("perm", &[1, 0])],
    );
    let ff = b.op("MatMul", &[&f, &ft], vec![]);
    let n = b.size_of(features);
    let g = b.op("Div", &[&ff, &n], vec![]);
    (f, g)
}

fn image_info() -> crate::stylize::onnx_proto::ValueInfoProto {
    value_info(IMAGE, FLOAT, &[1.into(), 3.into(), "H".into(), "W".into()])
}

/// The forward network with the targets as outputs: the content layer's features
/// ([`content_name`]) and each style layer's Gram matrix ([`gram_name`]).
///
/// # Panics
/// When the spec names no layer at all.
pub fn targets_model(net: &LossNetwork, spec: &LossSpec) -> ModelProto {
    let deepest = spec.deepest().expect("a loss term to make targets for");
    let mut b = Builder::new();
    let fwd = forward(&mut b, net, deepest, spec.pool, false);
    let mut outputs = Vec::new();
    if let Some(c) = spec.content_layer {
        let layer = &net.layers[c];
        let name = content_name(&layer.name);
        b.node_to("Identity", &[&fwd.features[c]], &[&name], vec![]);
        outputs.push(value_info(
            &name,
            FLOAT,
            &[1.into(), layer.out_channels.into(), "h".into(), "w".into()],
        ));
    }
    for &s in &spec.style_layers {
        let layer = &net.layers[s];
        let (_, g) = gram(&mut b, &fwd.features[s], layer.out_channels);
        let name = gram_name(&layer.name);
        b.node_to("Identity", &[&g], &[&name], vec![]);
        let c = layer.out_channels;
        outputs.push(value_info(&name, FLOAT, &[c.into(), c.into()]));
    }
    b.finish(vec![image_info()], outputs, "vstyle_targets")
}

/// The loss and its gradient with respect to the image in one graph: inputs [`IMAGE`], the
/// content target ([`content_name`]) and the style targets ([`gram_name`]); outputs [`LOSS`] (a
/// float32 scalar) and [`GRAD`] (shaped like the image). See [`LossSpec`] for the loss.
///
/// # Panics
/// When the spec names no layer and no total-variation term.
pub fn loss_model(net: &LossNetwork, spec: &LossSpec) -> ModelProto {
    video_loss_model(net, spec, 0.0)
}

/// As [`loss_model`], plus, when `temporal_weight` is above 0, the short-term temporal loss of
/// Ruder et al. 2016 ("Artistic style transfer for videos"):
/// `temporal_weight · mean(c · (x − w)²)` over the image's `3·H·W` elements, with `w` the
/// previous frame's result moved to this frame ([`TEMPORAL_TARGET`]) and `c` the mask of
/// where that move can be trusted ([`TEMPORAL_MASK`], one value per pixel); an all-zero mask
/// turns the term off for a frame without a previous one.
///
/// # Panics
/// When the spec names no layer and no total-variation term, and `temporal_weight` is 0.
pub fn video_loss_model(net: &LossNetwork, spec: &LossSpec, temporal_weight: f32) -> ModelProto {
    let mut b = Builder::new();
    let mut inputs = vec![image_info()];
    let mut loss_terms: Vec<String> = Vec::new();
    let mut image_grads: Vec<String> = Vec::new();

    if let Some(deepest) = spec.deepest() {
        let fwd = forward(&mut b, net, deepest, spec.pool, spec.pool == Pool::Max);
        // Gradient contributions at each layer's features, from the loss terms read there.
        let mut at_layer: Vec<Vec<String>> = vec![Vec::new(); deepest + 1];

        if let Some(c) = spec.content_layer {
            let layer = &net.layers[c];
            let target = content_name(&layer.name);
            inputs.push(value_info(
                &target,
                FLOAT,
                &[
                    1.into(),
                    layer.out_channels.into(),
                    "hc".into(),
                    "wc".into(),
                ],
            ));
            let f = &fwd.features[c];
            let diff = b.op("Sub", &[f, &target], vec![]);
            let sq = b.op("Mul", &[&diff, &diff], vec![]);
            let content = b.mean_all(&sq);
            let w = b.scalar(spec.content_weight);
            loss_terms.push(b.op("Mul", &[&content, &w], vec![]));
            // d/dF mean((F − P)²) = 2 (F − P) / N
            let coef = b.per_element(2.0 * spec.content_weight, f);
            at_layer[c].push(b.op("Mul", &[&diff, &coef], vec![]));
        }

        for &s in &spec.style_layers {
            let layer = &net.layers[s];
            let target = gram_name(&layer.name);
            let c = layer.out_channels;
            inputs.push(value_info(&target, FLOAT, &[c.into(), c.into()]));
            let features = &fwd.features[s];
            let (f, g) = gram(&mut b, features, c);
            let diff = b.op("Sub", &[&g, &target], vec![]);
            let sq = b.op("Mul", &[&diff, &diff], vec![]);
            let style = b.mean_all(&sq);
            let w = b.scalar(spec.style_weight);
            loss_terms.push(b.op("Mul", &[&style, &w], vec![]));
            // E = Σ(G − A)² / C² with G = F·Fᵀ / N, and G, A symmetric:
            // dE/dF = (2 / C²) (D + Dᵀ) F / N = 4 D F / (C² N), D = G − A.
            let coef = b.per_element(4.0 * spec.style_weight / (c * c) as f32, features);
            let df = b.op("MatMul", &[&diff, &f], vec![]);
            let df = b.op("Mul", &[&df, &coef], vec![]);
            let shape = b.op("Shape", &[features], vec![]);
            at_layer[s].push(b.op("Reshape", &[&df, &shape], vec![]));
        }

        // Back from the deepest layer to the image.
        let zero = b.scalar(0.0);
        let mut from_above: Option<String> = None;
        for k in (0..=deepest).rev() {
            let layer = &net.layers[k];
            let mut terms = std::mem::take(&mut at_layer[k]);
            terms.extend(from_above.take());
            let grad_a = if terms.len() == 1 {
                terms.pop().expect("one term")
            } else {
                let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
                b.op("Sum", &refs, vec![])
            };
            let a = &fwd.features[k];
            let positive = b.op("Greater", &[a, &zero], vec![]);
            let grad_z = b.op("Where", &[&positive, &grad_a, &zero], vec![]);
            // The forward pass already holds this weight under its name.
            let grad_in = b.op(
                "ConvTranspose",
                &[&grad_z, &layer.weight.name],
                conv_attrs(layer),
            );
            if k == 0 {
                image_grads.push(grad_in);
                break;
            }
            let below = &net.layers[k - 1];
            from_above = Some(if below.pool_after {
                let before = &fwd.features[k - 1];
                let shape = b.op("Shape", &[before], vec![]);
                let window = vec![
                    AttributeProto::ints("kernel_shape", &[2, 2]),
                    AttributeProto::ints("strides", &[2, 2]),
                ];
                match &fwd.indices[k - 1] {
                    Some(idx) => b.op("MaxUnpool", &[&grad_in, idx, &shape], window),
                    None => avg_pool_grad(&mut b, &grad_in, &shape, below.out_channels),
                }
            } else {
                grad_in
            });
        }
    }

    if spec.tv_weight != 0.0 {
        let (term, grad) = total_variation(&mut b, spec.tv_weight);
        loss_terms.push(term);
        image_grads.push(grad);
    }
    if temporal_weight != 0.0 {
        inputs.push(value_info(
            TEMPORAL_TARGET,
            FLOAT,
            &[1.into(), 3.into(), "H".into(), "W".into()],
        ));
        inputs.push(value_info(
            TEMPORAL_MASK,
            FLOAT,
            &[1.into(), 1.into(), "H".into(), "W".into()],
        ));
        let (term, grad) = temporal(&mut b, temporal_weight);
        loss_terms.push(term);
        image_grads.push(grad);
    }
    assert!(!loss_terms.is_empty(), "a loss term to differentiate");

    let sum = |b: &mut Builder, terms: &[String], out: &str| {
        let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
        b.node_to("Sum", &refs, &[out], vec![]);
    };
    sum(&mut b, &loss_terms, LOSS);
    sum(&mut b, &image_grads, GRAD);
    let outputs = vec![
        value_info(LOSS, FLOAT, &[]),
        value_info(GRAD, FLOAT, &[1.into(), 3.into(), "H".into(), "W".into()]),
    ];
    b.finish(inputs, outputs, "vstyle_loss_and_gradient")
}

/// The input gradient of a 2x2, stride-2 average pooling: each output's gradient spread as a
/// quarter over its window (a depthwise `ConvTranspose`), and zeros for the last row or column
/// of odd sizes, which the pooling never read.
fn avg_pool_grad(b: &mut Builder, grad: &str, input_shape: &str, channels: i64) -> String {
    let kernel = b.constant(TensorProto::from_f32(
        "",
        &[channels, 1, 2, 2],
        &vec![0.25; channels as usize * 4],
    ));
    let up = b.op(
        "ConvTranspose",
        &[grad, &kernel],
        vec![
            AttributeProto::ints("kernel_shape", &[2, 2]),
            AttributeProto::ints("strides", &[2, 2]),
            AttributeProto::int("group", channels),
        ],
    );
    let up_shape = b.op("Shape", &[&up], vec![]);
    let missing = b.op("Sub", &[input_shape, &up_shape], vec![]);
    let zeros = b.ints(&[0, 0, 0, 0]);
    let pads = b.op(
        "Concat",
        &[&zeros, &missing],
        vec![AttributeProto::int("axis", 0)],
    );
    b.op("Pad", &[&up, &pads], vec![])
}

/// The weighted total-variation term and its gradient with respect to the image.
fn total_variation(b: &mut Builder, weight: f32) -> (String, String) {
    let coef = b.per_element(2.0 * weight, IMAGE);
    let mut sums = Vec::new();
    let mut grads = Vec::new();
    for axis in [2i64, 3] {
        let axes = b.ints(&[axis]);
        let (zero, one, minus_one, end) = (
            b.ints(&[0]),
            b.ints(&[1]),
            b.ints(&[-1]),
            b.ints(&[i64::MAX]),
        );
        let next = b.op("Slice", &[IMAGE, &one, &end, &axes], vec![]);
        let prev = b.op("Slice", &[IMAGE, &zero, &minus_one, &axes], vec![]);
        let d = b.op("Sub", &[&next, &prev], vec![]);
        let sq = b.op("Mul", &[&d, &d], vec![]);
        sums.push(b.op(
            "ReduceSum",
            &[&sq],
            vec![AttributeProto::int("keepdims", 0)],
        ));
        // Each difference pulls its later pixel up and its earlier one down.
        let gd = b.op("Mul", &[&d, &coef], vec![]);
        let mut before = [0i64; 8];
        before[axis as usize] = 1;
        let mut after = [0i64; 8];
        after[4 + axis as usize] = 1;
        let (pb, pa) = (b.ints(&before), b.ints(&after));
        let plus = b.op("Pad", &[&gd, &pb], vec![]);
        let minus = b.op("Pad", &[&gd, &pa], vec![]);
        grads.push(b.op("Sub", &[&plus, &minus], vec![]));
    }
    let total = b.op("Add", &[&sums[0], &sums[1]], vec![]);
    let n = b.size_of(IMAGE);
    let tv = b.op("Div", &[&total, &n], vec![]);
    let w = b.scalar(weight);
    let term = b.op("Mul", &[&tv, &w], vec![]);
    let grad = b.op("Add", &[&grads[0], &grads[1]], vec![]);
    (term, grad)
}

/// The weighted temporal term `mean(c · (x − w)²)` and its gradient `2 c (x − w) / N`.
fn temporal(b: &mut Builder, weight: f32) -> (String, String) {
    let d = b.op("Sub", &[IMAGE, TEMPORAL_TARGET], vec![]);
    // The mask broadcasts over the channels.
    let cd = b.op("Mul", &[TEMPORAL_MASK, &d], vec![]);
    let sq = b.op("Mul", &[&cd, &d], vec![]);
    let mean = b.mean_all(&sq);
    let w = b.scalar(weight);
    let term = b.op("Mul", &[&mean, &w], vec![]);
    let coef = b.per_element(2.0 * weight, IMAGE);
    let grad = b.op("Mul", &[&cd, &coef], vec![]);
    (term, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_vgg() -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny_vgg.onnx");
        std::fs::read(path).expect("tests/data/tiny_vgg.onnx (see make_tiny_vgg.py)")
    }

    #[test]
    fn the_layers_of_a_prepared_network_are_found_with_their_pooling() {
        let net = LossNetwork::parse(&tiny_vgg()).unwrap();
        let names: Vec<&str> = net.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            (1..=7).map(|k| format!("conv_{k}")).collect::<Vec<_>>()
        );
        let pools: Vec<usize> = (0..7).filter(|&k| net.layers[k].pool_after).collect();
        assert_eq!(pools, [1, 3, 6]);
        assert_eq!(net.layers[0].in_channels, 3);
        assert_eq!(net.layer("conv_4"), Ok(3));
        let e = net.layer("conv_9").unwrap_err();
        assert!(e.contains("conv_1…conv_7"), "{e}");
    }

    #[test]
    fn graphs_stop_at_the_deepest_layer_used() {
        let net = LossNetwork::parse(&tiny_vgg()).unwrap();
        let spec = LossSpec {
            content_layer: Some(1),
            content_weight: 1.0,
            style_layers: vec![0, 2],
            style_weight: 1.0,
            tv_weight: 0.0,
            pool: Pool::Max,
        };
        assert_eq!(spec.deepest(), Some(2));
        let model = loss_model(&net, &spec);
        let graph = model.graph.unwrap();
        let convs = graph.node.iter().filter(|n| n.op_type == "Conv").count();
        let back = graph
            .node
            .iter()
            .filter(|n| n.op_type == "ConvTranspose")
            .count();
        assert_eq!((convs, back), (3, 3));
        let inputs: Vec<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            inputs,
            ["image", "content_conv_2", "gram_conv_1", "gram_conv_3"]
        );
        // Each weight is stored once, shared by the forward and backward passes.
        let weights = graph
            .initializer
            .iter()
            .filter(|t| t.name.starts_with('w'))
            .count();
        assert_eq!(weights, 3);
    }

    #[test]
    fn a_network_of_another_shape_is_refused_with_the_node_that_does_not_fit() {
        let mut model = ModelProto::decode(tiny_vgg().as_slice()).unwrap();
        let graph = model.graph.as_mut().unwrap();
        // Drop the first Relu: conv_1's Conv is then followed by the second Conv.
        let relu = graph.node.iter().position(|n| n.op_type == "Relu").unwrap();
        graph.node.remove(relu);
        let e = LossNetwork::parse(&model.encode_to_vec()).unwrap_err();
        assert!(e.contains("is not followed by its Relu"), "{e}");
        assert!(LossNetwork::parse(b"not a model").is_err());
    }
}
