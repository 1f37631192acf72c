# 1x: 12 epochs, lr steps after epochs 8 and 11; SGD lr 0.02 for 16 images per step
# (4 GPUs x 4 images), linear warm-up over 500 iterations.
optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
optimizer_config = dict(grad_clip=None)
lr_config = dict(policy='step', warmup='linear', warmup_iters=500, warmup_ratio=0.001,
                 step=[8, 11])
runner = dict(type='EpochBasedRunner', max_epochs=12)
# The global batch that lr is meant for: tools/train.py and `iif reproduce run` refuse another
# (processes x data.samples_per_gpu) unless --scale-lr (lr x global / 16) or
# --allow-batch-change is passed; run.json records the batch and lr a run used.
recipe = dict(global_batch=16)
# LVIS evaluation is long: evaluate once, after the last epoch.
evaluation = dict(interval=12, metric=['bbox', 'segm'])
