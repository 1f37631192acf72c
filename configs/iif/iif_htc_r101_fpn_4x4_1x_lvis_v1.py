# IIF (raw) Hybrid Task Cascade R101-FPN (without the semantic branch), 1x, LVIS v1: IIFLoss
# in each of the three box stages (fc_cls init 0.001, bias 0), scores as in the cascade
# config (stage logits averaged, softmax(w * z)).
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/iif/iif_htc_r101_4x4_1x.py
# over configs/lvis/htc_r101_fpn_sample1e-3_mstrain_1x_lvis_v1.py and
# configs/htc/htc_without_semantic_r50_fpn_1x_lvis_v1.py. No semantic segmentation: the
# research HTC needs nothing beyond LVIS (no COCO-stuff maps). Mixed precision (fp16, loss
# scale 512) and find_unused_parameters as the research; no RFS. Between stages HTC (the
# research's mmdet 2.16 fork and mmdet 2.28 alike) picks box labels from the raw logits; the
# regression is class-agnostic, so the refined boxes do not depend on them.
_base_ = [
    '../_base_/models/htc_without_semantic_r50_fpn.py', '../_base_/datasets/lvis_v1_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py',
    '../_base_/models/cascade_bbox_heads_lvis.py'
]
model = dict(
    backbone=dict(depth=101,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    roi_head=dict(bbox_head={{_base_.cascade_bbox_heads_iif}}))
fp16 = dict(loss_scale=512.)
