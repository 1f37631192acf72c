# Baseline: Mask R-CNN ResNeXt-101 64x4d FPN with softmax cross-entropy (fc_cls init 0.001,
# bias -6.5), 1x, LVIS v1, no RFS.
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/x101_4x4_1x_softmax.py
# As that file (and unlike the IIF x101 run, configs/iif/iif_x101_64x4d_fpn_4x4_1x_lvis_v1.py):
# 1 image per GPU (so 4 GPUs give a global batch of 4 at lr 0.02: recipe.global_batch=4),
# 1000 warm-up iterations and mixed precision (fp16, loss scale 512). For the IIF x101's recipe:
#   --cfg-options data.samples_per_gpu=4 recipe.global_batch=16 lr_config.warmup_iters=500
# Backbone weights: as the IIF x101 config (a local copy of the research's open-mmlab
# ResNeXt-101 64x4d, or the named torchvision deviation); see its header.
_base_ = ['./mask_rcnn_r50_fpn_softmax_4x4_1x_lvis_v1.py',
          '../_base_/models/resnext101_64x4d_backbone_research.py']
model = dict(backbone={{_base_.resnext101_64x4d_backbone}})
data = dict(samples_per_gpu=1)
recipe = dict(global_batch=4)
lr_config = dict(warmup_iters=1000)
fp16 = dict(loss_scale=512.)
