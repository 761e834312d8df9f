#!/usr/bin/env python3
"""Builds at their edges (issue 11): a bio of thousands of equal headings, and many huge
headshots at once.

  headings: `mentorsite build` of one bio with 4,000 `## Same heading` lines against the same
            bio with 4,000 distinct headings; median wall time of --runs and the ratio.
  images:   peak memory (max RSS) of a cold build of 30 distinct 7000x7000 PNG headshots with
            RAYON_NUM_THREADS=2 and =16 (decoding is bounded by a pixel budget, not threads).

    cargo build --release
    python3 benches/build_edges.py --runs 5            # both
    python3 benches/build_edges.py --only headings

Numbers only: nothing is asserted, because these machines are noisy. The PNGs are made with
the standard library alone (zlib), so nothing beyond Python is needed.
"""
import argparse
import os
import shutil
import statistics
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build import REPO, run_once as timed  # noqa: E402

BASE_TOML = os.path.join(REPO, "tests", "fixtures", "invalid", "_base", "site.toml")


def site(work, name):
    root = os.path.join(work, name)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "content", "mentors"))
    shutil.copy(BASE_TOML, os.path.join(root, "site.toml"))
    shutil.copytree(os.path.join(REPO, "themes"), os.path.join(root, "themes"))
    return root


def bio(name, extra="", body="Bio.\n"):
    slug = name.lower().replace(" ", "-")
    return slug, (f"---\nname: {name}\nemail: {slug}@private.example.net\ngrade: FY2\n{extra}---\n\n{body}")


def headings(a):
    rows = {}
    for kind in ("repeated", "distinct"):
        root = site(a.work, f"headings-{kind}")
        body = "".join(
            f"## {'Same heading' if kind == 'repeated' else f'Heading number {i}'}\n\nText.\n\n"
            for i in range(4000))
        slug, text = bio("Jane Doe", "headshot: false\n", body)
        with open(os.path.join(root, "content", "mentors", f"{slug}.md"), "w") as f:
            f.write(text)
        times = []
        for _ in range(a.runs):
            shutil.rmtree(os.path.join(root, "public"), ignore_errors=True)
            times.append(timed(a.binary, root)[0])
        rows[kind] = statistics.median(times)
        print(f"headings {kind:>8}: median {rows[kind] * 1000:8.1f} ms over {a.runs} runs "
              f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})", flush=True)
    print(f"headings ratio repeated/distinct: {rows['repeated'] / rows['distinct']:.2f}")


def png(path, size, seed):
    """A size x size RGB PNG whose rows differ by seed (so every photo is distinct)."""
    row = bytes((x * 7 + seed * 13) % 256 for x in range(size * 3))
    raw = b"".join(b"\x00" + row[(y + seed) % 97:] + row[:(y + seed) % 97] for y in range(size))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 1)))
        f.write(chunk(b"IEND", b""))


def images(a):
    root = os.path.join(a.work, "huge-pngs")
    marker = os.path.join(root, "ready")
    if not os.path.exists(marker):
        root = site(a.work, "huge-pngs")
        for i in range(30):
            slug, text = bio(f"Mentor {i:02d}")
            with open(os.path.join(root, "content", "mentors", f"{slug}.md"), "w") as f:
                f.write(text)
            png(os.path.join(root, "content", "mentors", f"{slug}.png"), 7000, i)
        open(marker, "w").close()
    for threads in (2, 16):
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        times, peaks = [], []
        for _ in range(a.image_runs):
            for d in ("public", ".cache"):
                shutil.rmtree(os.path.join(root, d), ignore_errors=True)
            t, rss = timed(a.binary, root, env)
            times.append(t)
            peaks.append(rss)
        print(f"30 PNGs 7000x7000, {threads:>2} threads: peak {max(peaks):7.1f} MiB "
              f"(median {statistics.median(peaks):.1f}), median {statistics.median(times):.1f} s "
              f"over {a.image_runs} runs", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--image-runs", type=int, default=1)
    ap.add_argument("--only", choices=["headings", "images"])
    ap.add_argument("--work", default=os.path.join(REPO, "target", "bench"))
    ap.add_argument("--binary", default=os.path.join(REPO, "target", "release", "mentorsite"))
    a = ap.parse_args()
    if not os.path.exists(a.binary):
        sys.exit(f"{a.binary} not found: run `cargo build --release` first")
    os.makedirs(a.work, exist_ok=True)
    if a.only in (None, "headings"):
        headings(a)
    if a.only in (None, "images"):
        images(a)


if __name__ == "__main__":
    main()
