#!/usr/bin/env bash
# Smoke test of the PyInstaller bundle (`make bundle` runs it; `make bundle-smoke` alone):
#   packaging/smoke_test.sh [path/to/dist/glissando/glissando]
# From an empty folder, with a bare environment and a throwaway HOME (so neither the checkout, .venv nor
# the user's settings can be reached): the CLI's help; the bundled demo MIDI rendered to a WAV and that
# WAV transcribed; the window opened on the bundled default model and saved as a screenshot. Exits
# non-zero on the first failure. SMOKE_RUNS=3 opens the window three times and prints the median time
# to the screenshot (the start time quoted in packaging/README.md).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
exe=$(realpath "${1:-$repo/dist/glissando/glissando}")
runs=${SMOKE_RUNS:-1}
[ -x "$exe" ] || { echo "smoke test: no bundle at $exe (make bundle)" >&2; exit 1; }
internal=$(dirname "$exe")/_internal
demo=$internal/glissando/resources/demo/melody.mid
# What the bundle must hold that no run below would miss loudly: the shipped data, the GUI's entry point,
# both Qt platforms (X11 and offscreen), and the optional audio/MIDI libraries the app degrades without.
for want in glissando/models/default/model.safetensors glissando/resources/soundfonts/GeneralUserGS.sf2 \
            glissando/resources/demo/melody.mid "glissando-*.dist-info/entry_points.txt" \
            PySide6/Qt/plugins/platforms/libqxcb.so PySide6/Qt/plugins/platforms/libqoffscreen.so \
            "rtmidi/_rtmidi*.so" "libportaudio.so*" "_soundfile_data/*"; do
    compgen -G "$internal/$want" > /dev/null || { echo "smoke test: the bundle lacks $want" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/home"
cd "$work"
run() { env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work/home" LANG=C.UTF-8 "$@"; }
fail() { echo "smoke test FAILED: $*" >&2; exit 1; }

run "$exe" --help > help.txt || fail "--help"
grep -q transcribe help.txt || fail "--help does not list transcribe"

run "$exe" render-midi "$demo" -o melody.wav > render.log 2>&1 || { cat render.log >&2; fail "render-midi of the demo"; }
[ -s melody.wav ] || fail "render-midi wrote no WAV"
run "$exe" transcribe melody.wav -o notes.json > transcribe.log 2>&1 || { cat transcribe.log >&2; fail "transcribe"; }
notes=$(grep -c '"midi":' notes.json || true)
[ "$notes" -gt 0 ] || fail "transcribe found no notes"
echo "transcribe: $notes notes from the demo melody"

# A display: Xvfb when there is one (the OpenGL views draw), else Qt's offscreen platform (they stay blank).
if command -v xvfb-run > /dev/null; then
    display=(xvfb-run -a)
else
    display=(env QT_QPA_PLATFORM=offscreen)
fi
times=()
for i in $(seq "$runs"); do
    rm -f shot.png
    start=$(date +%s%N)
    run timeout 300 "${display[@]}" "$exe" gui --screenshot "$work/shot.png" > gui.log 2>&1 \
        || { cat gui.log >&2; fail "gui --screenshot"; }
    end=$(date +%s%N)
    [ "$(head -c 8 shot.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { cat gui.log >&2; fail "no PNG screenshot"; }
    times+=("$(printf '%d.%02d' $(( (end - start) / 1000000000 )) $(( (end - start) / 10000000 % 100 )))")
    echo "gui --screenshot: ${times[-1]} s"
done
if [ "$runs" -gt 1 ]; then
    echo "median time to the screenshot: $(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p") s"
fi
[ -z "${SMOKE_SHOT:-}" ] || cp shot.png "$SMOKE_SHOT"
echo "smoke test passed: $exe"
