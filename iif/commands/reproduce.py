"""iif reproduce: train + evaluate the IIF variant set as a resumable queue, then the table."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

HELP = 'train and evaluate every IIF variant (resumable queue); results table and plots'

DEFAULT_CONFIG_DIR = 'configs/iif/variants'
DEFAULT_WORK_ROOT = 'work_dirs/reproduce'
DEFAULT_OUT = 'results'


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest='action', metavar='ACTION', required=True)

    run = sub.add_parser('run', help='run the queue (skips finished runs, resumes interrupted '
                         'ones), then write the results', description=(
                             'Train each variant config on --gpus processes through '
                             'tools/dist_train.sh, evaluate its final checkpoint through '
                             'tools/dist_test.sh, and write OUT/variants.{md,csv,json} and '
                             'plots. Exit status: 0 all runs done, 1 some run failed (the '
                             'others still ran), 2 bad input or another queue running, '
                             '130/143 stopped by Ctrl-C / SIGTERM (run again to resume).'))
    _common(run)
    run.add_argument('--config-dir', default=DEFAULT_CONFIG_DIR, metavar='DIR',
                     help=f'the variant set: every *.py not starting with _ (default: '
                     f'{DEFAULT_CONFIG_DIR})')
    run.add_argument('--variants', metavar='A,B',
                     help='comma-separated variant names (from the config file names, e.g. '
                     'raw,base10_obj,softmax); default: all in --config-dir')
    run.add_argument('--gpus', type=int, default=4, metavar='N',
                     help='processes (GPUs) per training and evaluation (default: 4)')
    run.add_argument('--seeds', default='1', metavar='S1,S2',
                     help='seeds; every variant is trained once per seed and every run is '
                     'reported (default: 1)')
    run.add_argument('--out', default=DEFAULT_OUT, metavar='DIR',
                     help=f'where the table and plots go (default: {DEFAULT_OUT}/)')
    run.add_argument('--tolerance', type=float, default=0.5, metavar='AP',
                     help='allowed |mean - published| in AP points, for configs that a published '
                     'row names (configs/zoo; default: 0.5)')
    run.add_argument('--port', type=int, default=None,
                     help='torchrun master port (default: a free port for each launch)')
    run.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                     help='passed to every training and evaluation, e.g. '
                     'data.workers_per_gpu=4')
    batch = run.add_mutually_exclusive_group()
    batch.add_argument('--scale-lr', action='store_true',
                       help="passed to tools/train.py: train at another global batch than the "
                       "configs' recipe (--gpus x samples_per_gpu) with lr scaled linearly")
    batch.add_argument('--allow-batch-change', action='store_true',
                       help="passed to tools/train.py: another global batch at the configs' lr")
    run.add_argument('--no-tf32', action='store_true',
                     help='passed to training and evaluation: TF32 off on Ampere/Hopper GPUs')
    run.add_argument('--skip-failed', action='store_true',
                     help='do not retry runs that failed before (default: retry them, '
                     'resuming from their last checkpoint)')

    cluster = run.add_argument_group(
        'SLURM', '--executor slurm submits every (variant, seed) as its own sbatch job '
        '(docs/cluster.md#the-variant-queue-on-slurm); --gpus is the tasks per job')
    cluster.add_argument('--executor', choices=('local', 'slurm'), default='local',
                         help='local: train here, one run after another (default); slurm: '
                         'one sbatch job per run')
    cluster.add_argument('--partition', metavar='NAME', help='sbatch --partition')
    cluster.add_argument('--time', dest='time_limit', metavar='LIMIT',
                         help='sbatch --time per job, e.g. 1-0 (the job requeues itself 120 s '
                         'before it and resumes)')
    cluster.add_argument('--gpus-per-node', type=int, default=None, metavar='N',
                         help='tasks per node (default: min(--gpus, 8))')
    cluster.add_argument('--cpus-per-task', type=int, default=5, metavar='N',
                         help='sbatch --cpus-per-task (default: 5)')
    cluster.add_argument('--sbatch-args', default='', metavar='"ARGS"',
                         help='more sbatch options, one string after =, e.g. '
                         '--sbatch-args="--qos=high --account=x"')
    cluster.add_argument('--container-run', default=None, metavar='"PREFIX"',
                         help='command prefix each task runs through (default: $CONTAINER_RUN), '
                         'e.g. "ch-run -b /data:/data IMAGE --"')
    cluster.add_argument('--kit-dir', default=None, metavar='DIR',
                         help='the kit as the jobs see it (default: $IIF_KIT_DIR, else this '
                         'checkout; /workspace in the image)')
    cluster.add_argument('--wait', action='store_true',
                         help='poll until every job has ended, then write the table')
    cluster.add_argument('--poll', type=float, default=30.0, metavar='S',
                         help='seconds between polls with --wait (default: 30)')

    status = sub.add_parser('status', help='print the queue state with elapsed and estimated '
                            'remaining time')
    _common(status)

    report = sub.add_parser('report', help='write the results table and plots again from the '
                            'finished runs (no training)')
    _common(report)
    report.add_argument('--out', default=DEFAULT_OUT, metavar='DIR')
    report.add_argument('--tolerance', type=float, default=0.5, metavar='AP')

    weights = sub.add_parser('plot-weights', help='plot the IIF weight of every variant against '
                             'class frequency (bundled LVIS table; no training)')
    weights.add_argument('--out', default=f'{DEFAULT_OUT}/iif_weights.png', metavar='FILE.png')
    weights.add_argument('--dataset', default='lvis_v1', choices=['lvis_v1', 'lvis_v0.5'])


def _common(parser) -> None:
    parser.add_argument('--work-root', default=DEFAULT_WORK_ROOT, metavar='DIR',
                        help=f'run directories, state and lock (default: {DEFAULT_WORK_ROOT})')


def _config_dir(text: str) -> Path:
    """Relative to the working directory (where data/ is); the kit's own set as a fallback."""
    p = Path(text)
    if not p.is_dir() and not p.is_absolute() and text == DEFAULT_CONFIG_DIR:
        from iif.paths import KIT_ROOT
        if (KIT_ROOT / text).is_dir():
            return KIT_ROOT / text
    return p


