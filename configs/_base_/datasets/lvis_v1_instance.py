# LVIS v1 instance segmentation, read from data/lvis_v1/ under the working directory
# (in the containers: the LVIS_ROOT of .env, mounted read-only there):
#   annotations/lvis_v1_train.json, annotations/lvis_v1_val.json, train2017/, val2017/
dataset_type = 'IIFLVISV1Dataset'
data_root = 'data/lvis_v1/'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    # multi-scale training: shorter side 640..800 in steps of 32, longer side <= 1333
    dict(type='Resize', img_scale=[(1333, s) for s in range(640, 801, 32)],
         multiscale_mode='value', keep_ratio=True),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size_divisor=32),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=(1333, 800), flip=False,
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
    samples_per_gpu=4,  # 4 GPUs x 4 images, as in the research
    workers_per_gpu=2,
    # Repeat-factor sampling (RFS) wrapper; oversample_thr=0.0 repeats nothing, the RFS
    # configs set 1e-3.
    train=dict(type='ClassBalancedDataset', oversample_thr=0.0,
               dataset=dict(type=dataset_type,
                            ann_file=data_root + 'annotations/lvis_v1_train.json',
                            img_prefix=data_root, pipeline=train_pipeline)),
    val=dict(type=dataset_type, ann_file=data_root + 'annotations/lvis_v1_val.json',
             img_prefix=data_root, pipeline=test_pipeline),
    test=dict(type=dataset_type, ann_file=data_root + 'annotations/lvis_v1_val.json',
              img_prefix=data_root, pipeline=test_pipeline))
