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

fit() {  # run-name config [fit args...]
    local name=$1 config=$2
    echo "== $name: $config -> $RUNS/$name"
    $PYTHON -m perceptual_codec.commands.train_codec fit \
        --config "perceptual_codec/configs/$config" \
        --run_dir "$RUNS/$name" --ckpt_path last "${@:3}"
}

export_weights() {  # run-name weights-file
    local name=$1 weights=$2
    if [ "$EXPORT" = 1 ]; then
        $PYTHON -m perceptual_codec.commands.train_codec export \
            "$RUNS/$name/checkpoints/last.ckpt" -o "perceptual_codec/weights/$weights"
    fi
}

if [ "$PROFILE" = cpu ]; then
    # Stage 1 (15,000 steps, lr 1e-3 then 1e-4), then stage 2 from its step-15,000 weights
    # on the wider lambda ladder (and, for sal-mshp, the learned saliency maps).
    fit sal-mshp-cpu codec_sal_mshp_cpu.yaml "$@"
    fit sal-mshp-cpu-stage2 codec_sal_mshp_cpu_stage2.yaml \
        --model.init_from "$RUNS/sal-mshp-cpu/checkpoints/step0015000.ckpt" "$@"
    export_weights sal-mshp-cpu-stage2 sal_mshp.pt
    fit mse-cpu codec_mse_cpu.yaml "$@"
    fit mse-cpu-stage2 codec_mse_cpu_stage2.yaml \
        --model.init_from "$RUNS/mse-cpu/checkpoints/step0015000.ckpt" "$@"
    export_weights mse-cpu-stage2 mse_mshp.pt
else
    fit sal-mshp codec_sal_mshp.yaml "$@"
    export_weights sal-mshp sal_mshp.pt
    fit mse-mshp codec_mse.yaml "$@"
    export_weights mse-mshp mse_mshp.pt
fi
echo "Update the sha256 values in perceptual_codec/zoo.py (printed above) and the model card."
