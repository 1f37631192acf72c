# Baseline: Mask R-CNN R50-FPN with sigmoid (binary) cross-entropy, 1x, LVIS v1.
# Bias -6.5 starts every class near probability 0.0015, as in the research.
_base_ = './mask_rcnn_r50_fpn_softmax_4x4_1x_lvis_v1.py'
model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))))
