#!/usr/bin/env python3
"""Write the sha256 of every file pip may fetch for each pin of requirements.lock.

    python3 scripts/hash_lock.py [LOCK] [--index URL]

For each `name==version` line the index's PEP 691 JSON page lists the release's files with their
sha256. Kept: the sdist (mmcv-full is built from it; any sdist is a fallback pip may take) and
every wheel that pip on CPython 3.10 or 3.11, manylinux x86_64 may choose. The pin lines are
rewritten in place as `pin \\` plus one `--hash=sha256:...` line each; comments and order are
kept, and running it again replaces the old hashes. Standard library only.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path

PYTHONS = (10, 11)  # CPython 3.10 (the image's Ubuntu 22.04) and 3.11 (`make setup` hosts)
PIN = re.compile(r'^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(;[^\\]*)?')
MANYLINUX_X86_64 = re.compile(r'manylinux(1|2010|2014|_\d+_\d+)_x86_64')
SDIST = ('.tar.gz', '.zip', '.tar.bz2')


def wheel_fits(filename: str) -> bool:
    """Whether pip on CPython 3.10/3.11, manylinux x86_64, may install this wheel."""
    parts = filename[:-len('.whl')].split('-')
    pytags, abitags, plats = (p.split('.') for p in parts[-3:])
    if not any(p == 'any' or MANYLINUX_X86_64.fullmatch(p) for p in plats):
        return False
    for minor in PYTHONS:
        for py in pytags:
            for abi in abitags:
                if abi == 'none' and py in ('py3', f'py3{minor}', f'cp3{minor}'):
                    return True
                if abi == f'cp3{minor}' and py == f'cp3{minor}':
                    return True
                cp = re.fullmatch(r'cp3(\d+)', py)
                if abi == 'abi3' and cp and int(cp.group(1)) <= minor:
                    return True
    return False


def release_hashes(index: str, name: str, version: str) -> list[str]:
    url = f'{index.rstrip("/")}/{re.sub(r"[-_.]+", "-", name).lower()}/'
    request = urllib.request.Request(url, headers={'Accept': 'application/vnd.pypi.simple.v1+json'})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)['files']
    norm = re.sub(r'[-_.]+', '_', name).lower()
    hashes = set()
    for f in files:
        fn = f['filename']
        if fn.endswith('.whl'):
            fname, fversion = fn.split('-')[:2]
            if re.sub(r'[-_.]+', '_', fname).lower() == norm and fversion == version \
                    and wheel_fits(fn):
                hashes.add(f['hashes']['sha256'])
        elif fn.endswith(SDIST):
            stem = fn[:-len(next(s for s in SDIST if fn.endswith(s)))]
            fname, _, fversion = stem.rpartition('-')
            if re.sub(r'[-_.]+', '_', fname).lower() == norm and fversion == version:
                hashes.add(f['hashes']['sha256'])
    if not hashes:
        raise SystemExit(f'error: no file of {name}=={version} fits CPython 3.10/3.11 '
                         f'manylinux x86_64 on {index}')
    return sorted(hashes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('lock', nargs='?',
                        default=str(Path(__file__).resolve().parents[1] / 'requirements.lock'))
    parser.add_argument('--index', default='https://pypi.org/simple')
    args = parser.parse_args(argv)
    lock = Path(args.lock)
    out = []
    for line in lock.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith('--hash='):
            continue  # an old hash line: rewritten below with its pin
        m = PIN.match(stripped)
        if not m:
            out.append(line)
            continue
        name, version, marker = m.group(1), m.group(2), (m.group(3) or '').strip()
        pin = f'{name}=={version}' + (f' {marker}' if marker else '')
        hashes = release_hashes(args.index, name, version)
        out.append(pin + ' \\')
        out.extend(f'    --hash=sha256:{h}' + (' \\' if i < len(hashes) - 1 else '')
                   for i, h in enumerate(hashes))
        print(f'{name}=={version}: {len(hashes)} files', file=sys.stderr)
    lock.write_text('\n'.join(out) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
