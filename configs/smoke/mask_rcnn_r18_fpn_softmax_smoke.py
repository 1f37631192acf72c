# Smoke baseline: softmax cross-entropy on the built-in small dataset.
_base_ = './_base_smoke.py'
model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))))
