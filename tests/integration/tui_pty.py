#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal of a given size and reports, as JSON, what a user's
terminal went through (for test_run_tui.sh).

  tui_pty.py --size 100x30 [--at 2:resize:60x20] [--at 3:keys:q] [--at 3:keys:^C]
             [--strace FILE] [--timeout 60] --json OUT -- cmd args...

Each --at SECONDS:ACTION:ARG happens that long after the start: resize the terminal (the
child gets SIGWINCH), type keys (^C and ^Z are the interrupt and suspend characters, so the
tty sends SIGINT or SIGTSTP), send a signal (signal:CONT), or note the terminal's state then
(snap:NAME: are the modes as before, and did the output so far end by leaving the screen).

The report: exit code; whether the alternate screen was entered and left and the cursor
shown again; whether the terminal modes (echo, canonical input) are back as they were; the
frames (each starts by moving to row 1 and erasing it), each replayed on a virtual screen:
its rows as text, the widest row, the lowest row; bytes >= 0x80 drawn between enter and
leave; the text after leaving; with --strace, the writes to fd 1 between enter and leave and
whether each one was a whole frame."""
import argparse
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

ENTER = b"\x1b[?1049h"
LEAVE = b"\x1b[?1049l"
FRAME = b"\x1b[1;1H\x1b[2K"
SMALL = b"\x1b[H\x1b[2J\x1b[1;1H\x1b[2K"
CSI = re.compile(rb"\x1b\[([0-9;?]*)([@-~])")


def set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def play(frame, cols, rows):
    """Replays one frame on a blank screen: rows of text, widest row, lowest row touched."""
    screen = [[] for _ in range(max(rows, 1))]
    r, widest, lowest, i = 0, 0, 0, 0
    while i < len(frame):
        m = CSI.match(frame, i)
        if m:
            params, final = m.group(1), m.group(2)
            if final == b"H":
                nums = [int(x) for x in params.split(b";") if x] or [1]
                r = nums[0] - 1
                lowest = max(lowest, r)
            elif final == b"K" and 0 <= r < len(screen):
                screen[r] = []
            i = m.end()
            continue
        n = 1
        b = frame[i]
        if b >= 0xF0:
            n = 4
        elif b >= 0xE0:
            n = 3
        elif b >= 0xC0:
            n = 2
        ch = frame[i:i + n].decode("utf-8", "replace")
        if 0 <= r < len(screen):
            screen[r].append(ch)
            widest = max(widest, len(screen[r]))
        i += n
    return {"rows": ["".join(x) for x in screen], "widest": widest, "lowest": lowest + 1}


def split_frames(body):
    starts = sorted(set([m.start() for m in re.finditer(re.escape(FRAME), body)]))
    small = [m.start() for m in re.finditer(re.escape(SMALL), body)]
    starts = sorted(set(s for s in starts if not any(s == k + 7 for k in small)) | set(small))
    return [body[a:b] for a, b in zip(starts, starts[1:] + [len(body)])]


def strace_writes(path):
    """Writes to fd 1 between the enter and the leave: (starts with a frame?, whole?)."""
    out, inside = [], False
    pat = re.compile(r'write\(1, "(.*?)"(\.\.\.)?, (\d+)\)\s+= (-?\d+)')
    for line in open(path, errors="replace"):
        m = pat.search(line)
        if not m:
            continue
        data = m.group(1)
        if data.startswith("\\33[?1049h"):
            inside = True
            continue
        if data.startswith("\\33[0m\\33[?25h\\33[?1049l"):
            inside = False
            continue
        if inside:
            frame = data.startswith("\\33[1;1H") or data.startswith("\\33[H\\33[2J")
            out.append({"frame_start": frame, "whole": m.group(3) == m.group(4)})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="100x30")
    ap.add_argument("--at", action="append", default=[])
    ap.add_argument("--strace")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--json", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if a.strace:
        cmd = ["strace", "-f", "-qq", "-e", "trace=write", "-s", "24", "-o", a.strace] + cmd
    cols, rows = (int(x) for x in a.size.split("x"))
    events = []
    for spec in a.at:
        t, action, arg = spec.split(":", 2)
        events.append((float(t), action, arg))
    events.sort()

    master, slave = pty.openpty()
    set_size(master, cols, rows)
    before = termios.tcgetattr(slave)
    child = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                             preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    t0 = time.monotonic()
    out = bytearray()
    size_at = []  # (offset in out, cols, rows) after each resize
    snaps = {}
    while True:
        now = time.monotonic() - t0
        while events and events[0][0] <= now:
            _, action, arg = events.pop(0)
            if action == "resize":
                c, r = (int(x) for x in arg.split("x"))
                set_size(master, c, r)
                size_at.append((len(out), c, r))
            elif action == "keys":
                os.write(master, arg.replace("^C", "\x03").replace("^Z", "\x1a").encode())
            elif action == "signal":
                os.kill(child.pid, getattr(signal, "SIG" + arg))
            elif action == "snap":
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    out += os.read(master, 65536)
                snaps[arg] = {"modes_restored": termios.tcgetattr(slave)[3] == before[3],
                              "left": out.rfind(LEAVE) > out.rfind(ENTER),
                              "stopped": open("/proc/%d/stat" % child.pid).read().split(")")[1].split()[0] == "T"}
        if now > a.timeout:
            child.kill()
            break
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: no process has the terminal open any more
                data = b""
            out += data
            if data:
                continue
            time.sleep(0.05)
        if child.poll() is not None:
            break
    rc = child.wait()
    after = termios.tcgetattr(slave)
    while True:  # what is left in the pty
        ready, _, _ = select.select([master], [], [], 0.1)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(slave)
    os.close(master)

    out = bytes(out)
    enter, leave = out.find(ENTER), out.rfind(LEAVE)
    body = out[enter:leave] if enter >= 0 and leave > enter else b""
    frames = []
    for f in split_frames(body):
        off = body.find(f) + enter
        c, r = cols, rows
        for at, c2, r2 in size_at:
            if at <= off:
                c, r = c2, r2
        p = play(f, c, r)
        p["bytes"] = len(f)
        frames.append(p)
    report = {
        "rc": rc,
        "entered": enter >= 0,
        "left": leave > enter >= 0,
        "cursor_shown": b"\x1b[?25h\x1b[?1049l" in out,
        "modes_restored": before[3] == after[3],
        "echo": bool(after[3] & termios.ECHO),
        "canonical": bool(after[3] & termios.ICANON),
        "frames": frames,
        "nframes": len(frames),
        "status_line": b"\r\x1b[2K" in out,  # the line --tui replaces
        "high_bytes": sum(1 for x in body if x >= 0x80),
        "before": (out[:enter] if enter >= 0 else out).decode("utf-8", "replace"),
        "after": out[leave + len(LEAVE):].decode("utf-8", "replace") if leave >= 0 else "",
        "seconds": time.monotonic() - t0,
        "snaps": snaps,
        "enters": out.count(ENTER),
    }
    if a.strace:
        report["writes"] = strace_writes(a.strace)
    with open(a.json, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
