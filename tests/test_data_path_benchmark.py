"""CI smoke of benchmarks/lvis_data_path.py at 0.2% of LVIS v1 (not a timed test)."""
from __future__ import annotations

import json
import sys

from conftest import REPO, cpu_env, explain, run


def test_benchmark_prints_every_row_with_sane_numbers(tmp_path):
    out = tmp_path / 'bench.json'
    result = run([sys.executable, REPO / 'benchmarks' / 'lvis_data_path.py',
                  '--root', tmp_path / 'lvis', '--fraction', '0.002', '--impl', 'both',
                  '--iters', '8', '--batch', '1', '--test-images', '20',
                  '--dets-per-image', '5', '--json', out],
                 cwd=tmp_path, env=cpu_env(PYTHONPATH=REPO), timeout=1200)
    assert result.returncode == 0, explain(result)
    rows = [line for line in result.stdout.splitlines() if line.startswith('| ')][1:]
    names = [r.split('|')[1].strip() for r in rows]
    assert names == ['verify --level full', 'weights --ann train',
                     'train dataset build, RFS 1e-3 (mmdet)',
                     'train dataset build, RFS 1e-3 (compact)', 'test pre-checks',
                     'loader proc 0 (mmdet, 2 workers)', 'loader proc 1 (mmdet, 2 workers)',
                     'loader proc 0 (compact, 2 workers)', 'loader proc 1 (compact, 2 workers)',
                     'sharded results: write + evaluate'], result.stdout
    for row in rows:
        cells = [c.strip() for c in row.split('|')[1:-1]]
        rc, seconds, cpu = int(cells[1]), float(cells[2]), float(cells[3])
        rss, pss = float(cells[4]), float(cells[5])
        assert rc == 0 and 0 < seconds < 600 and 0 < cpu < 600, row
        # `verify` and `weights` do not load torch: a few MB (the table prints GB to 2 places)
        # and they may end before the parent's first PSS sample; the steps that build datasets
        # or load images hold torch and mmdet (> 50 MB) long enough to be sampled
        assert 0 <= rss < 8 and 0 <= pss < 16, row
        if cells[0].startswith(('train dataset build', 'loader proc')):
            assert rss > 0.05 and pss > 0.05, row
    record = json.loads(out.read_text())
    assert record['fraction'] == 0.002 and record['steps']['weights --ann train']['rc'] == 0
    # 0.2% of LVIS is not LVIS: its counts differ from the bundled table
    assert record['steps']['weights --ann train']['equal_to_bundled'] is False
    for impl in ('mmdet', 'compact'):
        loader = record['steps'][f'loader_{impl}']
        assert loader['images_per_s'] > 0
        for proc in loader['processes']:
            # the series holds the process with its 2 workers (3 processes) at some point
            assert max(n for _, _, n in proc['series']) >= 3, proc
            assert proc['pss_after_warmup_gb'] > 0 and proc['pss_end_gb'] > 0
    build = record['steps']['train dataset build, RFS 1e-3 (compact)']
    assert build['images'] == 200 and build['length'] >= 200
    shards = record['steps']['sharded results: write + evaluate']
    assert shards['images'] == 20 and shards['detections'] == 100
    assert 0 <= shards['segm_AP'] <= 1
