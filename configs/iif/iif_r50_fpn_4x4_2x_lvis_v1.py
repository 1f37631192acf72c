# IIF (raw) R50-FPN, 2x schedule (24 epochs, steps 16 and 22), LVIS v1.
_base_ = './iif_r50_fpn_4x4_1x_lvis_v1.py'
lr_config = dict(step=[16, 22])
runner = dict(type='EpochBasedRunner', max_epochs=24)
evaluation = dict(interval=24)
