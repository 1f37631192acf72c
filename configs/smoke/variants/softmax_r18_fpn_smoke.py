# Smoke variant set: the softmax cross-entropy baseline (reference row of the table).
_base_ = './_smoke_variant.py'
model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))))
