# 2x: 24 epochs, lr steps after epochs 16 and 22 (otherwise as schedule_1x).
_base_ = './schedule_1x.py'
lr_config = dict(step=[16, 22])
runner = dict(type='EpochBasedRunner', max_epochs=24)
evaluation = dict(interval=24)
