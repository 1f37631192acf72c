# IIF (raw) Mask R-CNN ResNeXt-101 64x4d FPN, 1x, LVIS v1 (backbone from torchvision's
# ImageNet weights, whose layer names match mmdet's ResNeXt).
_base_ = './iif_r50_fpn_4x4_1x_lvis_v1.py'
model = dict(backbone=dict(
    type='ResNeXt', depth=101, groups=64, base_width=4,
    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnext101_64x4d')))
