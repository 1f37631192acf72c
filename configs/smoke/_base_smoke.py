# The built-in small dataset (iif smoke-data / make demo) with a light Mask R-CNN (ResNet-18,
# narrow FPN and heads, no pretrained weights) so a CPU trains it in minutes. Same pipeline
# shape, losses, evaluation and run records as the LVIS configs.
_base_ = ['../_base_/models/mask_rcnn_r50_fpn.py', '../_base_/default_runtime.py']
classes = ('red_disc', 'green_square', 'blue_triangle', 'yellow_disc', 'magenta_square',
           'cyan_triangle', 'white_disc', 'orange_square')  # category-id order of the JSON
num_classes = 8
model = dict(
    backbone=dict(depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(num_convs=2, in_channels=64, conv_out_channels=64,
                       num_classes=num_classes)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                   rcnn=dict(sampler=dict(num=128))),
    # 100 detections per image instead of LVIS's 300: pasting masks dominates CPU inference.
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300), rcnn=dict(max_per_img=100)))

dataset_type = 'IIFLVISV1Dataset'
data_root = 'data/smoke/'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', img_scale=[(320, 224), (320, 256)], multiscale_mode='value',
         keep_ratio=True),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size_divisor=32),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=(320, 256), flip=False,
         transforms=[
             dict(type='Resize', keep_ratio=True),
             dict(type='RandomFlip'),
             dict(type='Normalize', **img_norm_cfg),
             dict(type='Pad', size_divisor=32),
             dict(type='ImageToTensor', keys=['img']),
             dict(type='Collect', keys=['img']),
         ]),
]
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=1,
    train=dict(type='ClassBalancedDataset', oversample_thr=0.0,
               dataset=dict(type=dataset_type, classes=classes, pipeline=train_pipeline,
                            ann_file=data_root + 'annotations/lvis_v1_train.json',
                            img_prefix=data_root)),
    val=dict(type=dataset_type, classes=classes, pipeline=test_pipeline,
             ann_file=data_root + 'annotations/lvis_v1_val.json', img_prefix=data_root),
    test=dict(type=dataset_type, classes=classes, pipeline=test_pipeline,
              ann_file=data_root + 'annotations/lvis_v1_val.json', img_prefix=data_root))

optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
# Built for 2 CPU processes x 2 images; `make demo` trains 1 process. These are code-path
# checks, not a recipe: another batch is recorded in run.json ("batch"), not refused
# (recipe.enforce=True makes it refuse as the LVIS configs do).
recipe = dict(global_batch=4, enforce=False)
optimizer_config = dict(grad_clip=dict(max_norm=35, norm_type=2))
lr_config = dict(policy='step', warmup='linear', warmup_iters=20, warmup_ratio=0.01, step=[5])
runner = dict(type='EpochBasedRunner', max_epochs=6)
evaluation = dict(interval=6, metric=['bbox', 'segm'])
log_config = dict(interval=4)
