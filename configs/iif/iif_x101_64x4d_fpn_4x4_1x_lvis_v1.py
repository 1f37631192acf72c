# IIF (raw) Mask R-CNN ResNeXt-101 64x4d FPN, 1x, LVIS v1.
# Research: kostas1515/iif@747b041 instance_segmentation/configs/activations/iif/iif_x101_4x4_1x.py
# (over configs/lvis/mask_rcnn_x101_64x4d_fpn_sample1e-3_mstrain_1x_lvis_v1.py).
#
# Backbone weights: the research used open-mmlab://resnext101_64x4d (open-mmlab's ImageNet
# ResNeXt-101 64x4d, resnext101_64x4d-ee2c6f71.pth), whose host download.openmmlab.com is down.
# Get that file and pass
#   --cfg-options model.backbone.init_cfg.checkpoint=/path/to/resnext101_64x4d-ee2c6f71.pth
# Without it the checks before training stop with an error naming this option.
# Deviation (named, not the research's weights): torchvision's ImageNet ResNeXt-101 64x4d,
# trained with torchvision's newer recipe (ImageNet-1K top-1 83.246 in its metadata):
#   --cfg-options model.backbone.init_cfg.checkpoint=torchvision://resnext101_64x4d.imagenet1k_v1
# tools/test.py needs neither (the trained checkpoint holds every weight).
_base_ = ['./iif_r50_fpn_4x4_1x_lvis_v1.py',
          '../_base_/models/resnext101_64x4d_backbone_research.py']
model = dict(backbone={{_base_.resnext101_64x4d_backbone}})
