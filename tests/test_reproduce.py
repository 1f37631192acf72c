"""`iif reproduce`: the variant queue on CPU with the smoke variant set (configs/smoke/variants).

One session-scoped queue (3 variants x 2 seeds) is trained once and read by several tests; the
kill/resume test trains two of its runs again in another work root and must end with the same
numbers (same seeds, 1 CPU process, EpochSeedHook from the default runtime: deterministic).
Needs the full stack (mmcv-full, mmdet); a few minutes on 2 cores.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import mmdet  # noqa: F401  (pinned: the queue trains with it; missing it is a failure)
import pytest

from iif.reproduce import results, variants
from iif.reproduce.errors import ReproduceError
from iif.checkpoints import checkpoint_is_complete
from iif.reproduce.processes import group_members
from iif.reproduce.rundir import failure_reason, find_result
from iif.reproduce.state import QueueLock, QueueState

KIT = Path(__file__).resolve().parents[1]
SMOKE_SET = KIT / 'configs' / 'smoke' / 'variants'
LVIS_SET = KIT / 'configs' / 'iif' / 'variants'
THREE = 'softmax,raw,base10_obj'
IOUS = ('bbox', 'segm')
TABLE = ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf')


def iif_cmd(*args: str) -> list:
    return [sys.executable, '-c', 'import sys; from iif.cli import main; sys.exit(main())',
            *args]


def cli_env() -> dict:
    return dict(os.environ, IIF_DEVICE='cpu', PYTHONUNBUFFERED='1')


def reproduce(cwd: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(iif_cmd('reproduce', *args), cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, timeout=timeout)


def queue_args(work_root: str, out: str, variant_names: str, seeds: str,
               config_dir: Path = SMOKE_SET) -> list:
    return ['run', '--config-dir', str(config_dir), '--variants', variant_names, '--seeds',
            seeds, '--gpus', '1', '--work-root', work_root, '--out', out]


def load_metrics(path) -> dict:
    return json.loads(Path(path).read_text())


@pytest.fixture(scope='session')
def smoke_cwd():
    """A working directory with data/smoke (the configs read relative data paths). Not under
    pytest's basetemp: a concurrent pytest session prunes old basetemps, mid-training too."""
    from iif import smoke_data
    cwd = Path(tempfile.mkdtemp(prefix='iif-test-reproduce-'))
    smoke_data.generate(str(cwd / 'data' / 'smoke'))
    yield cwd
    shutil.rmtree(cwd, ignore_errors=True)


@pytest.fixture(scope='session')
def seeded_set() -> Path:
    """The smoke variant set as shipped: every config has EpochSeedHook (default runtime), so a
    run resumed from epoch_1.pth trains exactly like the uninterrupted one and the kill/resume
    test can require identical numbers."""
    return SMOKE_SET


@pytest.fixture(scope='session')
def full_queue(smoke_cwd, seeded_set):
    """softmax, raw, base10_obj x seeds 1, 2, uninterrupted."""
    started = time.time()
    proc = reproduce(smoke_cwd, *queue_args('wr_full', 'res_full', THREE, '1,2', seeded_set))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(cwd=smoke_cwd, work_root=smoke_cwd / 'wr_full', out=smoke_cwd / 'res_full',
                config_dir=seeded_set, stdout=proc.stdout, seconds=time.time() - started)


# ------------------------------------------------------------------------- no training
def test_variant_names_from_config_files():
    names = [v.name for v in variants.discover(LVIS_SET)]
    assert len(names) == 15
    from iif.weights import VARIANTS
    assert [v.name for v in variants.discover(SMOKE_SET)] == ['softmax', 'raw', 'base10_obj']
    assert names[0] == 'softmax' and names[1:] == VARIANTS  # baseline, then the paper's order


