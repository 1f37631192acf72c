# Shared by the smoke variant set (tests and demos of `iif reproduce`): the smoke model and data
# with a 2-epoch schedule at the images' native 160x128 size, so a queue of several variants x
# seeds trains on a CPU in minutes. Not meant to give meaningful AP, only the full code path.
_base_ = '../_base_smoke.py'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', img_scale=(160, 128), keep_ratio=True),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size_divisor=32),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=(160, 128), flip=False,
         transforms=[
             dict(type='Resize', keep_ratio=True),
             dict(type='RandomFlip'),
             dict(type='Normalize', **img_norm_cfg),
             dict(type='Pad', size_divisor=32),
             dict(type='ImageToTensor', keys=['img']),
             dict(type='Collect', keys=['img']),
         ]),
]
data = dict(train=dict(dataset=dict(pipeline=train_pipeline)),
            val=dict(pipeline=test_pipeline), test=dict(pipeline=test_pipeline))
lr_config = dict(warmup_iters=8, step=[1])
runner = dict(type='EpochBasedRunner', max_epochs=2)
evaluation = dict(interval=2)
log_config = dict(interval=2)
# Fewer proposals and detections than the smoke base: CPU time goes to RoI heads and mask pasting.
model = dict(
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=150),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=150), rcnn=dict(max_per_img=50)))
