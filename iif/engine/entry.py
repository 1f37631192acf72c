"""The logic behind tools/train.py and tools/test.py (kept here so the scripts stay thin)."""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import time
from pathlib import Path
from typing import List, Optional

from iif import __version__ as iif_version
from iif.clock import file_stamp
from iif.errors import UserError
from iif.fsutil import sha256_file
from iif.metrics import IOU_TYPES


def _common_args(parser: argparse.ArgumentParser) -> None:
    from mmcv import DictAction
    parser.add_argument('--work-dir', help='directory for logs, checkpoints and run records')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. data.samples_per_gpu=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='pytorch: started by torchrun (tools/dist_*.sh); slurm: one srun '
                        'task per process (tools/slurm_*.sh, docs/cluster.md)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)  # torch.distributed.launch compatibility
    parser.add_argument('--check-only', action='store_true',
                        help='run the checks before work starts, then exit (writes nothing)')
    parser.add_argument('--expect-processes', type=int, default=None, metavar='GPUS',
                        help='also check that this many processes can start (launch scripts)')
    parser.add_argument('--no-tf32', action='store_true',
                        help='full fp32 matmuls and convolutions on Ampere/Hopper GPUs (TF32 '
                        'off), as the research ran on V100; recorded in env.json')


def _apply_tf32(args) -> None:
    """torch 2.1 leaves TF32 convolutions on (matmuls off); --no-tf32 turns both off."""
    if args.no_tf32:
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def _slurm_env(args) -> None:
    """Under --launcher slurm, RANK/WORLD_SIZE/... from srun's variables before anything
    reads them; the run then proceeds as under torchrun."""
    if args.launcher == 'slurm':
        from .slurm import export_torch_env
        export_torch_env()


def _load_config(args):
    from mmcv import Config
    from .launch import resolve_device
    from .preflight import check_config, check_gpu_build, config_error
    # IIF_DEVICE=cpu hides the GPUs before anything can initialise CUDA
    check_gpu_build(resolve_device())
    check_config(args.config)
    try:
        cfg = Config.fromfile(args.config)
    except Exception as e:  # noqa: BLE001 - a config that does not load is the user's code
        raise config_error(args.config, e) from e
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    import iif.mmdet_plugins  # noqa: F401  registers the components even without custom_imports
    return cfg


def _default_work_dir(args, cfg) -> str:
    if args.work_dir:
        return args.work_dir
    if cfg.get('work_dir'):
        return cfg.work_dir
    return osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])


def build_model(cfg, config_path: str, test: bool = False):
    """build_detector, with the kit's input errors (weights, class counts) made UserErrors."""
    from mmdet.models import build_detector
    from iif.weights import WeightsError
    try:
        if test:
            return build_detector(cfg.model, test_cfg=cfg.get('test_cfg'))
        return build_detector(cfg.model, train_cfg=cfg.get('train_cfg'),
                              test_cfg=cfg.get('test_cfg'))
    except (WeightsError, FileNotFoundError) as e:
        raise UserError(f'cannot build the model of {config_path}: {e}') from e


def _report(fn, argv) -> int:
    try:
        return fn(argv) or 0
    except UserError as e:
        rank = int(os.environ.get('RANK', '0'))
        if rank == 0:
            print(f'error: {e}', file=sys.stderr, flush=True)
        return e.exit_code
    except RuntimeError as e:  # a dead node: say so on every rank instead of a traceback
        from .launch import lost_peer_error
        message = lost_peer_error(e)
        if message is None:
            raise
        print(f'error: {message}', file=sys.stderr, flush=True)
        sys.stdout.flush()
        # Leave without interpreter teardown: the process group's threads still wait on the
        # lost peer, and destroying them aborts the process (SIGABRT, "terminate called without
        # an active exception") or hangs instead of exiting 1.
        os._exit(1)


# ----------------------------------------------------------------------------------- train
def train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description='Train a detector with the IIF kit (mmdet 2.x).')
    p.add_argument('config', help='config file, e.g. configs/iif/iif_r50_fpn_4x4_1x_lvis_v1.py')
    p.add_argument('--resume-from', help='checkpoint to resume from (weights, optimizer, epoch)')
    p.add_argument('--auto-resume', action='store_true',
                   help='resume from the last epoch_N.pth in the work dir, if any')
    p.add_argument('--no-validate', action='store_true', help='skip evaluation during training')
    p.add_argument('--seed', type=int, default=None, help='random seed (default: random, logged)')
    p.add_argument('--deterministic', action='store_true',
                   help='deterministic cuDNN kernels (slower)')
    batch = p.add_mutually_exclusive_group()
    batch.add_argument('--scale-lr', action='store_true',
                       help="train at another global batch than the config's recipe "
                       '(recipe.global_batch) with lr scaled linearly: lr x global / recipe')
    batch.add_argument('--allow-batch-change', action='store_true',
                       help="train at another global batch than the config's recipe, keeping "
                       "the config's lr")
    p.add_argument('--amp', action='store_true',
                   help='mixed precision on GPUs (mmdet fp16, dynamic loss scale): faster, less '
                   'memory; a deviation from the research fp32 recipe (docs/cuda.md)')
    _common_args(p)
    return p


