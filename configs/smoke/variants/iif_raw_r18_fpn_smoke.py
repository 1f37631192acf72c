# Smoke variant set: IIF 'raw', weights counted from the smoke training annotations.
_base_ = './_smoke_variant.py'
model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(type='IIFLoss', variant='raw',
                  weights='data/smoke/annotations/lvis_v1_train.json', num_classes=8),
    init_cfg=dict(type='Constant', val=0.001, bias=0.0, override=dict(name='fc_cls')))))
