#!/usr/bin/env bash
# The project's GPU checks, run once on an H200 (see README "GPU"): the cuda-marked
# tests, the Jacobian benchmark's GPU rows, and a depth-1000, c=128 delta-orth training run.
# Usage: OUT=/some/dir DATA=folder-with-fashion-mnist-gz bash benchmarks/gpu_checks.sh
set -u
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:-gpu-out}; DATA=${DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$OUT/bench" "$OUT/ultra"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
timeout 45 python -m pytest -q -p no:cacheprovider -m cuda tests >"$OUT/cuda_tests.txt" 2>&1
tail -3 "$OUT/cuda_tests.txt"
timeout 60 python benchmarks/jacobian.py --device cuda --rows lanczos --out "$OUT/bench/jacobian-gpu.csv"
timeout 170 python experiments/ultradeep.py --depths 1000 --channels 128 --steps 3000 \
  --batch-size 100 --checkpoint-every 250 --eval-every 100 --time-limit 120 --device cuda \
  --data-dir "$DATA" --out "$OUT/ultra" --work /tmp/ultra-work
timeout 300 python benchmarks/jacobian.py --device cuda --rows peers --append --out "$OUT/bench/jacobian-gpu.csv"
echo "gpu checks done"