def test_unknown_variant_is_a_clear_error(tmp_path):
    proc = reproduce(tmp_path, 'run', '--config-dir', str(SMOKE_SET), '--variants',
                     'raw,nonsense', '--gpus', '1', '--work-root', 'wr')
    assert proc.returncode == 2
    assert 'unknown variant nonsense' in proc.stderr
    for valid in ('base10_obj', 'raw', 'softmax'):
        assert valid in proc.stderr
    assert not (tmp_path / 'wr').exists()  # refused before anything was written
    with pytest.raises(ReproduceError, match='more than once'):
        variants.parse_list('raw,raw', '--variants')
    with pytest.raises(ReproduceError, match='whole numbers'):
        variants.parse_seeds('1,two')


ZOO = KIT / 'configs' / 'zoo'


def test_no_training_config_is_held_against_a_published_number():
    """No README version ties IIF_r50 (26.3) or IIF_r50_rsb to a kit training config: the raw
    1x variant, the plain 1x IIF config and the FASA configs get no published target."""
    published = results.load_published()
    training = [p for p in (KIT / 'configs').rglob('*.py') if 'zoo' not in p.parts]
    assert len(training) > 30
    for config in training:
        assert results.published_for(config, published) is None, config
    # only the test-only configs that load the released checkpoints are compared
    rsb = results.published_for(ZOO / 'iif_r50_rsb_released_test.py', published)
    r50 = results.published_for(ZOO / 'iif_r50_released_test.py', published)
    assert (rsb.model, r50.model) == ('IIF_r50_rsb', 'IIF_r50')
    # the current (HEAD) numbers; APc of the rsb row was 26.8 in the earlier versions
    assert rsb.values == {'segm': {'AP': 27.4, 'APr': 19.4, 'APc': 26.2, 'APf': 31.5},
                          'bbox': {'AP': 27.4}}
    assert rsb.other_values('segm/APc') == [(26.8, ['a4456bb', '445bc4e', '2279f78',
                                                    'a7561f3'])]
    assert rsb.mask_thr_binary == {f'segm/{m}': '0.4' for m in ('AP', 'APr', 'APc', 'APf')}
    assert r50.values == {'segm': {'AP': 26.3, 'APr': 18.6, 'APc': 25.2, 'APf': 30.8},
                          'bbox': {'AP': 25.8}}
    assert r50.config.startswith('probable, unverified: ')


def test_tolerance_check_against_a_published_row():
    published = results.load_published()
    rsb = results.published_for(ZOO / 'iif_r50_rsb_released_test.py', published)

    def metrics(ap, apr):
        return {'segm': {'AP': {'mean': ap}, 'APr': {'mean': apr}, 'APc': {'mean': 26.2},
                         'APf': {'mean': 31.5}}, 'bbox': {'AP': {'mean': 27.4}}}
    ok = results.check_row(metrics(27.8, 19.4), rsb, tolerance=0.5)
    assert ok['status'] == 'ok' and abs(ok['deltas']['segm/AP'] - 0.4) < 1e-9
    off = results.check_row(metrics(27.4, 18.7), rsb, tolerance=0.5)
    assert off['status'] == 'outside' and off['outside'] == ['segm/APr']
    assert results.check_row(metrics(27.4, 18.7), rsb, tolerance=1.0)['status'] == 'ok'
    assert results.check_row(metrics(27.4, 19.4), None, tolerance=0.5)['status'] == 'n/a'


def _done_run(state, tmp_path, variant, seed, config, segm, bbox_ap=0.25, batch=None):
    """A finished run with hand-written metrics (no LVIS training on CPU)."""
    run_dir = tmp_path / 'wr' / variant / f'seed{seed}'
    (run_dir / 'test_1').mkdir(parents=True)
    metrics = {'bbox': {m: 0.25 for m in TABLE}, 'segm': {m: 0.25 for m in TABLE}}
    metrics['segm'].update(segm)
    metrics['bbox']['AP'] = bbox_ap
    (run_dir / 'test_1' / 'metrics.json').write_text(json.dumps(metrics))
    if batch is not None:
        (run_dir / 'run.json').write_text(json.dumps(dict(kind='train', seed=seed,
                                                          batch=batch)))
    state.runs[f'{variant}/seed{seed}'] = dict(
        variant=variant, seed=seed, config=str(config), work_dir=str(run_dir), status='done',
        attempts=[], seconds=1.0, result=str(run_dir / 'test_1' / 'metrics.json'), log=None,
        error=None)


