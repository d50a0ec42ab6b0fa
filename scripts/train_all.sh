#!/usr/bin/env bash
# Train every shipped model from scratch, or resume each from its last checkpoint, with the
# project's own commands; then export the weights into the package. Order follows the
# dependencies: LPIPS-Comp and saliency first (the codec and sandwich losses use them).
#
#   bash scripts/train_all.sh              # CPU budget configs
#   PROFILE=gpu bash scripts/train_all.sh  # full-size codec configs on the GPUs Lightning finds
#   ONLY="codec sandwich" bash scripts/train_all.sh
#
# Runs, logs and checkpoints live outside git (runs/ and ../runs/). After a run, paste the
# printed sha256 values into each package's zoo.py and update its model card.
set -euo pipefail
cd "$(dirname "$0")/.."
ONLY=${ONLY:-"metric saliency codec sandwich"}
want() { [[ " $ONLY " == *" $1 "* ]]; }

if want metric; then
  echo "== LPIPS-Comp (twoafc/MODEL_CARD_lpips_comp.md)"
  pcodec train metric --config twoafc/configs/lpips_comp.yaml
  cp runs/twoafc/lpips_comp/metric.pt twoafc/weights/lpips_comp.pt
  sha256sum twoafc/weights/lpips_comp.pt
fi

if want saliency; then
  echo "== saliency (saliency/MODEL_CARD.md)"
  pcodec train saliency --config saliency/configs/saliency_effnet_lite0.yaml \
    --export_to saliency/weights/saliency_effnet_lite0.pt
  sha256sum saliency/weights/saliency_effnet_lite0.pt
fi

if want codec; then
  echo "== hyperprior codec ladder + ablation (perceptual_codec/MODEL_CARD.md)"
  bash scripts/train_codec.sh
fi

if want sandwich; then
  echo "== sandwich models (perceptual_codec/sandwich/MODEL_CARD.md)"
  pids=()
  for c in jpeg jpeg_mse avif avif_mse; do
    cfg=perceptual_codec/configs/sandwich_$c.yaml
    run=$(python3 -c "from pathlib import Path; from perceptual_codec.sandwich.publish import run_dir; print(run_dir(Path('$cfg')))")
    mkdir -p "$run"
    pcodec train sandwich --config "$cfg" --threads 1 > "$run/train.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  python3 -m perceptual_codec.sandwich.publish
fi
