# IIF (raw variant, ln(N / n_c)) on Mask R-CNN R50-FPN, 1x, LVIS v1.
# No published number belongs to this config: the research README's IIF_r50 row (mask AP 26.3)
# names no 1x config in any version (MODEL_ZOO.md, iif/data/published_results.csv). Compare a
# run with the softmax baseline of the same schedule and seeds (the reproduce table does).
# IIF classifier init as in the research: fc_cls weights 0.001, bias 0.
_base_ = [
    '../_base_/models/mask_rcnn_r50_fpn.py', '../_base_/datasets/lvis_v1_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(type='IIFLoss', variant='raw', weights='lvis_v1', num_classes=1203),
    init_cfg=dict(type='Constant', val=0.001, bias=0.0, override=dict(name='fc_cls')))))