BATCH16 = dict(gpus=4, samples_per_gpu=4, **{'global': 16}, lr=0.02, reference_global=16,
               reference_lr=0.02, scaled=False)


def test_table_shows_the_paired_gap_to_softmax_not_a_published_number(tmp_path):
    """LVIS 1x raw and softmax runs (metrics written by hand): the raw row carries the per-seed
    difference to softmax, mean ± sample std, and no published number (IIF_r50 = 26.3 is not
    the plain 1x config's number)."""
    state = QueueState(tmp_path / 'wr')
    raw_cfg = LVIS_SET / 'iif_raw_r50_fpn_4x4_1x_lvis_v1.py'
    soft_cfg = LVIS_SET / 'softmax_r50_fpn_4x4_1x_lvis_v1.py'
    soft = {1: (0.180, 0.010), 2: (0.186, 0.020), 3: (0.190, 0.030)}
    raw = {1: (0.200, 0.090), 2: (0.210, 0.120)}  # seed 3 of raw never finished
    for seed, (ap, apr) in soft.items():
        _done_run(state, tmp_path, 'softmax', seed, soft_cfg, dict(AP=ap, APr=apr),
                  batch=BATCH16 if seed == 1 else None)
    for seed, (ap, apr) in raw.items():
        _done_run(state, tmp_path, 'raw', seed, raw_cfg, dict(AP=ap, APr=apr),
                  batch=BATCH16 if seed == 1 else None)
    # a 2x config is not compared with the 1x softmax baseline
    _done_run(state, tmp_path, 'twox', 1, KIT / 'configs' / 'iif' / 'iif_r50_fpn_4x4_2x_lvis_v1.py',
              dict(AP=0.22, APr=0.15))
    results.write_report(state, tmp_path / 'out', tolerance=0.5, plots=False)
    report = json.loads((tmp_path / 'out' / 'variants.json').read_text())
    rows = {r['variant']: r for r in report['variants']}
    row = rows['raw']
    assert row['published'] is None and row['published_model'] is None
    assert row['check']['status'] == 'n/a'
    gap = row['gap']
    assert gap['status'] == 'ok' and gap['baseline'] == 'softmax' and gap['seeds'] == [1, 2]
    diffs = [20.0 - 18.0, 21.0 - 18.6]
    assert gap['metrics']['segm']['AP']['mean'] == pytest.approx(statistics.fmean(diffs))
    assert gap['metrics']['segm']['AP']['std'] == pytest.approx(statistics.stdev(diffs))
    assert gap['metrics']['segm']['APr']['mean'] == pytest.approx(statistics.fmean([8.0, 10.0]))
    assert rows['softmax']['gap']['status'] == 'baseline'
    assert rows['twox']['gap']['status'].startswith('different schedule (24 epochs')
    assert row['batch'] == ['-', '16 (4x4) @ 0.02']
    md = (tmp_path / 'out' / 'variants.md').read_text()
    assert '| raw | 2 | -; 16 (4x4) @ 0.02 | 20.5 ± 0.7 |' in md
    assert '| +2.2 ± 0.3 | +9.0 ± 1.4 |' in md  # ΔAP, ΔAPr vs softmax
    assert 'Against the published numbers' not in md and '26.3' not in md
    assert '| raw | 1 | done | 16 (4x4) @ 0.02 |' in md and '| raw | 2 | done | - |' in md
    with open(tmp_path / 'out' / 'variants.csv', newline='') as f:
        rec = {r['variant']: r for r in csv.DictReader(f)}
    assert rec['raw']['segm_AP_published'] == '' and rec['raw']['check'] == 'n/a'
    assert float(rec['raw']['segm_AP_gap']) == pytest.approx(2.2)
    assert rec['raw']['gap_seeds'] == '1;2' and rec['softmax']['gap_status'] == 'baseline'