def _apply_amp(cfg) -> None:
    """--amp: the runner's Fp16OptimizerHook (autocast + dynamic loss scale) via cfg.fp16.
    GPUs only: fp16 convolutions do not run on CPU processes."""
    from .launch import resolve_device
    if resolve_device() != 'cuda':
        raise UserError('--amp needs GPUs (fp16 kernels); drop --amp on CPU processes')
    if cfg.get('fp16') is None:
        cfg.fp16 = dict(loss_scale='dynamic')


def _existing_checkpoints(work_dir: str) -> List[str]:
    from iif.checkpoints import list_checkpoints
    return [p.name for p in list_checkpoints(work_dir)]


def _train(argv: Optional[List[str]]) -> int:
    args = train_parser().parse_args(argv)
    _slurm_env(args)
    cfg = _load_config(args)
    if args.amp:
        _apply_amp(cfg)
    from .zoo import refuse_training
    refuse_training(cfg, args.config)
    from iif.checkpoints import find_latest_checkpoint
    from .launch import check_process_count
    from .preflight import check_checkpoint_file, check_data, check_start_checkpoints

    if args.expect_processes is not None:
        check_process_count(args.expect_processes)
    cfg.work_dir = _default_work_dir(args, cfg)
    if args.resume_from:
        check_checkpoint_file(args.resume_from, 'checkpoint to resume from')
        cfg.resume_from = args.resume_from
    cfg.auto_resume = args.auto_resume
    check_checkpoint_file(cfg.get('load_from'), 'load_from checkpoint')
    existing = _existing_checkpoints(cfg.work_dir)
    if existing and not (args.auto_resume or args.resume_from):
        raise UserError(f'work dir {cfg.work_dir} already holds checkpoints '
                        f'({", ".join(existing[-3:])}); '
                        'pass --auto-resume to continue that run, or --work-dir for a new one '
                        '(nothing was overwritten).')
    if args.auto_resume and not cfg.get('resume_from'):
        say = (lambda msg: print(f'warning: {msg}', file=sys.stderr, flush=True)) \
            if int(os.environ.get('RANK', '0')) == 0 else None
        cfg.resume_from = find_latest_checkpoint(cfg.work_dir, say=say)
    validate = not args.no_validate
    check_data([cfg.data.train] + ([cfg.data.val] if validate else []))
    # config errors (weights, class counts) and checkpoints that do not fit surface before
    # anything is written; the model used for training is built again once the RNGs are seeded
    resume_meta = check_start_checkpoints(build_model(cfg, args.config), cfg)
    batch_plan = _plan_batch(args, cfg)
    if args.check_only:
        print(f'checks passed: {args.config} can train into {cfg.work_dir}')
        return 0

    import mmcv
    import torch
    from mmdet import __version__ as mmdet_version
    from mmdet.apis import set_random_seed
    from mmdet.datasets import build_dataset
    from mmdet.utils import get_root_logger, setup_multi_processes
    import numpy as np

    from iif.hostmem import fix_mmap_threshold

    from .launch import broadcast_int, init_distributed
    from .records import collect_env, write_run_records
    from .training import train_model

    setup_multi_processes(cfg)  # mp_start_method, opencv_num_threads of the config
    fix_mmap_threshold()  # before the DataLoader workers fork: see iif/hostmem.py
    info = init_distributed(args.launcher)
    _apply_tf32(args)
    resuming_from = cfg.get('resume_from')
    mmcv.mkdir_or_exist(osp.abspath(cfg.work_dir))
    from .shared_fs import check_shared_work_dir
    check_shared_work_dir(cfg.work_dir, info)
    timestamp = file_stamp()
    logger = get_root_logger(log_file=osp.join(cfg.work_dir, f'{timestamp}.log'),
                             log_level=cfg.get('log_level', 'INFO'))

    # a resumed run keeps the seed (and deterministic) its checkpoint was trained with,
    # unless --seed says otherwise
    seed = args.seed if args.seed is not None else resume_meta.get('seed', cfg.get('seed'))
    if seed is None:
        seed = broadcast_int(int(np.random.randint(2 ** 31)), info)
    deterministic = bool(args.deterministic or resume_meta.get('deterministic', False))
    if resume_meta.get('seed') is not None and seed != resume_meta['seed']:
        logger.warning(f'--seed {seed} differs from the seed of {resuming_from} '
                       f'({resume_meta["seed"]}): the resumed run will not match an '
                       'uninterrupted one')
    set_random_seed(seed, deterministic=deterministic)
    cfg.seed = seed
    cfg.deterministic = deterministic
    cfg.device = info.device
    # one entry per process: mmcv's resume rescales the iteration counter by
    # len(gpu_ids) / world size of the checkpoint's config (with [0], a 2-process run resumed
    # at half its iteration, shifting iteration-based warmup and logging)
    cfg.gpu_ids = list(range(info.world_size))
    from .batch import apply_plan
    apply_plan(cfg, batch_plan)
    if info.device == 'cpu':
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // info.world_size))

    env = collect_env()
    if info.is_main:
        write_run_records(Path(cfg.work_dir), cfg, kind='train', seed=seed,
                          world_size=info.world_size, device=info.device,
                          extra=dict(timestamp=timestamp, resumed_from=resuming_from,
                                     log=f'{timestamp}.log', batch=batch_plan.record()))
    logger.info('environment:\n' + '\n'.join(f'  {k}: {v}' for k, v in env.items()))
    logger.info(f'processes: {info.world_size} on {info.device}; seed {seed}'
                + (' (from the checkpoint)' if args.seed is None and resume_meta.get('seed')
                   is not None else '') + f'; deterministic {deterministic}')
    logger.info(f'batch: {batch_plan.describe()}')
    logger.info(f'config:\n{cfg.pretty_text}')

    # Built again now that the RNGs are seeded: parameters that init_weights leaves alone
    # (e.g. fc_reg and shared_fcs under the IIF configs' fc_cls init_cfg) keep their
    # construction-time values, which must come from the seed for a run to be reproducible.
    model = build_model(cfg, args.config)
    model.init_weights()
    datasets = [build_dataset(cfg.data.train)]
    if len(cfg.workflow) == 2:
        val = cfg.data.val.copy()
        val.pipeline = cfg.data.train.get('pipeline',
                                          cfg.data.train.get('dataset', {}).get('pipeline'))
        datasets.append(build_dataset(val))
    model.CLASSES = datasets[0].CLASSES
    config_text = cfg.pretty_text
    cfg.checkpoint_config.meta = dict(mmdet_version=mmdet_version, iif_version=iif_version,
                                      CLASSES=datasets[0].CLASSES, seed=seed,
                                      deterministic=deterministic)
    meta = dict(env_info='\n'.join(f'{k}: {v}' for k, v in env.items()), config=config_text,
                seed=seed, deterministic=deterministic, exp_name=osp.basename(args.config))
    train_model(model, datasets, cfg, info, validate=validate, timestamp=timestamp, meta=meta,
                logger=logger)
    if info.is_main:
        from iif.clock import now
        from iif.fsutil import write_json_atomic
        run_file = Path(cfg.work_dir) / 'run.json'
        run = json.loads(run_file.read_text())
        run['finished'] = now()
        run['last_checkpoint'] = find_latest_checkpoint(cfg.work_dir)
        write_json_atomic(run_file, run)
        logger.info(f'finished; checkpoints and records in {cfg.work_dir}')
    return 0


