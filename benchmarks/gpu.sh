#!/usr/bin/env bash
# The GPU numbers of Table 4 and the training throughput, in one short run (about 5 minutes on
# one H100): inference latency at batch 1 (fp32, channels_last, bf16 + channels_last, with and
# without torch.compile), throughput at batch 256, and stage-1 training images/s of the paper
# preset's four models at 256 px. Writes benchmarks/results/{inference,train}_cuda.json.
#
#   bash benchmarks/gpu.sh            # from the repository root, with the packages installed
set -euo pipefail
cd "$(dirname "$0")/.."
results=benchmarks/results
python - <<'PY'
import torch
assert torch.cuda.is_available(), "benchmarks/gpu.sh needs a CUDA device"
print(torch.cuda.get_device_name(0), torch.__version__)
PY
python benchmarks/inference_speed.py --device cuda --batch 256 --min-time 0.5 --rounds 3 \
    --variants channels_last fp32 bf16+channels_last bf16+channels_last+compile \
    --json "$results/inference_cuda.json"
python benchmarks/train_speed.py --device cuda --batch 128 --steps 20 \
    --json "$results/train_cuda.json"