def run(args) -> int:
    from iif.reproduce.errors import ReproduceError
    try:
        return _dispatch(args)
    except ReproduceError as e:
        print(f'iif reproduce {args.action}: error: {e}', file=sys.stderr)
        return 2


def _dispatch(args) -> int:
    if args.action == 'plot-weights':
        from iif.reproduce.plots import plot_weights
        print(f'wrote {plot_weights(args.out, dataset=args.dataset)}')
        return 0
    if args.action == 'status':
        from iif.reproduce.status import format_status
        print(format_status(Path(args.work_root)))
        return 0
    if args.action == 'report':
        from iif.reproduce.errors import ReproduceError
        from iif.reproduce.results import write_report
        from iif.reproduce.state import STATE_FILE, QueueState
        if not (Path(args.work_root) / STATE_FILE).is_file():
            raise ReproduceError(f'no reproduce queue in {args.work_root} ({STATE_FILE} not '
                                 'found)')
        paths = write_report(QueueState.load(Path(args.work_root)), args.out,
                             tolerance=args.tolerance)
        print('wrote ' + ', '.join(map(str, paths)))
        return 0

    from iif.reproduce import variants
    from iif.reproduce.queue import Queue, QueueOptions
    if args.tolerance < 0:
        from iif.reproduce.errors import ReproduceError
        raise ReproduceError(f'--tolerance must be >= 0, got {args.tolerance}')
    opts = QueueOptions(
        config_dir=_config_dir(args.config_dir), work_root=Path(args.work_root),
        out=Path(args.out), seeds=variants.parse_seeds(args.seeds), gpus=args.gpus,
        variants=variants.parse_list(args.variants, '--variants'), tolerance=args.tolerance,
        port=args.port, cfg_options=list(args.cfg_options), skip_failed=args.skip_failed,
        scale_lr=args.scale_lr, allow_batch_change=args.allow_batch_change,
        no_tf32=args.no_tf32,
        command=' '.join(shlex.quote(a) for a in ['iif'] + sys.argv[1:]))
    if args.executor == 'local':
        given = [flag for flag, value in (
            ('--partition', args.partition), ('--time', args.time_limit),
            ('--gpus-per-node', args.gpus_per_node), ('--sbatch-args', args.sbatch_args),
            ('--container-run', args.container_run), ('--kit-dir', args.kit_dir),
            ('--wait', args.wait)) if value]
        if given:
            from iif.reproduce.errors import ReproduceError
            raise ReproduceError(f'{", ".join(given)} only apply with --executor slurm; add '
                                 'it, or leave them out to train on this machine')
        return Queue(opts).run()
    if args.poll <= 0:
        from iif.reproduce.errors import ReproduceError
        raise ReproduceError(f'--poll must be > 0 seconds, got {args.poll}')
    import os

    from iif.reproduce.slurm import SlurmOptions, SlurmQueue, default_python
    container = args.container_run if args.container_run is not None \
        else os.environ.get('CONTAINER_RUN', '')
    slurm = SlurmOptions(
        partition=args.partition, gpus_per_node=args.gpus_per_node,
        cpus_per_task=args.cpus_per_task, time_limit=args.time_limit,
        sbatch_args=shlex.split(args.sbatch_args), container_run=shlex.split(container),
        kit_dir=args.kit_dir or os.environ.get('IIF_KIT_DIR') or None,
        python=default_python(), wait=args.wait, poll_s=args.poll)
    return SlurmQueue(opts, slurm).run()
