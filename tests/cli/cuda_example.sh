#!/usr/bin/env bash
# examples/cuda compiles with nvcc where nvcc exists (PATH, $CUDA_HOME/bin or
# /usr/local/cuda/bin); skipped elsewhere. Without a GPU the trainer must
# fail cleanly (exit 4, a message that says why), never crash.
source "$(dirname "$0")/lib.sh"
: "${MLO_SOURCE_DIR:?}"

nvcc=$(command -v nvcc || true)
for c in "${CUDA_HOME:-}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
  [ -n "$nvcc" ] || { [ -x "$c" ] && nvcc=$c; }
done
[ -n "$nvcc" ] || skip "nvcc not found (PATH, \$CUDA_HOME/bin, /usr/local/cuda/bin): the CUDA example is not compiled"

cp -r "$MLO_SOURCE_DIR/examples/cuda" "$TEST_TMP/cuda" && cd "$TEST_TMP/cuda" || fail "copy"
rm -f train
make -s train NVCC="$nvcc" ARCH="-gencode arch=compute_80,code=sm_80" >build.log 2>&1 || fail "nvcc build failed: $(cat build.log)"
expect_file train
./train >out.txt 2>err.txt
rc=$?
if [ "$rc" = 0 ]; then
  # A GPU is here: the run must have learned something.
  grep -q '"accuracy"' metrics.json || fail "no metrics.json"
  /usr/bin/python3 -c "import json; m=json.load(open('metrics.json')); assert m['accuracy']>0.8 and m['weight_cosine']>0.9, m" \
    || fail "training did not converge: $(cat metrics.json)"
  pass
else
  expect_eq "$rc" 4 "exit status without a GPU"
  grep -q "no CUDA device available" err.txt || fail "unclear error without a GPU: $(cat err.txt)"
  pass
fi
done_testing
