#!/usr/bin/env bash
# The main job: compress + decompress a real photo with the default codec, then report
# bpp, PSNR, MS-SSIM and LPIPS. Uses a Kodak image when ../shared/data exists, else the
# astronaut photo that scikit-image ships. MODEL / QUALITY override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
IMG="$OUT/sample.png"
if [ -f ../shared/data/kodak/kodim23.png ]; then
  cp ../shared/data/kodak/kodim23.png "$IMG"
else
  "$PY" -c "import sys, skimage.data as d; from PIL import Image; Image.fromarray(d.astronaut()).save(sys.argv[1])" "$IMG"
fi
ARGS=()
[ -n "${MODEL:-}" ] && ARGS+=(--model "$MODEL")
[ -n "${QUALITY:-}" ] && ARGS+=(--quality "$QUALITY")
pcodec compress "$IMG" -o "$OUT/sample.pcc" "${ARGS[@]}"
pcodec decompress "$OUT/sample.pcc" -o "$OUT/sample_decoded.png"
pcodec info "$OUT/sample.pcc"   # includes bpp from the real file size
# distances: psnr reports MSE and PSNR, ms-ssim reports 1 - MS-SSIM
pcodec score "$IMG" "$OUT/sample_decoded.png" --metric psnr,ms-ssim,lpips-alex,lpips-comp
echo "outputs in $OUT"
