#!/usr/bin/env python3
"""CPU of a cold headshot build, and how close two builds' headshots are (SSIM).

Times `mentorsite build` from an empty output and headshot cache over N generated bios with
1200x1600 JPEG headshots, and reports CPU (user + sys of the build process, from
getrusage), wall time and peak memory, median of --runs. With --against OTHER_BINARY the two
binaries are run in turn (A B A B …, so a busy machine weighs on both alike), and then the
headshots of a sample of mentors are compared size by size and format by format with SSIM
(scikit-image), reporting min and median: new against old, and each against the photo's
centre square resized by Pillow's Lanczos with no lossy step. Two lossy encodings of grainy
photos differ from each other more than either differs in quality, so the second pair is the
check that a faster pipeline looks no worse. Total bytes by format and width close the report.

    cargo build --release && cp target/release/mentorsite target/bench/mentorsite-before
    # … change the pipeline …
    cargo build --release
    python3 benches/headshots.py --n 1000 --runs 3 --against target/bench/mentorsite-before

An older binary may not read today's theme: --against-rev REV gives it a copy of the corpus with
the theme and handbook of the revision it was built from.

With --photo-size 3024x4032 the corpus's photos are enlarged (with fresh grain) to a phone
camera's size, where a JPEG can be decoded at a reduced scale; the default 1200x1600 is decoded
whole for 640 px headshots.

Needs Pillow (for the corpus), and numpy + scikit-image for --against.
The load average is printed before and after: on a shared machine the CPU figures are only
comparable within one run of this script.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build import REPO, corpus, parse_with_common, set_aside  # noqa: E402


def cold_build(binary, root):
    """CPU seconds (user + sys), wall seconds and max RSS (MiB) of one cold build."""
    set_aside(os.path.join(root, "public"))
    set_aside(os.path.join(root, ".cache"))
    os.sync()
    time.sleep(2)
    probe = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
        "w = time.perf_counter() - t;"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(r.ru_utime, r.ru_stime, w, r.ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, binary, "build", "--root", root],
                         check=True, capture_output=True, text=True).stdout.split()
    user, sys_, wall, rss = float(out[0]), float(out[1]), float(out[2]), int(out[3])
    return user + sys_, user, sys_, wall, rss / 1024


def headshot_files(public):
    """{(slug, width, format): path} of the processed headshots (avatars left out)."""
    folder = os.path.join(public, "headshots")
    out = {}
    for name in os.listdir(folder):
        stem, ext = os.path.splitext(name)
        if "-avatar-" in name or ext not in (".jpg", ".webp", ".png"):
            continue
        slug, _key, width = stem.rsplit("-", 2)
        out[(slug, int(width), ext[1:])] = os.path.join(folder, name)
    return out


def reference(photo, width):
    """The photo's centre square resized to `width` by Pillow's Lanczos, before any lossy
    encoding: what both pipelines try to reproduce. (The corpus is square-cropped: 1:1 theme.)"""
    import numpy as np
    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side))
    return np.asarray(img.resize((width, width), Image.LANCZOS))


def compare(before, after, sample, photos, seed=15):
    """SSIM of `after`'s headshots against `before`'s, and of each against a lossless
    reference, for `sample` mentors."""
    import numpy as np
    from PIL import Image
    from skimage.metrics import structural_similarity

    a, b = headshot_files(before), headshot_files(after)
    missing = sorted(set(a) ^ set(b))
    if missing:
        print(f"  files in one build only: {missing[:5]}{' …' if len(missing) > 5 else ''}")
    slugs = sorted({k[0] for k in a} & {k[0] for k in b})
    chosen = set(random.Random(seed).sample(slugs, min(sample, len(slugs))))
    def ssim(x, y):
        return structural_similarity(x, y, channel_axis=2, data_range=255)

    scores = {}
    refs = {}
    for key in sorted(set(a) & set(b)):
        if key[0] not in chosen:
            continue
        x = np.asarray(Image.open(a[key]).convert("RGB"))
        y = np.asarray(Image.open(b[key]).convert("RGB"))
        if x.shape != y.shape:
            print(f"  {key}: sizes differ, {x.shape} vs {y.shape}")
            continue
        ref_key = key[:2]
        if ref_key not in refs:
            refs[ref_key] = reference(os.path.join(photos, key[0] + ".jpg"), key[1])
        ref = refs[ref_key]
        scores.setdefault(key[1:], []).append((ssim(x, y), ssim(x, ref), ssim(y, ref)))
    print(f"SSIM over {len(chosen)} mentors: new against old, and old and new against the photo "
          "resized losslessly (Pillow Lanczos):")
    print(f"  {'':>10} {'new~old min':>11} {'median':>7} {'identical':>9}   "
          f"{'old~ref min':>11} {'median':>7}   {'new~ref min':>11} {'median':>7}")
    for (width, fmt), rows in sorted(scores.items()):
        cols = list(zip(*rows))
        same = sum(1 for v in cols[0] if v == 1.0)
        stats = [(min(c), statistics.median(c)) for c in cols]
        print(f"  {fmt:>4} {width:>4}px {stats[0][0]:>11.4f} {stats[0][1]:>7.4f} {same:>5}/{len(rows):<3}   "
              f"{stats[1][0]:>11.4f} {stats[1][1]:>7.4f}   {stats[2][0]:>11.4f} {stats[2][1]:>7.4f}")


def print_bytes(before, after):
    """Total bytes by format and width, old against new."""
    totals = {}
    for label, public in (("old", before), ("new", after)):
        for (_, width, fmt), path in headshot_files(public).items():
            totals.setdefault((fmt, width), {}).setdefault(label, 0)
            totals[(fmt, width)][label] += os.path.getsize(path)
    print("bytes, all headshots:")
    for (fmt, width), t in sorted(totals.items()):
        old, new = t.get("old", 0), t.get("new", 0)
        print(f"  {fmt:>4} {width:>4}px: old {old / 2**20:7.2f} MiB  new {new / 2**20:7.2f} MiB"
              f"  ({(new / old - 1) * 100 if old else 0:+.1f}%)")


def enlarge_one(args):
    src, dst, size, seed = args
    import random as r
    from PIL import Image
    img = Image.open(src).convert("RGB").resize(size, Image.BICUBIC)
    gw, gh = size[0] // 2, size[1] // 2
    grain = Image.frombytes("L", (gw, gh), r.Random(seed).randbytes(gw * gh)).resize(size, Image.NEAREST)
    img = Image.blend(img, Image.merge("RGB", (grain, grain, grain)), 0.05)
    img.save(dst, "JPEG", quality=85)


def enlarged(root, size):
    """A copy of the corpus at `root` whose photos are `size` (w, h): made once, then reused."""
    import multiprocessing
    out = f"{root}-{size[0]}x{size[1]}"
    mentors = os.path.join(root, "content", "mentors")
    done = os.path.join(out, ".enlarged")
    if not os.path.exists(done):
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(root, out, ignore=shutil.ignore_patterns("public", ".cache", "*.jpg"))
        jobs = [(os.path.join(mentors, f), os.path.join(out, "content", "mentors", f), size, i)
                for i, f in enumerate(sorted(os.listdir(mentors))) if f.endswith(".jpg")]
        with multiprocessing.Pool() as pool:
            pool.map(enlarge_one, jobs)
        open(done, "w").close()
    return out


def themed_at(root, rev):
    """A copy of the corpus at `root` (photos and bios hard-linked) with the theme and handbook
    of git revision `rev`, for a binary built from it."""
    out = f"{root}-at-{rev}"
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    subprocess.run(["cp", "-al", os.path.join(root, "content"), os.path.join(out, "content")], check=True)
    shutil.copy(os.path.join(root, "site.toml"), out)
    for part in ("themes", "content/handbook"):
        shutil.rmtree(os.path.join(out, part), ignore_errors=True)
        archive = subprocess.run(["git", "-C", REPO, "archive", rev, part], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", out], input=archive, check=True)
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()[1:4]
        return f"{load}  (CPU pressure {' '.join(some)})"
    except OSError:
        return load


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--against", help="an older binary to time in turn and compare outputs with")
    ap.add_argument("--against-rev", help="the git revision --against was built from: its binary "
                    "builds a copy of the corpus with that revision's theme (an old binary may not "
                    "read today's templates)")
    ap.add_argument("--sample", type=int, default=50, help="mentors compared with SSIM")
    ap.add_argument("--photo-size", help="enlarge the photos to WxH (e.g. 3024x4032)")
    a = parse_with_common(ap)
    root = corpus(a.n, a.work, a.gen, True)
    if a.photo_size:
        root = enlarged(root, tuple(int(v) for v in a.photo_size.split("x")))
    binaries = [("new", a.binary, root)]
    if a.against:
        binaries.append(("old", a.against, themed_at(root, a.against_rev) if a.against_rev else root))
    print(f"load average before: {loadavg()}  ({os.cpu_count()} CPUs)")
    results = {label: [] for label, _, _ in binaries}
    kept = {}
    for _ in range(a.runs):
        for label, binary, at in binaries:
            results[label].append(cold_build(binary, at))
            if a.against:
                kept[label] = os.path.join(a.work, f"public-{label}")
                set_aside(kept[label])
                os.makedirs(kept[label])
                os.rename(os.path.join(at, "public", "headshots"), os.path.join(kept[label], "headshots"))
    print(f"load average after:  {loadavg()}")
    print(f"cold build, {a.n} headshots, median of {a.runs}:")
    print(f"  {'':>4} {'CPU s':>7} {'user s':>7} {'sys s':>6} {'wall s':>7} {'peak MiB':>9}   CPU s per run")
    for label, rows in results.items():
        med = [statistics.median(r[i] for r in rows) for i in range(5)]
        runs = " ".join(f"{r[0]:.1f}" for r in rows)
        print(f"  {label:>4} {med[0]:>7.2f} {med[1]:>7.2f} {med[2]:>6.2f} {med[3]:>7.2f} {med[4]:>9.1f}   {runs}")
    if a.against:
        new, old = (statistics.median(r[0] for r in results[k]) for k in ("new", "old"))
        print(f"  new / old CPU: {new / old:.2f}")
        compare(kept["old"], kept["new"], a.sample, os.path.join(root, "content", "mentors"))
        print_bytes(kept["old"], kept["new"])


if __name__ == "__main__":
    main()
