#!/usr/bin/env bash
# Issue 4's last lever, in one call on a lent GPU: train the large teacher
# (configs/vgg_teacher64.yaml), distil the shipped student's recipe from it
# (configs/mini_xception_late64_distilled.yaml), make it robust (the shipped step 2), and bring
# back what is needed to judge and ship it here. docs/experiments.md ("A large teacher on a
# lent GPU") says why and what was measured.
#
# Here, once (the data never enters git; .device/ is ignored):
#   .venv/bin/python tools/pack_images.py pack ../shared/data/fer2013 .device/fer2013.npz
# Then the device tool's run, with carry [".device"] and a timeout that leaves a rerun:
#   bash tools/device_distill.sh
# Knobs (environment): STAGES ("teacher student robust"; "teacher" alone first is the cheap
# way to learn the teacher's accuracy and the call's speed, and the student can then be
# distilled from the teacher files that came back, on a GPU or on the CPU here), TEACHER
# (the student's teacher: this call's own, else a .pt, .onnx or scores .npz file),
# TEACHER_CONFIG (configs/vgg_teacher64.yaml; configs/vgg_teacher64_wide.yaml is the wider
# one, whose ONNX file is over the tool's 16 MB and stays behind while its scores come
# back), TEACHER_EPOCHS (the config's), STUDENT_EPOCHS (100), ROBUST_EPOCHS (12), STEPS (0 =
# whole epochs; a small number makes a smoke test, as tests/train does on a CPU), DEVICE
# (cuda), DATA (unpack .device/fer2013.npz there unless it holds train/ already), KEEP_EVERY
# (30: seconds between two copies of a running student stage), TEACHER_SECONDS,
# STUDENT_SECONDS and ROBUST_SECONDS (each stage's `--time-limit`, e.g. 420 or 7m: the stage
# fits its cosine schedule into that time after its first epoch, so a call cut at the device
# tool's limit has an annealed teacher and its scores rather than nothing), TRAIN_ARGS (more
# `moodreel train` options for every stage, after the preset's: e.g. "--precision fp32
# --batch-size 16" on a CPU without native bfloat16, where the teachers' bf16 is emulated).
# A drawn task now has 15 minutes of device time in all, the machine's start included, and
# 10 minutes a command, so the plan for one call is the wider teacher alone, fitted to about
# 7 minutes, its student distilled here from the scores that come back:
#   STAGES=teacher TEACHER_CONFIG=configs/vgg_teacher64_wide.yaml TEACHER_SECONDS=420 \
#       bash tools/device_distill.sh
# Back in $OUT (7 files; the tool's limit is 8): log.txt, the teacher's ONNX file, its JSON,
# metrics and scores of the training faces (teacher_scores.npz, for `moodreel train
# --teacher` with distill_cache anywhere), and one tar per student stage (student.tar,
# robust.tar: metrics.csv, best.pt, last.pt), refreshed every 30 s while the stage runs, so
# a call cut at its time limit still brings back a last.pt that `moodreel train --resume`
# continues here (`moodreel export` makes the shippable file from robust.tar's best.pt).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:?set OUT to the folder that comes back}
DATA=${DATA:-/tmp/fer2013}
RUNS=${RUNS:-/tmp/moodreel_runs}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-0}
PYTHON=${PYTHON:-python3}
STAGES=${STAGES:-teacher student robust}
TEACHER=${TEACHER:-$RUNS/teacher/best.pt}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$RUNS"
exec > >(tee -a "$OUT/log.txt") 2>&1

stage() { echo "== $(date -u +%H:%M:%S) $*"; }
read -ra train_args <<< "${TRAIN_ARGS:-}"
train() {
    "$PYTHON" -m moodreel train --data "$DATA" --device "$DEVICE" --no-progress \
        --max-steps-per-epoch "$STEPS" "$@" "${train_args[@]}"
}
bring_back() {  # a student run's metrics and checkpoints as $OUT/<run>.tar, whole or not at all
    local files=()
    for f in metrics.csv best.pt last.pt; do [ -f "$RUNS/$1/$f" ] && files+=("$f"); done
    [ ${#files[@]} -gt 0 ] || return 0
    tar -C "$RUNS/$1" -cf "$OUT/$1.tar.part" "${files[@]}" && mv "$OUT/$1.tar.part" "$OUT/$1.tar"
}
train_student() {  # a student stage, brought back every 30 s while it runs and once at its end
    local run=$1; shift
    (   # stopped between two copies, never in the middle of one
        nap=
        trap 'kill $nap 2>/dev/null; exit 0' TERM
        while true; do
            sleep "${KEEP_EVERY:-30}" >/dev/null 2>&1 & nap=$!; wait $nap
            bring_back "$run" || true
        done ) &
    local keeper=$! status=0
    train --out "$RUNS/$run" "$@" || status=$?
    kill $keeper; wait $keeper 2>/dev/null || true
    bring_back "$run"
    return $status
}

stage "machine"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda",
    torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'
if [ ! -d "$DATA/train" ]; then
    stage "unpacking the data"
    "$PYTHON" tools/pack_images.py unpack .device/fer2013.npz "$DATA"
fi

wanted() { [[ " $STAGES " == *" $1 "* ]]; }

if wanted teacher; then
    stage "teacher"
    train --config "${TEACHER_CONFIG:-configs/vgg_teacher64.yaml}" --out "$RUNS/teacher" \
        ${TEACHER_EPOCHS:+--epochs "$TEACHER_EPOCHS"} \
        ${TEACHER_SECONDS:+--time-limit "$TEACHER_SECONDS"}
    cp "$RUNS/teacher/metrics.csv" "$OUT/teacher_metrics.csv"
    # The student below learns from the checkpoint: a failed export must not cost it
    "$PYTHON" -m moodreel export "$RUNS/teacher/best.pt" --output "$OUT/teacher.onnx" \
        || { echo "the teacher's export failed; its checkpoint comes back instead"
             cp "$RUNS/teacher/best.pt" "$OUT/teacher_best.pt"; }
    # Its logits for every training face and its mirror (under 1 MB): all that a cached
    # student needs of it, on any machine (TEACHER=teacher_scores.npz), and small to commit
    "$PYTHON" -m moodreel teacher-scores "$RUNS/teacher/best.pt" --data "$DATA" --flip \
        --device "$DEVICE" --out "$OUT/teacher_scores.npz" \
        || echo "scoring the training faces failed; the teacher files above still teach"
fi

if wanted student; then
    stage "student, distilled from $TEACHER"
    train_student student --config configs/mini_xception_late64_distilled.yaml \
        --teacher "$TEACHER" --epochs "${STUDENT_EPOCHS:-100}" \
        ${STUDENT_SECONDS:+--time-limit "$STUDENT_SECONDS"}
fi

if wanted robust; then
    stage "student, made robust (the shipped step 2)"
    train_student robust --config configs/mini_xception_late64_distilled_robust.yaml \
        --finetune "$RUNS/student/best.pt" --epochs "${ROBUST_EPOCHS:-12}" \
        ${ROBUST_SECONDS:+--time-limit "$ROBUST_SECONDS"}
fi
stage "done"
grep -E "^== |best val accuracy" "$OUT/log.txt"
