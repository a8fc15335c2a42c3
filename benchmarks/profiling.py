"""Where a server spends its time in one workload: py-spy attached to it, summed up as text.

py-spy samples the running process from outside (``pip install py-spy``, part of the
``bench`` extra) without changing its code; idle threads (waitress workers waiting for a
request) are left out. A thread waiting for the database's answer counts: it shows as the
driver's wait (psycopg's ``Connection.wait``, SQLAlchemy's ``do_execute`` over psycopg2).
"""

from __future__ import annotations

import collections
import pathlib
import re
import shutil
import subprocess

TOP = 20
# A frame of py-spy's raw (collapsed) format: "function (path:line)".
FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")


def available() -> bool:
    return shutil.which("py-spy") is not None


def start(pid: int, seconds: float, raw: pathlib.Path) -> subprocess.Popen[bytes]:
    """Sample process ``pid`` for ``seconds`` into ``raw`` (collapsed stacks, by function)."""
    command = ["py-spy", "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    command += ["--format", "raw", "--function", "--nonblocking", "--output", str(raw)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def frame_name(frame: str) -> str:
    match = FRAME.match(frame)
    return f"{match['function']} ({match['path']})" if match else frame


def summary(raw: pathlib.Path, title: str) -> str:
    """The functions with the most samples on top of the stack, and in it at all."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame_name(f) for f in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            if "cliquet/" in frame:  # the wrappers of waitress and pyramid hold all of it
                inclusive[frame] += int(count)
    lines = [f"{title}: {total} samples of working threads", ""]
    for heading, counter in (("own time", own), ("inclusive time, cliquet's", inclusive)):
        lines.append(f"{heading}:")
        lines += [f"  {n / total:6.1%}  {frame}" for frame, n in counter.most_common(TOP) if total]
        lines.append("")
    return "\n".join(lines)
