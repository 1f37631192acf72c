# IIF (raw) Mask R-CNN R101-FPN, 1x, LVIS v1 (backbone from torchvision's ImageNet weights).
_base_ = './iif_r50_fpn_4x4_1x_lvis_v1.py'
model = dict(backbone=dict(depth=101,
                           init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