def test_table_compares_a_zoo_config_with_its_published_row(tmp_path):
    state = QueueState(tmp_path / 'wr')
    _done_run(state, tmp_path, 'rsb_released', 0, ZOO / 'iif_r50_rsb_released_test.py',
              dict(AP=0.273, APr=0.194, APc=0.262, APf=0.315), bbox_ap=0.274)
    results.write_report(state, tmp_path / 'out', tolerance=0.5, plots=False)
    row = json.loads((tmp_path / 'out' / 'variants.json').read_text())['variants'][0]
    assert row['published_model'] == 'IIF_r50_rsb' and row['check']['status'] == 'ok'
    assert row['gap']['status'] == 'no softmax baseline in this queue'
    md = (tmp_path / 'out' / 'variants.md').read_text()
    assert ('| rsb_released | IIF_r50_rsb | mask APc (mask_thr_binary 0.4) | 26.2 | '
            '26.2 (26.8 at a4456bb, 445bc4e, 2279f78, a7561f3) | +0.0 | yes |') in md
    assert 'fasa_iof_base10_giou16_r50_rfs_cos_norm_4x4_1x_rsb.py' in md
    assert ('Source: https://github.com/kostas1515/iif/blob/5939b4da96e04c24c0721f6adcced3121'
            '4a6d3ab/instance_segmentation/README.md') in md


