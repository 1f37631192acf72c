# Runtime shared by every config: the kit's components, checkpoints, logs.
custom_imports = dict(imports=['iif.mmdet_plugins'], allow_failed_imports=False)
# create_symlink=False: no latest.pth link (some mounts refuse symlinks); --auto-resume
# finds the highest epoch_N.pth instead.
checkpoint_config = dict(interval=1, create_symlink=False)
log_config = dict(interval=50, hooks=[dict(type='TextLoggerHook'),
                                      dict(type='TensorboardLoggerHook')])
# EpochSeedHook: a resumed run trains exactly like an uninterrupted one (same seed)
custom_hooks = [dict(type='NumClassCheckHook'), dict(type='EpochSeedHook')]
log_level = 'INFO'
load_from = None
resume_from = None
workflow = [('train', 1)]
# Applied by train and test (mmdet's setup_multi_processes) before the process group starts:
opencv_num_threads = 0  # DataLoader workers already use every core
mp_start_method = 'fork'
