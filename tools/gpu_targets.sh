#!/bin/bash
# The one device call of a session with a GPU (first run 2026-11-28): the CUDA test, GPU augmentation throughput, and issue 6's targets at
# 224 px (EfficientNet-Lite0's native size) on the GPU, several `smallfast-bench` processes sharing it.
#   OUT=folder bash tools/gpu_targets.sh         (on the device; wheels in .whl/, Fashion-MNIST in .gpu/cache/)
#   OUT=folder DEV=cpu TINY=1 PY=.venv/bin/python bash tools/gpu_targets.sh   (a dry run of the script itself)
# Each bench writes every finished run at once; the folder W is tarred into $OUT/bench.tgz every 20 s and at the end.
set -u
OUT=${OUT:-/tmp/gpu_out}; DEV=${DEV:-cuda}; PY=${PY:-python3}; TINY=${TINY:-}; DEADLINE=${DEADLINE:-500}
W=/tmp/gpuw; rm -rf $W; mkdir -p $OUT $W; T0=$SECONDS
log() { echo "[$((SECONDS - T0))s] $*" | tee -a $OUT/log.txt; }
if [ -z "$TINY" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD SMALLFAST_CACHE=$PWD/.gpu/cache
  nvidia-smi -L >>$OUT/log.txt 2>&1
fi
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
$PY -c "import torch, timm, fastai, fastcore; print('torch', torch.__version__, 'timm', timm.__version__, 'fastai', fastai.__version__, 'fastcore', fastcore.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())" 2>&1 | tee -a $OUT/log.txt
log "pytest: the CUDA test"
$PY -m pytest -q -p no:cacheprovider tests/test_augment.py -k gpu 2>&1 | tail -3 | tee -a $OUT/log.txt
if [ -z "$TINY" ] && [ -z "${NO_AUGBENCH:-}" ]; then
  log "augbench on $DEV (nothing else running)"
  $PY -m smallfast.augment --sizes 64,224 --channels 1,3 --n 2048 --device $DEV --workers 2 --out $OUT/augbench_gpu.jsonl 2>&1 | tee -a $OUT/log.txt
  $PY -m smallfast.augment --sizes 224 --channels 3 --n 2048 --device $DEV --workers 16 --out $OUT/augbench_gpu.jsonl 2>&1 | tee -a $OUT/log.txt
fi
EXTRA=""; [ -n "$TINY" ] && EXTRA="--epochs 2 --test-n 200"
# name:technique:shots:size[:epochs], in order of priority (the targets first); $JOBS replaces the list
JOBS=${JOBS:-"all-10-224:all:10:224 all-50-224:all:50:224 transfer-100-224:transfer:100:224 all-100-224:all:100:224
      transfer-50-224:transfer:50:224 all-10-128:all:10:128 transfer-10-224:transfer:10:224 classic:svm,logreg:10,50,100:224"}
[ -n "$TINY" ] && JOBS="all-10-224:all:10:64 classic:svm,logreg:10:64"
for j in $JOBS; do
  IFS=: read name tech shots size ep <<<"$j"
  $PY -m smallfast.bench --techniques $tech --shots $shots --seeds ${SEEDS:-3} --size $size --device $DEV --out $W/bench-$name $EXTRA ${ep:+--epochs $ep} >$W/log-$name.txt 2>&1 &
  log "started $name (pid $!)"
done
snapshot() { tar czf $OUT/bench.tgz.part -C $W . && mv $OUT/bench.tgz.part $OUT/bench.tgz; }
while [ -n "$(jobs -rp)" ] && [ $((SECONDS - T0)) -lt $DEADLINE ]; do sleep 20; snapshot; log "running: $(jobs -rp | wc -l); $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null)"; done
[ -n "$(jobs -rp)" ] && { log "deadline: stopping $(jobs -rp | wc -l) bench(es); their finished runs are kept"; kill -TERM $(jobs -rp); sleep 5; }
snapshot; log "done"
