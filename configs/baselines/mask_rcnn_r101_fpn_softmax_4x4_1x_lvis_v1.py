# Baseline: Mask R-CNN R101-FPN with softmax cross-entropy (fc_cls init 0.001, bias -6.5), 1x,
# LVIS v1, no RFS; the softmax twin of configs/iif/iif_r101_fpn_4x4_1x_lvis_v1.py.
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/r101_4x4_1x_softmax.py
_base_ = './mask_rcnn_r50_fpn_softmax_4x4_1x_lvis_v1.py'
model = dict(backbone=dict(depth=101,
                           init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
