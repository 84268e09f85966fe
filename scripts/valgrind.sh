#!/usr/bin/env bash
# A short training loop under valgrind's memcheck (PYTHONMALLOC=malloc so every Python
# allocation is visible). Fails on memory errors or definitely-lost blocks whose stack passes
# through optikern (CPython's, NumPy's and the loader's own reports are not counted).
# Usage: scripts/valgrind.sh [python]
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"
log="$(mktemp)"
PYTHONMALLOC=malloc valgrind --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --num-callers=40 --log-file="$log" \
  "$python" - <<'PY'
import numpy as np
import optikern

rng = np.random.default_rng(0)
params = [rng.standard_normal(n).astype(np.float32) for n in (7, 1000, 33)]
for cls, kw in [(optikern.Adam, {"amsgrad": True}), (optikern.SGD, {"momentum": 0.9}),
                (optikern.RMSprop, {"centered": True}), (optikern.Adagrad, {})]:
    opt = cls(params, **kw, nonfinite="skip")
    for _ in range(50):
        opt.step([rng.standard_normal(p.shape).astype(np.float32) for p in params])
    try:
        opt.step([np.ones(3)] * 3)  # refused input: the error path too
    except (TypeError, ValueError):
        pass
optikern.clip_grad_norm_(params, 1.0)
PY
# A finding counts when its stack passes through optikern's extension (the interpreter, NumPy
# and the dynamic loader have their own known reports).
ours() {
  awk -v kind="$1" '
    /^==[0-9]+== $/ { if (record ~ kind && record ~ /optikern/) n++; record = ""; next }
    { record = record "\n" $0 }
    END { print n + 0 }' "$log"
}
errors=$(ours "Invalid (read|write)|uninitialised|Mismatched free")
leaks=$(ours "definitely lost")
echo "valgrind log: $log"
echo "findings through optikern: $errors memory errors, $leaks definitely-lost records"
[ "$errors" -eq 0 ] && [ "$leaks" -eq 0 ]
