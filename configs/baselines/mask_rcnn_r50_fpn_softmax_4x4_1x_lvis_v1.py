# Baseline: Mask R-CNN R50-FPN with plain softmax cross-entropy, 1x, LVIS v1.
# Classifier init as in the research baselines: fc_cls weights 0.001, bias -6.5.
_base_ = [
    '../_base_/models/mask_rcnn_r50_fpn.py', '../_base_/datasets/lvis_v1_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    init_cfg=dict(type='Constant', val=0.001, bias=-6.5, override=dict(name='fc_cls')))))
