#!/usr/bin/env python3
"""ctl_pty.py — run a command on a pseudo-terminal and judge what a person
would have seen.

    ctl_pty.py [--cols 80] [--rows 24] --raw FILE --screen FILE -- CMD...

The command runs on a pty of the given size.  Its output is kept as it came
(--raw) and played on a small terminal model (--screen: every line that
stayed, scrollback included).  The model knows what masterctl's live view
writes: text, CR, LF, ESC [ n A (cursor up), ESC [ J and ESC [ K (clear);
anything else is an unknown sequence, reported.  Prints one JSON object:
exit status, lines that stayed, the widest line, lines wider than the
terminal, the unknown sequences, how many times the cursor went up (status
lines redrawn in place), bytes written.  Exits with the command's status.
"""
import argparse
import json
import os
import pty
import select
import struct
import sys
import termios
import fcntl


class Screen:
    def __init__(self, cols, rows):
        self.cols, self.rows = cols, rows
        self.lines = [""]
        self.row = 0
        self.col = 0
        self.pending_wrap = False
        self.wrapped = 0
        self.unknown = []
        self.ups = 0

    def top(self):
        return max(0, len(self.lines) - self.rows)

    def newline(self):
        self.row += 1
        if self.row >= len(self.lines):
            self.lines.append("")
        self.pending_wrap = False

    def put(self, ch):
        if self.pending_wrap:
            self.wrapped += 1
            self.newline()
            self.col = 0
        line = self.lines[self.row]
        if len(line) < self.col:
            line += " " * (self.col - len(line))
        line = line[:self.col] + ch + line[self.col + 1:]
        self.lines[self.row] = line
        if self.col + 1 >= self.cols:
            self.pending_wrap = True
        else:
            self.col += 1

    def csi(self, params, final):
        n = int(params) if params.isdigit() else 1
        if final == "A":
            self.ups += 1
            self.row = max(self.top(), self.row - n)
        elif final == "J" and params in ("", "0"):
            self.lines[self.row] = self.lines[self.row][:self.col]
            del self.lines[self.row + 1:]
        elif final == "K" and params in ("", "0"):
            self.lines[self.row] = self.lines[self.row][:self.col]
        else:
            self.unknown.append("ESC[" + params + final)
        self.pending_wrap = False

    def feed(self, text):
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                if i + 1 < len(text) and text[i + 1] == "[":
                    j = i + 2
                    while j < len(text) and not ("@" <= text[j] <= "~"):
                        j += 1
                    if j >= len(text):
                        return text[i:]          # the rest comes later
                    self.csi(text[i + 2:j], text[j])
                    i = j + 1
                    continue
                if i + 1 >= len(text):
                    return text[i:]
                self.unknown.append("ESC" + text[i + 1])
                i += 2
                continue
            if ch == "\r":
                self.col = 0
                self.pending_wrap = False
            elif ch == "\n":
                self.newline()
            elif ch == "\t":
                self.col = min(self.cols - 1, (self.col // 8 + 1) * 8)
            elif ch < " " or ch == "\x7f":
                self.unknown.append("0x%02x" % ord(ch))
            else:
                self.put(ch)
            i += 1
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cols", type=int, default=80)
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--screen", required=True)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("cmd", nargs="+")
    a = ap.parse_args()

    pid, fd = pty.fork()
    if pid == 0:
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
        os.environ["TERM"] = "xterm"
        os.execvp(a.cmd[0], a.cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ,
                struct.pack("HHHH", a.rows, a.cols, 0, 0))
    raw = bytearray()
    while True:
        r, _, _ = select.select([fd], [], [], a.timeout)
        if not r:
            os.kill(pid, 15)
            break
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        raw += data
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(a.raw, "wb") as f:
        f.write(raw)
    screen = Screen(a.cols, a.rows)
    rest = screen.feed(raw.decode("utf-8", "replace"))
    lines = [l.rstrip() for l in screen.lines]
    while lines and lines[-1] == "":
        lines.pop()
    with open(a.screen, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(json.dumps({
        "exit": code,
        "lines": len(lines),
        "widest": max((len(l) for l in lines), default=0),
        "wrapped": screen.wrapped,
        "unknown": screen.unknown[:10] + ([rest] if rest else []),
        "redraws": screen.ups,
        "bytes": len(raw),
    }))
    sys.exit(code)


if __name__ == "__main__":
    main()
