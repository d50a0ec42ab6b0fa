#!/usr/bin/env bash
# Train (or resume) the shipped codec ladder and its ablation, then export the weights.
#
#   bash scripts/train_codec.sh            # CPU budget configs (codec_*_cpu.yaml)
#   PROFILE=gpu bash scripts/train_codec.sh  # full-size configs on whatever GPUs Lightning finds
#
# Each run keeps logs + checkpoints in $RUNS/<name>/ (outside git by default) and resumes
# from checkpoints/last.ckpt when it exists, so rerunning continues where it stopped. Extra
# arguments go to every `pcodec train codec fit` (e.g. --trainer.max_steps 5000,
# --trainer.devices 4 --trainer.strategy ddp). Set EXPORT=0 to skip the export step.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
RUNS=${RUNS:-../runs/codec}
PROFILE=${PROFILE:-cpu}
EXPORT=${EXPORT:-1}

train() {  # run-name weights-file config [fit args...]
    local name=$1 weights=$2 config=$3
    echo "== $name: $config -> $RUNS/$name"
    $PYTHON -m perceptual_codec.commands.train_codec fit \
        --config "perceptual_codec/configs/$config" \
        --run_dir "$RUNS/$name" --ckpt_path last "${@:4}"
    if [ "$EXPORT" = 1 ]; then
        $PYTHON -m perceptual_codec.commands.train_codec export \
            "$RUNS/$name/checkpoints/last.ckpt" -o "perceptual_codec/weights/$weights"
    fi
}

if [ "$PROFILE" = cpu ]; then
    train sal-mshp-cpu sal_mshp.pt codec_sal_mshp_cpu.yaml "$@"
    train mse-cpu mse_mshp.pt codec_mse_cpu.yaml "$@"
else
    train sal-mshp sal_mshp.pt codec_sal_mshp.yaml "$@"
    train mse-mshp mse_mshp.pt codec_mse.yaml "$@"
fi
echo "Update the sha256 values in perceptual_codec/zoo.py (printed above) and the model card."