def test_plot_weights_standalone(tmp_path):
    from iif.reproduce.plots import weight_curves
    curves = weight_curves('lvis_v1')
    from iif.weights import VARIANTS
    assert set(curves) == set(VARIANTS)
    xs, ys = curves['raw']
    assert len(xs) == 1203 and xs == sorted(xs)
    assert all(a >= b - 1e-12 for a, b in zip(ys, ys[1:]))  # decreasing in frequency
    out = tmp_path / 'w' / 'iif_weights.png'
    proc = subprocess.run(iif_cmd('reproduce', 'plot-weights', '--out', str(out)),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and out.stat().st_size > 20000


def test_incomplete_checkpoint_and_failure_reason(tmp_path):
    good = tmp_path / 'epoch_1.pth'
    with zipfile.ZipFile(good, 'w') as z:
        z.writestr('archive/data.pkl', b'x' * 1000)
    cut = tmp_path / 'epoch_2.pth'
    cut.write_bytes(good.read_bytes()[:600])
    assert checkpoint_is_complete(good) and not checkpoint_is_complete(cut)
    log = tmp_path / 'x.log'
    log.write_text('old attempt\nerror: old\n===== new\nTraceback\nFloatingPointError: loss is '
                   'nan at epoch 1\nother line\n')
    assert failure_reason(log).startswith('error: old')
    since = log.read_text().index('===== new')
    assert failure_reason(log, since).startswith('FloatingPointError: loss is nan')


# ----------------------------------------------------------------------- the full queue
def test_full_queue_table_matches_the_runs(full_queue):
    work_root, out = full_queue['work_root'], full_queue['out']
    state = QueueState.load(work_root)
    assert sorted(state.runs) == sorted(f'{v}/seed{s}' for v in THREE.split(',')
                                        for s in (1, 2))
    assert {r['status'] for r in state.runs.values()} == {'done'}
    report = json.loads((out / 'variants.json').read_text())
    assert [row['variant'] for row in report['variants']] == THREE.split(',')
    with open(out / 'variants.csv', newline='') as f:
        csv_rows = {r['variant']: r for r in csv.DictReader(f)}
    md = (out / 'variants.md').read_text()
    cwd = full_queue['cwd']
    for row in report['variants']:
        runs = sorted((r for r in state.runs.values() if r['variant'] == row['variant']),
                      key=lambda r: r['seed'])
        assert row['n'] == 2 and row['seeds'] == [1, 2]
        assert row['run_dirs'] == [r['work_dir'] for r in runs]
        for run in runs:
            # the seed reached the training and was logged
            run_json = json.loads((cwd / run['work_dir'] / 'run.json').read_text())
            assert run_json['seed'] == run['seed']
            assert f'--seed {run["seed"]}' in (cwd / run['work_dir'] / 'command.txt').read_text()
            # the result is the evaluation of the final checkpoint
            assert Path(run['result']).parent.name.startswith('test_')
            assert load_metrics(cwd / run['result'])['checkpoint'].endswith('epoch_2.pth')
        measured = [load_metrics(cwd / r['result']) for r in runs]
        for iou in IOUS:
            for m in TABLE:
                values = [100 * x[iou][m] for x in measured]
                cell = row['metrics'][iou][m]
                assert cell['values'] == pytest.approx(values)
                assert cell['mean'] == pytest.approx(statistics.fmean(values))
                assert cell['std'] == pytest.approx(statistics.stdev(values))
                assert float(csv_rows[row['variant']][f'{iou}_{m}']) == pytest.approx(
                    statistics.fmean(values), abs=1e-4)
        assert row['check']['status'] == 'n/a'  # smoke configs have no published numbers
        assert csv_rows[row['variant']]['check'] == 'n/a'
        assert csv_rows[row['variant']]['n_runs'] == '2'
        segm = row['metrics']['segm']
        expected_cell = f'{segm["AP"]["mean"]:.1f} ± {segm["AP"]["std"]:.1f}'
        assert f'| {row["variant"]} | 2 | {"; ".join(row["batch"])} | {expected_cell} |' in md
        # every variant is set against softmax of the same seeds
        assert row['gap']['status'] == ('baseline' if row['variant'] == 'softmax' else 'ok')
    # two seeds are two different trainings (first logged losses differ)
    first_losses = {}
    for r in state.runs.values():
        log = sorted((cwd / r['work_dir']).glob('*.log.json'))[0]
        first = next(json.loads(line) for line in log.read_text().splitlines()
                     if '"mode": "train"' in line)
        first_losses[(r['variant'], r['seed'])] = first['loss']
    for v in THREE.split(','):
        assert first_losses[(v, 1)] != first_losses[(v, 2)]
    # plots exist, are PNGs and are linked from the table
    for name in ('variants_ap.png', 'iif_weights.png', 'loss_curves.png'):
        png = out / name
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', name
        assert f']({name})' in md


def test_status_after_a_finished_queue(full_queue):
    proc = reproduce(full_queue['cwd'], 'status', '--work-root', 'wr_full', timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'queue: finished' in proc.stdout
    assert '6 runs: 6 done, 0 failed, 0 running, 0 pending' in proc.stdout
    assert 'estimated remaining: 0:00:00' in proc.stdout
    for v in THREE.split(','):
        assert f'{v}/seed1' in proc.stdout and f'{v}/seed2' in proc.stdout


def test_rerun_skips_finished_runs(full_queue, tmp_path):
    work_root = full_queue['work_root']
    ckpts = {p: p.stat().st_mtime_ns for p in work_root.glob('*/seed*/epoch_*.pth')}
    tests_before = sorted(work_root.glob('*/seed*/test_*'))
    proc = reproduce(full_queue['cwd'], *queue_args('wr_full', str(tmp_path / 'again'), THREE,
                                                    '1,2', full_queue['config_dir']),
                     timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('done already') == 6
    assert {p: p.stat().st_mtime_ns for p in ckpts} == ckpts
    assert sorted(work_root.glob('*/seed*/test_*')) == tests_before
    again = json.loads((tmp_path / 'again' / 'variants.json').read_text())
    first = json.loads((full_queue['out'] / 'variants.json').read_text())
    assert [r['metrics'] for r in again['variants']] == [r['metrics'] for r in first['variants']]
    # `report` rebuilds the same table from another working directory
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    proc = reproduce(elsewhere, 'report', '--work-root', str(work_root), '--out', 'r',
                     timeout=300)
    assert proc.returncode == 0, proc.stderr
    rebuilt = json.loads((elsewhere / 'r' / 'variants.json').read_text())
    assert [r['metrics'] for r in rebuilt['variants']] == [r['metrics'] for r in first['variants']]
    assert (elsewhere / 'r' / 'loss_curves.png').is_file()


# ------------------------------------------------------------------- kill and resume
def _wait_for(predicate, proc, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f'queue ended (rc {proc.returncode}) before {what}:\n'
                                 + proc.stdout.read())
        time.sleep(0.5)
    raise AssertionError(f'timed out waiting for {what}')


def test_sigkill_then_restart_resumes_and_matches_uninterrupted(full_queue):
    cwd = full_queue['cwd']
    # The queue's first run, softmax/seed1, is the full queue's (copied, times kept): it is
    # done before the kill either way, and this saves a training. The second is trained here.
    shutil.copytree(full_queue['work_root'] / 'softmax' / 'seed1',
                    cwd / 'wr_kill' / 'softmax' / 'seed1')
    args = queue_args('wr_kill', 'res_kill', 'softmax,raw', '1', full_queue['config_dir'])
    first = subprocess.Popen(iif_cmd('reproduce', *args), cwd=cwd, env=cli_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    second_run = cwd / 'wr_kill' / 'raw' / 'seed1'
    try:
        # once it holds the lock, a second queue on the same work root is refused
        _wait_for(lambda: (second_run / 'reproduce_train.log').is_file(), first, 300,
                  'the second run started')
        busy = reproduce(cwd, *args, timeout=300)
        assert busy.returncode == 2
        assert 'another reproduce queue is running' in busy.stderr
        assert f'PID {first.pid}' in busy.stderr and 'kill' in busy.stderr
        # kill during the second run, once it has a complete epoch_1.pth
        _wait_for(lambda: (second_run / 'epoch_1.pth').is_file()
                  and checkpoint_is_complete(second_run / 'epoch_1.pth'), first, 900,
                  'the second run wrote epoch_1.pth')
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    # the training it started gets SIGTERM from the kernel (parent-death signal) and ends
    lock = QueueLock(cwd / 'wr_kill')
    deadline = time.time() + 120
    while lock.held_by_someone() and time.time() < deadline:
        time.sleep(0.5)
    assert not lock.held_by_someone(), 'the killed queue\'s training kept running'
    first_run = cwd / 'wr_kill' / 'softmax' / 'seed1'
    final_mtime = (first_run / 'epoch_2.pth').stat().st_mtime_ns
    first_result = find_result(first_run, first_run / 'epoch_2.pth')
    assert first_result is not None
    assert not (second_run / 'epoch_2.pth').exists()

    state = QueueState.load(cwd / 'wr_kill')
    assert state.runs['raw/seed1']['status'] == 'running'  # what SIGKILL leaves behind
    status = reproduce(cwd, 'status', '--work-root', 'wr_kill', timeout=120)
    assert 'interrupted' in status.stdout and 'not running' in status.stdout

    again = reproduce(cwd, *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert 'softmax/seed1: done already' in again.stdout
    assert 'raw/seed1: training resuming from epoch_1.pth' in again.stdout
    # the first run was not trained or evaluated again
    assert (first_run / 'epoch_2.pth').stat().st_mtime_ns == final_mtime
    assert find_result(first_run, first_run / 'epoch_2.pth') == first_result
    # the second resumed from its checkpoint
    run_json = json.loads((second_run / 'run.json').read_text())
    assert run_json['resumed_from'].endswith('epoch_1.pth')
    logs = sorted(second_run.glob('2*.log'))
    assert len(logs) == 2 and 'resumed epoch 1' in logs[-1].read_text()
    raw = QueueState.load(cwd / 'wr_kill').runs['raw/seed1']
    assert [a.get('outcome') for a in raw['attempts']] == ['interrupted', 'done']
    assert raw['attempts'][1]['resume_from'].endswith('epoch_1.pth')
    # nothing of the killed queue's training is left running
    assert group_members(raw['attempts'][0]['pgid'], raw['work_dir']) == []

    # same seeds, 1 CPU process: the same numbers as the uninterrupted queue
    full = QueueState.load(full_queue['work_root'])
    killed = QueueState.load(cwd / 'wr_kill')
    for key in ('softmax/seed1', 'raw/seed1'):
        a = load_metrics(cwd / full.runs[key]['result'])
        b = load_metrics(cwd / killed.runs[key]['result'])
        for iou in IOUS:
            assert a[iou] == b[iou], (key, iou)
    table = {r['variant']: r for r in json.loads((cwd / 'res_kill' / 'variants.json')
                                                 .read_text())['variants']}
    for row in json.loads((full_queue['out'] / 'variants.json').read_text())['variants']:
        if row['variant'] in table:
            for iou in IOUS:
                for m in TABLE:
                    assert table[row['variant']]['metrics'][iou][m]['values'] == \
                        row['metrics'][iou][m]['values'][:1]


# ------------------------------------------------------------------------------ failures
def test_failing_runs_are_marked_and_the_queue_goes_on(full_queue, tmp_path):
    cwd = full_queue['cwd']
    config_dir = tmp_path / 'configs'
    config_dir.mkdir()
    base = SMOKE_SET / 'iif_raw_r18_fpn_smoke.py'
    # a learning rate that makes the loss non-finite within a few iterations
    (config_dir / 'iif_diverge_r18_fpn_smoke.py').write_text(
        f"_base_ = '{base}'\noptimizer = dict(lr=1.0e6)\n"
        "optimizer_config = dict(grad_clip=None)\n")
    # a config mmdet cannot build
    (config_dir / 'iif_broken_r18_fpn_smoke.py').write_text(
        f"_base_ = '{base}'\nmodel = dict(roi_head=dict(bbox_head=dict(loss_cls=dict("
        "type='NoSuchLoss'))))\n")
    # and a good run after them: raw/seed1 of the full queue, already finished
    (config_dir / base.name).write_text(f"_base_ = '{base}'\n")
    work_root = tmp_path / 'wr'
    shutil.copytree(full_queue['work_root'] / 'raw' / 'seed1', work_root / 'raw' / 'seed1')
    proc = reproduce(cwd, *queue_args(str(work_root), str(tmp_path / 'res'),
                                      'diverge,broken,raw', '1', config_dir))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    state = QueueState.load(work_root)
    diverge, broken, raw = (state.runs[f'{v}/seed1'] for v in ('diverge', 'broken', 'raw'))
    assert diverge['status'] == 'failed' and broken['status'] == 'failed'
    assert 'training exited with status' in diverge['error']
    assert 'FloatingPointError' in diverge['error'] or 'loss is' in diverge['error']
    assert 'NoSuchLoss' in broken['error']
    for run in (diverge, broken):
        assert (cwd / run['log']).is_file()
    assert raw['status'] == 'done'  # the queue went on after the failures
    assert 'queue finished: 1 done, 2 failed of 3' in proc.stdout
    report = json.loads((tmp_path / 'res' / 'variants.json').read_text())
    rows = {r['variant']: r for r in report['variants']}
    assert rows['diverge']['n'] == 0 and rows['diverge']['not_counted'][0]['status'] == 'failed'
    assert rows['raw']['n'] == 1
    md = (tmp_path / 'res' / 'variants.md').read_text()
    assert '| diverge | 1 | failed |' in md and '| broken | 1 | failed |' in md
