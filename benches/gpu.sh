#!/usr/bin/env bash
# The GPU measurements, as one prepared script for a GPU machine (CUDA + PyTorch/JAX image,
# no network, files carried in). Stages, in the order given on the command line:
#   probe   what the machine has (GPU, CUDA/cuDNN libraries, Python packages, FFmpeg/NVENC)
#   ort     unpack the CUDA-enabled ONNX Runtime carried in .gpu/ort (see benches/README.md)
#   check   one CUDA run of the TransformerNet-size model (fails fast if the provider is broken)
#   train   models/gpu_train.sh (MINUTES, RUNS as there)
#   infer   bare ONNX Runtime fps at 1280x720 and 1920x1080, fp32 and fp16, host vs device buffers
#   torch   the optimisation problem in PyTorch on CUDA (benches/gatys_pytorch.py), 512x512
#   compare vstyle's CUDA output against its CPU output on a still (needs e2e's libraries)
#   e2e     vstyle end to end on carried clips (.gpu2: binary, trimmed FFmpeg libraries, clips),
#           then optimisation mode: 300 L-BFGS steps at 512x512 on CUDA
# Everything is logged to $OUT/gpu.log; the last lines are a summary.
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu.log") 2>&1
G=.gpu
ORT=/tmp/vstyle-ort
FF=/tmp/vstyle-ffmpeg
MODEL=tests/data/transformer_net.onnx
log() { echo "== $(date -u +%T) $*"; }
unxz() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"), 1 << 20)' "$1" "$2"; }

site=$(python3 -c 'import site; print(site.getsitepackages()[0])')
# CUDA 13, cuBLAS, cuDNN 9 and friends come with the image's PyTorch wheels.
export LD_LIBRARY_PATH="$(ls -d "$site"/nvidia/*/lib "$site"/nvidia/*/*/lib 2>/dev/null | tr '\n' :)$ORT:$FF:${LD_LIBRARY_PATH:-}"
export CUDA_MODULE_LOADING=LAZY

for stage in "$@"; do
  case $stage in
    probe) log probe; bash $G/probe.sh ;;
    ort)
      log "unpack ONNX Runtime (CUDA)"; mkdir -p $ORT
      for f in $G/ort/*.xz; do unxz "$f" "$ORT/$(basename "$f" .xz)"; done
      cp $G/ort/*.so $ORT/; ls -la $ORT ;;
    check)
      log "CUDA check"; ORT_DYLIB_PATH=$ORT/libonnxruntime.so.1.31.1 timeout 180 $G/bin/ort_infer $MODEL --device cuda --size 1920x1080 --frames 5 ;;
    train) log train; MINUTES=${MINUTES:-5.5} bash models/gpu_train.sh ;;
    infer)
      log "bare ONNX Runtime"
      for m in $MODEL $G/transformer_net_fp16.onnx; do
        ORT_DYLIB_PATH=$ORT/libonnxruntime.so.1.31.1 timeout 180 $G/bin/ort_infer "$m" --device cuda --size 1280x720 --size 1920x1080 --frames 60
      done ;;
    torch)
      log "PyTorch CUDA, 300 L-BFGS steps at 512x512"
      timeout 150 python3 benches/gatys_pytorch.py --device cuda --content .gpu3/content.png --style .gpu3/style.png \
        --loss-net .gpu3/vgg16_conv1_5.onnx --steps 300 2>&1 | tail -4 ;;
    e2e)
      log "vstyle end to end"; mkdir -p $FF
      python3 -c 'import lzma,tarfile,sys; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])' .gpu2/ffmpeg-libs.tar.xz $FF
      ldd .gpu2/vstyle | grep "not found"
      v() { timeout 120 .gpu2/vstyle --device cuda --ort-lib $ORT/libonnxruntime.so.1.31.1 -y -v "$@" 2>&1 | grep -E "wrote|busy|error" ; echo "   ^ $*"; }
      for clip in .gpu2/clip_1920x1080.mp4 .gpu2/clip_1280x720.mp4; do
        v "$clip" -m $MODEL -o /tmp/e2e.mp4 --workers 1
        v "$clip" -m $MODEL -o /tmp/e2e.mp4 --workers 2
        v "$clip" -m .gpu2/transformer_net_fp16.onnx -o /tmp/e2e.mp4 --workers 2
        v "$clip" -m .gpu2/transformer_net_fp16.onnx -o /tmp/e2e.mp4 --workers 3
        v "$clip" -m .gpu2/transformer_net_fp16.onnx -o /tmp/e2e.mp4 --workers 2 --preset veryfast
      done
      log "vstyle optimisation mode, 300 L-BFGS steps at 512x512"
      v .gpu2/content.png --mode optimize --style .gpu2/style.png --loss-net .gpu2/vgg16_conv1_5.onnx --size 512 --steps 300 -o /tmp/opt.png
      cp /tmp/opt.png "$OUT/optimize_cuda_512.png" 2>/dev/null ;;
    compare)
      log "CUDA against CPU, scream.onnx on a still"
      for d in cpu cuda; do
        .gpu2/vstyle .gpu2/content.png -m models/scream.onnx -o /tmp/cmp_$d.png -y -q --device $d --ort-lib $ORT/libonnxruntime.so.1.31.1
      done
      python3 -c 'import numpy as n,sys; from PIL import Image as I; a,b=[n.asarray(I.open(f),dtype=int) for f in sys.argv[1:]]; d=abs(a-b); print("max", d.max(), "mean", d.mean())' /tmp/cmp_cpu.png /tmp/cmp_cuda.png ;;
    *) echo "unknown stage $stage" ;;
  esac
done
log done
