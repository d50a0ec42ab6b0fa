#!/usr/bin/env bash
# Leave-one-reference-out training of an LPIPS-Comp recipe on the AVT data.
# Usage (from the repository root): bash twoafc/loo.sh lin|tune [OUT_DIR]
# Each fold trains on 3 references, early-stops on the held-out one and exports
# OUT_DIR/<recipe>/<reference>/metric.pt (+ .json with the best epoch). Folds already
# exported are skipped, so the script can be re-run to resume.
set -euo pipefail
recipe=${1:?recipe: lin or tune}
out=${2:-runs/twoafc/loo}
refs=(NTIA_4K_Vignette_1_Violin-422p-8bit-60fps-4096x2160.mkv_1frame
      RollerCoaster_4096x2160_60fps_10bit_420_jvet_ffvhuff.mkv_1frame
      costa_rica_harmonic.mkv_1frame
      venice_harmonic.mkv_1frame)
for ref in "${refs[@]}"; do
  dir="$out/$recipe/$ref"
  if [[ -f "$dir/metric.pt" ]]; then echo "skip $ref (done)"; continue; fi
  rm -rf "$dir"; mkdir -p "$dir"
  pcodec train metric --config "twoafc/configs/lpips_comp_$recipe.yaml" \
    --data.val_references "[$ref]" \
    --trainer.default_root_dir "$dir" \
    --trainer.logger.init_args.save_dir "$dir" \
    --trainer.callbacks.init_args.path "$dir/metric.pt" \
    --trainer.enable_progress_bar false
done
