#!/usr/bin/env bash
# --tui on a real pseudo-terminal (tui_pty.py: a fixed size, keys, resizes): the alternate
# screen is entered and left, the cursor shown and the terminal modes restored on every way
# out (the run's end, q, Ctrl-C, a second Ctrl-C that skips the flush, Ctrl-Z); each frame is one
# write(2) (strace); frames fit the screen, follow a resize and say "terminal too small";
# ASCII only when the locale is not UTF-8; messages are held back and printed after; off a
# terminal --tui is a usage error (exit 2).
. "$(dirname "$0")/lib.sh"

PTY="$SRC/tests/integration/tui_pty.py"
# jchecks NAME DESC EXPR [DESC EXPR]...: each JS EXPR over the report `j` of run NAME (and
# `last`, its last frame's rows joined by newlines) must be true; one node for all of them.
jchecks() {
  local f="$TMP/$1.json" line n=0
  shift
  while IFS= read -r line; do
    n=$((n + 1))
    case $line in ok) ok ;; *) fail "$line" ;; esac
  done < <(node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const last = j.frames.length ? j.frames[j.frames.length - 1].rows.join("\n") : "";
    const a = process.argv.slice(2);
    for (let i = 0; i < a.length; i += 2) {
      let v;
      try { v = eval(a[i + 1]); } catch (e) { v = e.message; }
      console.log(v === true ? "ok" : a[i] + " (" + a[i + 1] + " -> " + JSON.stringify(v) +
        "; last frame: " + JSON.stringify(last) + "; after: " +
        JSON.stringify(j.after.slice(0, 400)) + ")");
    }' "$f" "$@" 2>&1)
  [ "$n" = $(($# / 2)) ] || fail "$f: $n answers for $(($# / 2)) checks (no report?)"
}
TTY=(env TERM=xterm-256color LANG=C.UTF-8 LC_ALL= LC_CTYPE=)

# 1. run minimal: frames with the entry and its rate, one write each, summary after.
st=()
if command -v strace >/dev/null; then
  st=(--strace "$TMP/strace.txt")
elif [ "${CI:-}" = true ]; then
  fail "strace is missing (apt-get install strace)"
fi
# LeakSanitizer cannot run under ptrace (strace): it would end a sanitizer build with exit 1.
python3 -S "$PTY" --size 100x30 "${st[@]}" --json "$TMP/r1.json" -- \
  "${TTY[@]}" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  "$DIORAMA" run minimal --speed 10 --duration 30s --tui --null
jchecks r1 \
  "run exits 0" 'j.rc === 0' \
  "alternate screen entered and left, cursor shown" 'j.entered && j.left && j.cursor_shown' \
  "terminal modes restored (echo, canonical)" 'j.modes_restored && j.echo && j.canonical' \
  "at least 2 frames" 'j.nframes >= 2' \
  "frames fit 100x30" 'j.frames.every(f => f.widest <= 100 && f.lowest <= 30)' \
  "the last frame names the entry with a rate" '/^hello\/GET \/hello +[0-9]+\.[0-9]+ /m.test(last)' \
  "the header: scenario, speed, sim time" '/^ diorama  minimal  run [0-9a-f]+  speed 10x  sim /.test(last)' \
  "the output accounting" '/^null +[0-9]+ +[0-9]+ +0 +0 +[0-9]+/m.test(last)' \
  "a UTF-8 sparkline" 'last.includes("\u2588")' \
  "the summary prints after leaving" 'j.after.includes("diorama run: scenario minimal")' \
  "no status line under --tui" 'j.status_line === false'
if [ ${#st[@]} -gt 0 ]; then
  jchecks r1 \
    "strace saw one write per frame" 'j.writes.length === j.nframes' \
    "each write a whole frame" 'j.writes.every(w => w.frame_start && w.whole)'
fi

# 2. up on fleet, C locale, 80x24, stopped by Ctrl-C: hosts shown, ASCII only, footer links.
python3 -S "$PTY" --size 80x24 --at 3:keys:^C --json "$TMP/r2.json" -- \
  env TERM=xterm LANG=C LC_ALL= LC_CTYPE= "$DIORAMA" up fleet --tui --control 127.0.0.1:0 \
  --prom-listen 127.0.0.1:0 --serve 127.0.0.1:0
jchecks r2 \
  "up exits 0 after Ctrl-C" 'j.rc === 0' \
  "up: left and restored" 'j.left && j.cursor_shown && j.modes_restored' \
  "up: no byte >= 0x80 in a C locale" 'j.high_bytes === 0' \
  "up: frames fit 80x24" 'j.frames.every(f => f.widest <= 80 && f.lowest <= 24)' \
  "up: hosts" '/^HOSTS  [0-9]+/m.test(last)' \
  "up: a host cell with its CPU" '/pp[a-z]+[0-9]+ [0-9]+%/.test(last)' \
  "up: the console URL in the footer" '/console http:\/\/127\.0\.0\.1:[0-9]+\//.test(last)' \
  "up: stopped by signal" 'j.after.includes("stopped by signal")'

# 3. q stops the run like Ctrl-C.
python3 -S "$PTY" --size 100x30 --at 2:keys:q --timeout 30 --json "$TMP/r3.json" -- \
  "${TTY[@]}" "$DIORAMA" run minimal --duration 1h --tui --null
jchecks r3 \
  "q: exits 0 in time" 'j.rc === 0 && j.seconds < 25' \
  "q: stopped by signal, restored" 'j.after.includes("stopped by signal") && j.modes_restored && j.left'

# 3b. Ctrl-Z gives the terminal back; SIGCONT (fg) takes it again and redraws. (The child
# leads its own session here, an orphaned process group, so the kernel does not actually stop
# it on SIGTSTP; under a shell it stops.)
python3 -S "$PTY" --size 100x30 --at 2:keys:^Z --at 3.5:snap:z --at 4:signal:CONT \
  --at 5.5:snap:c --at 6:keys:q --timeout 30 --json "$TMP/r3b.json" -- \
  "${TTY[@]}" "$DIORAMA" run minimal --duration 1h --tui --null
jchecks r3b \
  "Ctrl-Z: screen left, modes restored" 'j.snaps.z.left && j.snaps.z.modes_restored' \
  "SIGCONT: full screen again, our modes" '!j.snaps.c.left && !j.snaps.c.modes_restored' \
  "Ctrl-Z/fg: entered twice, then q ends it restored" 'j.enters === 2 && j.rc === 0 && j.modes_restored && j.left'

# 4. Resizes: 100x30 -> 60x20 (SIGWINCH: the next frame is 60 wide) -> 20x5 (too small).
python3 -S "$PTY" --size 100x30 --at 1.5:resize:60x20 --at 3:resize:20x5 --json "$TMP/r4.json" -- \
  "${TTY[@]}" "$DIORAMA" run minimal --speed 10 --duration 50s --tui --null
jchecks r4 \
  "resize: a 100-wide frame" 'j.frames.some(f => f.widest === 100)' \
  "resize: then 60-wide frames within 20 rows" 'j.frames.some(f => f.widest === 60 && f.lowest <= 20)' \
  "resize: the last frame says too small" 'last.startsWith("terminal too small: ")' \
  "resize: exits 0, restored" 'j.rc === 0 && j.modes_restored'

# 5. Messages (an OTLP endpoint nobody listens on) are held back, then printed after leaving.
port=$(free_port)
python3 -S "$PTY" --size 120x30 --json "$TMP/r5.json" -- "${TTY[@]}" \
  "$DIORAMA" run minimal --speed 10 --duration 30s --tui --otlp "http://127.0.0.1:$port" \
  --shutdown-timeout 1s
jchecks r5 \
  "messages: none inside the screen" 'j.frames.every(f => !f.rows.some(r => r.startsWith("diorama: warning")))' \
  "messages: counted in the footer" 'j.frames.some(f => f.rows.some(r => / [0-9]+ messages? \(printed on exit\): diorama: warning/.test(r)))' \
  "messages: printed after leaving" 'j.after.includes("diorama: warning: otlp_http")' \
  "messages: exit 4, nothing delivered" 'j.rc === 4'

# 6. A second Ctrl-C during a long flush ends the process at once (130), terminal restored.
python3 -S "$PTY" --size 100x30 --at 2:keys:^C --at 3.5:keys:^C --timeout 30 --json "$TMP/r6.json" -- \
  "${TTY[@]}" "$DIORAMA" run minimal --duration 1h --tui --otlp "http://127.0.0.1:$port" \
  --shutdown-timeout 60s
jchecks r6 \
  "second Ctrl-C: exit 130" 'j.rc === 130' \
  "second Ctrl-C: left, cursor shown, modes restored" 'j.left && j.cursor_shown && j.modes_restored && j.echo' \
  "second Ctrl-C: the screen said it was stopping" 'j.frames.some(f => f.rows.some(r => r.includes("stopping: flushing")))'

# 7. Off a terminal: a usage error naming the problem; --otlp-file - and --tui collide.
"$DIORAMA" run minimal --tui --null --duration 1s >"$TMP/o7" 2>"$TMP/e7"
rc=$?
check "not a TTY: exit 2 ($rc)" [ "$rc" = 2 ]
check "not a TTY: says why ($(cat "$TMP/e7"))" grep -q -- '--tui: stdout is not a terminal' "$TMP/e7"
check "not a TTY: nothing drawn" [ ! -s "$TMP/o7" ]
python3 -S "$PTY" --size 100x30 --json "$TMP/r7.json" -- "${TTY[@]}" \
  "$DIORAMA" run minimal --tui --otlp-file - --duration 1s
python3 -S "$PTY" --size 100x30 --json "$TMP/r8.json" -- env TERM=dumb \
  "$DIORAMA" run minimal --tui --null --duration 1s
jchecks r7 "--otlp-file - with --tui: exit 2" 'j.rc === 2 && j.before.includes("both write to stdout")'
jchecks r8 "TERM=dumb: exit 2" 'j.rc === 2 && j.before.includes("TERM=dumb")'
"$DIORAMA" run --help | grep -q -- '--tui' || fail "--help lists --tui"

finish
