#!/usr/bin/env bash
# One video in parts (--segments): wall time of one pass, of the parts made one after the other
# in one process, and of two shards side by side (one core each) followed by --join; and how
# close the joined output is to the one-pass output, without and with --temporal (PSNR of every
# frame, the frames right after each cut listed apart).
#
#   bash benches/segments.sh
#   MODEL=models/scream_light.onnx PARTS=4 bash benches/segments.sh
#
# Environment (defaults in brackets): MODEL [models/scream.onnx]; PARTS [4]; CLIP, any video
# [samples/clip.mp4], re-encoded here with a key frame every GOP frames [25]; VSTYLE
# [target/release/vstyle].
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-models/scream.onnx}
PARTS=${PARTS:-4}
CLIP=${CLIP:-samples/clip.mp4}
GOP=${GOP:-25}
VSTYLE=${VSTYLE:-target/release/vstyle}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ffmpeg -v error -y -i "$CLIP" -c:v libx264 -g "$GOP" -c:a aac "$work/in.mp4"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$work/in.mp4")
clock() { local t0; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
v() { "$VSTYLE" "$work/in.mp4" -m "$MODEL" --codec ffv1 -y "$@"; }

echo "== $CLIP ($frames frames, a key frame every $GOP), $MODEL, $PARTS parts; wall seconds"
one=$(clock v -o "$work/one.mkv")
seg=$(clock v -o "$work/seg.mkv" --segments "$PARTS")
t0=$(date +%s.%N)
for half in 0 1; do
  (
    for ((k = half; k < PARTS; k += 2)); do
      v -o "$work/shard.mkv" --segments "$PARTS" --shard "$k/$PARTS" --threads 1 > /dev/null 2>&1
    done
  ) &
done
wait
v -o "$work/shard.mkv" --segments "$PARTS" --join > /dev/null 2>&1
shards=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
printf "%-44s %8s\n" "one pass" "$one" "--segments $PARTS, one process" "$seg" \
  "two shards side by side (--threads 1), --join" "$shards"

# psnr A B: "mean min" PSNR over the frames, and the frames right after each cut
cuts=$("$VSTYLE" "$work/in.mp4" -m "$MODEL" -o "$work/x.mkv" --segments "$PARTS" --shard "0/$PARTS" -y 2>&1 |
  sed -n 's/.*starting at \(.*\)/\1/p' | tr -d 's' | tr ',' ' ')
rm -f "$work"/x.*
psnr() {
  ffmpeg -v error -i "$1" -i "$2" -lavfi "[0:v][1:v]psnr=stats_file=$work/psnr.txt" -f null -
  awk -v cuts="$cuts" -v rate="$(ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 "$work/in.mp4")" '
    BEGIN { split(rate, r, "/"); fps = r[1] / r[2]; n = split(cuts, c, " ");
            for (i = 2; i <= n; i++) at[int(c[i] * fps + 0.5)] = 1 }
    { split($6, p, ":"); v = (p[2] == "inf") ? 99 : p[2]; s += v; k++; if (k == 1 || v < lo) lo = v;
      f = k - 1; if (f in at) cut = cut sprintf(" %d:%.1f", f, v) }
    END { printf "mean %.1f dB, min %.1f dB; after the cuts (frame:dB)%s\n", s / k, lo, cut }' "$work/psnr.txt"
}
echo
echo "== the joined output against the one-pass output (99 dB: identical)"
echo "without --temporal, one process: $(psnr "$work/one.mkv" "$work/seg.mkv")"
echo "without --temporal, shards + --join: $(psnr "$work/one.mkv" "$work/shard.mkv")"
v -o "$work/tone.mkv" --temporal > /dev/null 2>&1
v -o "$work/tseg.mkv" --temporal --segments "$PARTS" > /dev/null 2>&1
echo "with --temporal, one process: $(psnr "$work/tone.mkv" "$work/tseg.mkv")"
echo "(--temporal against without, one pass: $(psnr "$work/one.mkv" "$work/tone.mkv"))"