def _plan_batch(args, cfg):
    """The run's global batch against the config's recipe (refused unless a flag says how)."""
    from .batch import plan_batch, train_processes
    return plan_batch(cfg, train_processes(args.launcher, args.expect_processes),
                      scale_lr=args.scale_lr, allow_change=args.allow_batch_change,
                      config_name=args.config)


def train_main(argv: Optional[List[str]] = None) -> int:
    return _report(_train, argv)


# ------------------------------------------------------------------------------------ test
def test_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description='Evaluate a checkpoint on LVIS (bbox and segm).')
    p.add_argument('config', help='the config the checkpoint was trained with')
    p.add_argument('checkpoint', help='checkpoint file (.pth)')
    p.add_argument('--eval', nargs='+', choices=IOU_TYPES, default=list(IOU_TYPES),
                   help='what to evaluate (default: bbox segm)')
    p.add_argument('--eval-backend', choices=['fast', 'lvis'], default=None,
                   help="fast: the kit's evaluator (default); lvis: the reference lvis-api")
    p.add_argument('--out', metavar='PREFIX',
                   help='also write the detections as PREFIX.bbox.json / PREFIX.segm.json')
    p.add_argument('--weights-only', action='store_true',
                   help='refuse a checkpoint that torch.load(weights_only=True) cannot read '
                        '(default: load it in full, which runs its pickled code, with a note)')
    _common_args(p)
    return p


def _merge_shards(shards: List[Path], out: Path) -> None:
    from iif.weights import load_json
    from .inference import _dump_json
    merged = []
    for shard in shards:
        merged += load_json(shard)
    out.parent.mkdir(parents=True, exist_ok=True)
    _dump_json(merged, out)


