#!/usr/bin/env bash
# Everything rnnlab checks on a GPU, in one call of a lent machine (see BENCHMARKS.md):
#   bash bench/gpu_run.sh DATA_DIR OUT_DIR
# DATA_DIR holds Fashion-MNIST's IDX files. Runs the engine's equivalence checks, the speed
# table and one epoch of each classifier (bench/gpu_smoke.py), one-process NCCL jobs through
# --nproc and torchrun, then the classifier's settings sweep on validation (bench/classify_sweep.py).
set -u
DATA=${1:?data dir}; OUT=${2:?out dir}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
python3 bench/gpu_smoke.py --data-dir "$DATA" 2>&1 | tee "$OUT/smoke.log"
echo "smoke rc=${PIPESTATUS[0]}"
python3 -m rnnlab train classify --dataset digits --model bnmlp --epochs 2 --nproc 1 \
    --device cuda --out /tmp/nccl_bnmlp 2>&1 | grep -v "^epoch"
echo "nccl --nproc 1 bnmlp rc=${PIPESTATUS[0]}"
torchrun --nproc-per-node 1 -m rnnlab train classify --dataset digits --model gru --epochs 2 \
    --device cuda --out /tmp/nccl_gru 2>&1 | grep -v "^epoch"
echo "torchrun gru rc=${PIPESTATUS[0]}"
python3 -m rnnlab evaluate /tmp/nccl_gru --json --device cuda
python3 bench/classify_sweep.py --device cuda --jobs 16 --threads 1 --data-dir "$DATA" \
    --deadline "${SWEEP_SECONDS:-240}" --out "$OUT/sweep.json"
