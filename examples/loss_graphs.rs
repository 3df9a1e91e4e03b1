//! Writes the two graphs optimisation mode generates from a loss network, to inspect them (in
//! Netron, say) or to run them elsewhere:
//!
//! ```text
//! cargo run --example loss_graphs -- models/vgg16_features.onnx OUT_DIR [CONTENT_LAYER STYLE_LAYERS [avg]]
//! ```
//!
//! `OUT_DIR/loss.onnx` takes `image` and the targets and gives `loss` and `grad`;
//! `OUT_DIR/targets.onnx` takes `image` and gives the targets. Defaults: conv_4 and
//! conv_1,…,conv_5 with weights 1 and 1e6, max pooling.

use prost::Message;
use vstyle::stylize::optimize::graph::{self, LossNetwork, LossSpec, Pool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [net, out, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: loss_graphs LOSS_NET.onnx OUT_DIR [CONTENT_LAYER STYLE_LAYERS [avg]]".into(),
        );
    };
    let net = LossNetwork::parse(&std::fs::read(net)?)?;
    let content = rest.first().map_or("conv_4", String::as_str);
    let style = rest
        .get(1)
        .map_or("conv_1,conv_2,conv_3,conv_4,conv_5", String::as_str);
    let spec = LossSpec {
        content_layer: Some(net.layer(content)?),
        content_weight: 1.0,
        style_layers: style
            .split(',')
            .map(|l| net.layer(l))
            .collect::<Result<_, _>>()?,
        style_weight: 1e6,
        tv_weight: 0.0,
        pool: if rest.get(2).is_some_and(|p| p == "avg") {
            Pool::Avg
        } else {
            Pool::Max
        },
    };
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("loss.onnx"),
        graph::loss_model(&net, &spec).encode_to_vec(),
    )?;
    std::fs::write(
        out.join("targets.onnx"),
        graph::targets_model(&net, &spec).encode_to_vec(),
    )?;
    println!("wrote {}/loss.onnx and targets.onnx", out.display());
    Ok(())
}