def _new_run_dir(parent: Path, prefix: str) -> Path:
    """``parent/prefix_<time>``, created here; a run started in the same second gets
    ``_2``, ``_3``, ... (mkdir is atomic, so two runs never share a directory)."""
    stem = f'{prefix}_{file_stamp()}'
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = parent / (stem if n == 1 else f'{stem}_{n}')
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise UserError(f'{parent} already holds 9999 run directories named {stem}_*')


def _test(argv: Optional[List[str]]) -> int:
    args = test_parser().parse_args(argv)
    _slurm_env(args)
    cfg = _load_config(args)
    from .launch import check_process_count
    from .preflight import check_checkpoint_file, check_data

    if args.expect_processes is not None:
        check_process_count(args.expect_processes)
    check_checkpoint_file(args.checkpoint)
    check_data([cfg.data.test])
    work_dir = _default_work_dir(args, cfg)
    from . import zoo as zoo_mod
    is_main = int(os.environ.get('RANK', '0')) == 0
    say = print if is_main else (lambda _: None)
    weights_only = 'always' if args.weights_only else 'auto'
    # a zoo config (configs/zoo/): checksum of the released checkpoint, published numbers
    zoo = zoo_mod.prepare(cfg, args.config, args.checkpoint, is_main, args.check_only, say)

    import torch
    import torch.distributed as dist
    from mmdet.datasets import build_dataset

    from .checkpoint import load_model_weights, read_checkpoint
    from .inference import run_sharded_evaluation
    from .launch import init_distributed, torch_device
    from .records import write_metrics, write_run_records

    if args.check_only:
        read_checkpoint(args.checkpoint, weights_only=weights_only, say=say)
        print(f'checks passed: {args.checkpoint} can be tested with {args.config}')
        return 0
    from mmdet.utils import setup_multi_processes
    from iif.hostmem import fix_mmap_threshold
    setup_multi_processes(cfg)  # mp_start_method, opencv_num_threads of the config
    fix_mmap_threshold()  # before the DataLoader workers fork: see iif/hostmem.py
    info = init_distributed(args.launcher)
    _apply_tf32(args)
    cfg.model.pretrained = None
    cfg.model.train_cfg = None
    if 'init_cfg' in cfg.model.get('backbone', {}):
        cfg.model.backbone.init_cfg = None  # the checkpoint has the weights: no download
    dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    if args.eval_backend:
        dataset.eval_backend = args.eval_backend
    model = build_model(cfg, args.config, test=True)
    ckpt = load_model_weights(model, args.checkpoint, weights_only=weights_only, say=say,
                              ignore_keys=zoo.ignore_keys if zoo else (),
                              strict_extra=zoo is not None)
    if zoo:
        say(f'checkpoint meta: {zoo_mod.describe_checkpoint(ckpt)}')
    model.CLASSES = dataset.CLASSES
    model = model.to(torch_device(info))
    if info.device == 'cpu':
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // info.world_size))

    name = [_new_run_dir(Path(work_dir), 'test').name if info.is_main else None]
    if info.distributed:
        dist.broadcast_object_list(name, src=0)  # one run directory for all ranks
    run_dir = Path(work_dir) / name[0]
    from .shared_fs import check_shared_work_dir
    check_shared_work_dir(run_dir, info)
    if info.is_main:
        write_run_records(run_dir, cfg, kind='test', seed=None, world_size=info.world_size,
                          device=info.device,
                          extra=dict(checkpoint=osp.abspath(args.checkpoint),
                                     checkpoint_sha256=sha256_file(args.checkpoint),
                                     checkpoint_epoch=ckpt.get('meta', {}).get('epoch'),
                                     published_model=zoo.model.model if zoo else None,
                                     eval=args.eval,
                                     eval_backend=dataset.eval_backend))
    workers = cfg.data.get('test_dataloader', {}).get('workers_per_gpu',
                                                      cfg.data.get('workers_per_gpu', 2))
    started = time.time()
    metrics = run_sharded_evaluation(model, dataset, info, run_dir / 'results',
                                     metrics=args.eval, workers=workers)
    if info.is_main:
        write_metrics(run_dir, metrics, extra=dict(
            checkpoint=osp.abspath(args.checkpoint), eval_backend=dataset.eval_backend,
            processes=info.world_size, seconds=round(time.time() - started, 1)))
        if args.out:
            for iou in args.eval:
                shards = sorted((run_dir / 'results').glob(f'{iou}.rank*.json'))
                _merge_shards(shards, Path(f'{args.out}.{iou}.json'))
        if zoo:
            from iif.reproduce.results import DEFAULT_TOLERANCE
            zoo_mod.compare(zoo, metrics, run_dir, DEFAULT_TOLERANCE, say)
        print(f'metrics written to {run_dir / "metrics.json"}', flush=True)
    return 0


def test_main(argv: Optional[List[str]] = None) -> int:
    return _report(_test, argv)
