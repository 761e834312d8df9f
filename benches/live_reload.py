#!/usr/bin/env python3
"""Save-to-reload benchmark for `mentorsite serve`.

Generates a register of N bios (as benches/build.py does), starts `mentorsite serve` on a free
loopback port, listens to its reload events as a browser tab does, then edits one bio at a
time --edits times. Each edit is saved the way editors save (write a temporary file, rename
it over the bio). The time measured is from just before the save to the moment the reload
event arrives: debounce, rebuild and notification included. Prints the median, the 90th
percentile and the range, and the server's own rebuild times.

    cargo build --release
    python3 benches/live_reload.py --n 1000 --edits 20

Numbers only: nothing is asserted, because these machines are noisy.
"""
import argparse
import os
import queue
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build import corpus, parse_with_common  # noqa: E402


def listen(addr, events):
    """Read the event stream; put the arrival time of each reload on `events`."""
    host, port = addr.split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(f"GET /__mentorsite/events HTTP/1.1\r\nHost: {addr}\r\n\r\n".encode())
    buf = b""
    while True:
        try:
            chunk = s.recv(65536)
        except OSError:
            return
        if not chunk:
            return
        now = time.perf_counter()
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.startswith(b"event: reload"):
                events.put(now)


def save(path, text):
    tmp = os.path.join(os.path.dirname(path), ".bench-save.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--edits", type=int, default=20)
    a = parse_with_common(ap)
    root = corpus(a.n, a.work, a.gen, False)
    mentors = sorted(os.listdir(os.path.join(root, "content", "mentors")))
    mentors = [m for m in mentors if m.endswith(".md")]

    server = subprocess.Popen([a.binary, "serve", "--root", root, "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in server.stdout], daemon=True).start()
    try:
        addr = None
        deadline = time.time() + 60
        while addr is None:
            line = lines.get(timeout=max(0.1, deadline - time.time()))
            m = re.match(r"Serving the site at http://([0-9.:]+)/", line)
            if m:
                addr = m.group(1)
        events = queue.Queue()
        threading.Thread(target=listen, args=(addr, events), daemon=True).start()
        time.sleep(0.5)

        times = []
        for i in range(a.edits):
            path = os.path.join(root, "content", "mentors", mentors[(i * 37) % len(mentors)])
            with open(path, encoding="utf-8") as f:
                text = f.read()
            edited = text.rstrip("\n") + f"\n\nEdited for the benchmark, round {i}.\n"
            t0 = time.perf_counter()
            save(path, edited)
            t1 = events.get(timeout=30)
            times.append((t1 - t0) * 1000)
            time.sleep(0.3)
            while not events.empty():
                events.get()
            save(path, text)  # put it back (its reload is not timed)
            events.get(timeout=30)
            time.sleep(0.3)
        rebuilds = []
        while not lines.empty():
            m = re.search(r"rebuilt in (\d+) ms", lines.get())
            if m:
                rebuilds.append(int(m.group(1)))
    finally:
        server.terminate()
        server.wait(timeout=10)

    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    print(f"{a.n} mentors, {len(times)} edits: save -> reload event "
          f"median {statistics.median(times):.1f} ms, p90 {p90:.1f} ms, "
          f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms")
    if rebuilds:
        print(f"server rebuild times (all saves): median {statistics.median(rebuilds)} ms, "
              f"max {max(rebuilds)} ms")


if __name__ == "__main__":
    main()
