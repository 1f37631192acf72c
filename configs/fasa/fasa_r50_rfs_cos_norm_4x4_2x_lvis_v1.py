# FASA baseline (Zang et al., ICCV 2021) on Mask R-CNN R50-FPN, LVIS v1, 2x: softmax
# cross-entropy, repeat-factor sampling (1e-3), cosine classifier (NormedLinear, temperature
# 20, as the research's softmax FASA configs) and a normalised mask predictor (NormedConv2d,
# temperature 20). Research: configs/fasa/fasa_r50_rfs_cos_norm_4x4_2x.py.
#
# FASA follows the research code by default (fasa_cfg grouping / unconverged / adapt_signal /
# virtual_rng; the kit's earlier rules are named options, docs/fasa.md). The bbox head is
# initialised as in the research runs (../_base_/models/bbox_head_init_research.py).
#
# FASA's epoch logic needs the validation phase of the workflow: after every training epoch
# the model computes its training losses on LVIS v1 val (train pipeline, no gradients), and
# FASAHook adapts the per-class sampling probabilities from them.
_base_ = [
    '../_base_/models/mask_rcnn_r50_fpn.py', '../_base_/datasets/lvis_v1_instance.py',
    '../_base_/schedules/schedule_2x.py', '../_base_/default_runtime.py',
    '../_base_/models/bbox_head_init_research.py'
]
model = dict(roi_head=dict(
    bbox_head=dict(
        type='FASAShared2FCBBoxHead',
        instance_counts='lvis_v1',  # per-class instance counts for the initial p_c
        fasa_cfg=dict(decay_ratio=0.1, loss_aug_weight=0.1, instance_prob_scale=1.0,
                      instance_prob_power=1.0, dynamic_up=1.1, dynamic_down=0.9,
                      aug_start_epoch=1, grouping='research', unconverged='no_groups',
                      adapt_signal='research', virtual_rng='per_rank'),
        init_cfg={{_base_.bbox_head_init_research}},
        cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))
data = dict(train=dict(oversample_thr=1e-3))
workflow = [('train', 1), ('val', 1)]
custom_hooks = [dict(type='NumClassCheckHook'), dict(type='EpochSeedHook'),
                dict(type='FASAHook')]
