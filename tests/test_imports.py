"""The package has no import side effects: the light commands never load torch, mmcv or mmdet,
and scripts/check_imports.py (run by scripts/lint.sh) keeps it that way."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from iif.cli import COMMANDS, _load

REPO = Path(__file__).resolve().parents[1]
HEAVY = ('torch', 'mmcv', 'mmdet')

# Runs one `iif ...` command line (or only `import iif`) in a fresh interpreter, then prints
# which heavy packages ended up in sys.modules.
PROBE = '''
import json, sys
argv = sys.argv[1:]
code = None
if argv == ['--import-only']:
    import iif  # noqa: F401
else:
    from iif.cli import main
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
print('HEAVY=' + json.dumps(dict(code=code, loaded=[m for m in %r if m in sys.modules])))
''' % (HEAVY,)


def probe(args, cwd) -> dict:
    result = subprocess.run([sys.executable, '-c', PROBE, *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=300,
                            env={'PYTHONPATH': str(REPO), 'PATH': '/usr/bin:/bin'})
    lines = [line for line in result.stdout.splitlines() if line.startswith('HEAVY=')]
    assert lines, f'exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return dict(json.loads(lines[-1][len('HEAVY='):]), out=result.stdout, err=result.stderr)


@pytest.fixture(scope='module')
def eval_inputs(tmp_path_factory):
    """The smoke val set and, as results, its own boxes (a perfect detector: AP 1)."""
    from iif import smoke_data
    root = tmp_path_factory.mktemp('imports')
    gt = smoke_data.generate(root / 'smoke')['val']
    anns = json.loads(gt.read_text())['annotations']
    results = [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'],
                    score=1.0) for a in anns]
    dt = root / 'results.bbox.json'
    dt.write_text(json.dumps(results))
    return root, gt, dt


@pytest.fixture(scope='module')
def queue_work_root(tmp_path_factory):
    """A work root with a state file: one run done, one pending."""
    from iif.clock import now
    from iif.reproduce.state import QueueState
    root = tmp_path_factory.mktemp('reproduce')
    state = QueueState(root)
    for seed, status in ((1, 'done'), (2, 'pending')):
        state.runs[f'raw/seed{seed}'] = dict(
            variant='raw', seed=seed, config='configs/iif/variants/iif_raw.py',
            work_dir=str(root / 'raw' / f'seed{seed}'), status=status,
            attempts=[dict(started=now(), seconds=60.0)] if status == 'done' else [],
            seconds=60.0 if status == 'done' else 0.0, log=None, result=None, error=None)
    state.data['queue'] = dict(started=now(), ended=now(), planned=list(state.runs))
    state.save()
    return root


def test_import_iif_loads_no_torch(tmp_path):
    seen = probe(['--import-only'], tmp_path)
    assert seen['loaded'] == []


@pytest.mark.parametrize('command', ['--help'] + [f'{name} --help' for name in COMMANDS])
def test_help_loads_no_torch(command, tmp_path):
    seen = probe(command.split(), tmp_path)
    assert seen['code'] == 0, seen['err']
    assert seen['loaded'] == []


def test_weights_eval_and_status_load_no_torch(eval_inputs, queue_work_root, tmp_path):
    out = tmp_path / 'w.csv'
    seen = probe(['weights', '--dataset', 'lvis_v1', '--out', out], tmp_path)
    assert (seen['code'], seen['loaded']) == (0, []), seen['err']
    assert len(out.read_text().splitlines()) == 1203 + 1  # header + one row per class

    root, gt, dt = eval_inputs
    seen = probe(['eval', '--gt', gt, '--dt', dt, '--out', tmp_path / 'm.json'], tmp_path)
    assert (seen['code'], seen['loaded']) == (0, []), seen['err']
    assert json.loads((tmp_path / 'm.json').read_text())['metrics']['bbox']['AP'] == 1.0

    seen = probe(['reproduce', 'status', '--work-root', queue_work_root], tmp_path)
    assert (seen['code'], seen['loaded']) == (0, []), seen['err']
    assert 'raw/seed1' in seen['out'] and '1 done' in seen['out']


def test_help_lists_every_command_with_its_one_line_description(capsys):
    from iif.cli import main
    assert main([]) == 2  # no command: the help, status 2
    text = ' '.join(capsys.readouterr().out.split())
    for name in COMMANDS:
        help_line = _load(name).HELP
        assert '\n' not in help_line and len(help_line) <= 90, name
        assert f'{name} {help_line}' in text, name


# ------------------------------------------------------------------ scripts/check_imports.py
def _checker():
    spec = importlib.util.spec_from_file_location('check_imports',
                                                  REPO / 'scripts' / 'check_imports.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_import_check_fails_on_a_module_level_torch_import(tmp_path, capsys):
    check = _checker()
    pkg = tmp_path / 'iif'
    (pkg / 'models').mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'models' / '__init__.py').write_text('import torch\n')  # the mmdet side: allowed
    (pkg / 'lazy.py').write_text('def f():\n    import torch\n    return torch\n')
    assert check.main([str(pkg)]) == 0
    (pkg / 'eager.py').write_text('import json\ntry:\n    from mmcv import Config\n'
                                  'except ImportError:\n    Config = None\n')
    (pkg / 'indirect.py').write_text('from .models import something\n')
    assert check.main([str(pkg)]) == 1
    out = capsys.readouterr().out
    assert 'iif/eager.py:3: imports mmcv at module level' in out
    assert 'iif/indirect.py:1: imports iif.models at module level' in out
    assert 'lazy.py' not in out and 'models/__init__.py' not in out


def test_the_package_passes_the_import_check(capsys):
    assert _checker().main([str(REPO / 'iif')]) == 0


def test_every_module_of_the_package_imports():
    """Every module under iif/ imports (in a fresh interpreter, the full stack available): a
    module that imports a name another module no longer has fails here, not in a user's run."""
    code = '''
import importlib, pkgutil, sys, iif
failed = []
for info in pkgutil.walk_packages(iif.__path__, 'iif.'):
    try:
        importlib.import_module(info.name)
    except Exception as e:  # report every broken module, not only the first
        failed.append(f'{info.name}: {type(e).__name__}: {e}')
print('\\n'.join(failed))
sys.exit(1 if failed else 0)
'''
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
