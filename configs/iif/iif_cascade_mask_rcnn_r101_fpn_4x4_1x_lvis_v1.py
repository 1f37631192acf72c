# IIF (raw) Cascade Mask R-CNN R101-FPN, 1x, LVIS v1: IIFLoss in each of the three box stages
# (fc_cls init 0.001, bias 0, as the research). At test time mmdet averages the three stages'
# logits and the last stage's IIFLoss turns them into scores, softmax(w * z); between stages
# the box labels come from the IIF-scaled scores, as in the research's mmdet 2.16 fork
# (regression is class-agnostic, so the refined boxes do not depend on them).
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/iif/iif_cascade_r50_4x4_1x.py
# over configs/lvis/cascade_rcnn_r50_fpn_sample1e-3_mstrain_1x_lvis_v1.py, which, despite the
# "r50" in both names, sets depth=101 and torchvision://resnet101: the research cascade model is
# an R101, so this file is named r101. Mixed precision (fp16, static loss scale 512) as the
# research base model; no RFS.
_base_ = [
    '../_base_/models/cascade_mask_rcnn_r50_fpn.py', '../_base_/datasets/lvis_v1_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py',
    '../_base_/models/cascade_bbox_heads_lvis.py'
]
model = dict(
    backbone=dict(depth=101,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    roi_head=dict(bbox_head={{_base_.cascade_bbox_heads_iif}}))
fp16 = dict(loss_scale=512.)
