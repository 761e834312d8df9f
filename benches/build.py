#!/usr/bin/env python3
"""Whole-process build benchmark for mentorsite.

Generates registers of N bios with the shared corpus generator (../shared/bench/gen_corpus.py,
or $MENTORSITE_CORPUS_GEN), adds this repository's theme and handbook, then times
`mentorsite build` as a whole process: wall time and peak memory (max RSS) per run, median of
--runs. A cold run starts from an empty output folder (and, with --images, an empty headshot
cache); `--warm` also times a rebuild over an existing output; with --images, `one` times a
rebuild after one headshot changed.

    cargo build --release
    python3 benches/build.py --n 1000 5000 --runs 5 --warm          # text only
    python3 benches/build.py --n 1000 --images --runs 3 --warm      # 1200x1600 JPEG headshots

Numbers only: nothing is asserted, because these machines are noisy.
"""
import argparse
import atexit
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def corpus(n, work, gen, images):
    root = os.path.join(work, f"{'img' if images else 'reg'}-{n}")
    if not os.path.isdir(os.path.join(root, "content", "mentors")):
        extra = [] if images else ["--no-images"]
        subprocess.run([sys.executable, gen, "--n", str(n), "--out", root, "--site-toml", *extra],
                       check=True, stdout=subprocess.DEVNULL)
    for part in ("themes", os.path.join("content", "handbook")):
        dst = os.path.join(root, part)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(os.path.join(REPO, part), dst)
    return root


def set_aside(path):
    """Move `path` out of the way, to be deleted when the benchmark ends: not deleted now.

    On ext4 without a journal (as on these VMs), a file created within about 30 s of thousands
    being deleted costs the kernel a scan past every recently deleted inode. Deleting the last
    run's output just before a cold build made that build's system time 12 s rather than 1 s
    for 1,000 headshots (and cold builds swing by seconds), which no real first build pays."""
    if not os.path.lexists(path):
        return
    # Beside the folder that holds it (so on the same disk), outside any site's root.
    trash = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), ".bench-trash")
    os.makedirs(trash, exist_ok=True)
    os.rename(path, os.path.join(trash, f"{os.getpid()}-{len(os.listdir(trash))}"))
    _TRASH.add(trash)


_TRASH = set()


@atexit.register
def _empty_trash():
    for trash in _TRASH:
        shutil.rmtree(trash, ignore_errors=True)


def parse_with_common(ap):
    """Add the options every benchmark takes (--work, --binary, --gen), parse, and check that
    the release binary exists."""
    ap.add_argument("--work", default=os.path.join(REPO, "target", "bench"))
    ap.add_argument("--binary", default=os.path.join(REPO, "target", "release", "mentorsite"))
    ap.add_argument("--gen", default=os.environ.get(
        "MENTORSITE_CORPUS_GEN", os.path.join(REPO, "..", "shared", "bench", "gen_corpus.py")))
    a = ap.parse_args()
    if not os.path.exists(a.binary):
        sys.exit(f"{a.binary} not found: run `cargo build --release` first")
    os.makedirs(a.work, exist_ok=True)
    return a


def run_once(binary, root, env=None):
    """Wall seconds and max RSS (MiB) of one build, measured by a fresh child process."""
    probe = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, binary, "build", "--root", root],
                         check=True, capture_output=True, text=True, env=env).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warm", action="store_true", help="also time rebuilds over an existing output")
    ap.add_argument("--images", action="store_true", help="bios with 1200x1600 JPEG headshots (needs Pillow)")
    a = parse_with_common(ap)
    print(f"{'N':>6} {'kind':>5} {'median s':>9} {'min s':>7} {'max s':>7} {'peak MiB':>9}")
    for n in a.n:
        root = corpus(n, a.work, a.gen, a.images)
        kinds = [("cold", "cold")] + ([("warm", "warm")] if a.warm else [])
        if a.images and a.warm:
            kinds.append(("one", "one"))
        for label, kind in kinds:
            times, peaks = [], []
            for i in range(a.runs):
                if kind == "cold":
                    # Let the file system finish deleting the last output before timing: on
                    # ext4 with `discard`, a fresh `rm -rf` otherwise slows the next writes.
                    set_aside(os.path.join(root, "public"))
                    set_aside(os.path.join(root, ".cache"))
                    os.sync()
                    time.sleep(2)
                elif kind == "one":
                    touch_one_headshot(root, i)
                t, rss = run_once(a.binary, root)
                times.append(t)
                peaks.append(rss)
            print(f"{n:>6} {label:>5} {statistics.median(times):>9.3f} {min(times):>7.3f} "
                  f"{max(times):>7.3f} {max(peaks):>9.1f}", flush=True)
        if a.images:
            report_bytes(root)


def touch_one_headshot(root, i):
    """Change one photo's bytes (a comment at the end of a JPEG is ignored by decoders)."""
    mentors = os.path.join(root, "content", "mentors")
    first = sorted(f for f in os.listdir(mentors) if f.endswith(".jpg"))[0]
    path = os.path.join(mentors, first)
    with open(path, "rb") as f:
        data = f.read()
    data = data[: data.rfind(b"\xff\xd9")] + b"\xff\xfe\x00\x06run" + bytes([48 + i % 10]) + b"\xff\xd9"
    with open(path, "wb") as f:
        f.write(data)


def report_bytes(root):
    """Mean bytes per headshot, by format and width, in the output."""
    sizes = {}
    folder = os.path.join(root, "public", "headshots")
    for name in os.listdir(folder):
        if "-avatar-" in name:
            continue
        stem, ext = os.path.splitext(name)
        width = stem.rsplit("-", 1)[1]
        sizes.setdefault((ext[1:], int(width)), []).append(os.path.getsize(os.path.join(folder, name)))
    for (fmt, width), values in sorted(sizes.items()):
        print(f"  {fmt:>4} {width:>4}px: mean {statistics.mean(values) / 1024:6.1f} KiB over {len(values)} files")


if __name__ == "__main__":
    main()
