# IIF (raw) R50-FPN with RFS (1e-3), 2x, on LVIS v0.5 (1230 classes, weights from the bundled
# v0.5 table, N = 57263 training images).
_base_ = [
    '../_base_/models/mask_rcnn_r50_fpn.py', '../_base_/datasets/lvis_v0.5_instance.py',
    '../_base_/schedules/schedule_2x.py', '../_base_/default_runtime.py'
]
model = dict(roi_head=dict(
    bbox_head=dict(num_classes=1230,
                   loss_cls=dict(type='IIFLoss', variant='raw', weights='lvis_v0.5',
                                 num_classes=1230),
                   init_cfg=dict(type='Constant', val=0.001, bias=0.0,
                                 override=dict(name='fc_cls'))),
    mask_head=dict(num_classes=1230)))
data = dict(train=dict(oversample_thr=1e-3))
