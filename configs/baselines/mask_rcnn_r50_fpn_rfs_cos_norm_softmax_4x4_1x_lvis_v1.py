# Baseline for configs/iif/iif_r50_fpn_rfs_cos_norm_4x4_1x_lvis_v1.py: the same model (RFS
# 1e-3, normalised mask predictor, same head init) with softmax cross-entropy and a cosine
# classifier at temperature 20, as the research's softmax cosine configs.
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/r50_rfs_cos_norm_4x4_1x_softmax.py
_base_ = '../iif/iif_r50_fpn_rfs_cos_norm_4x4_1x_lvis_v1.py'
model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
    loss_cls=dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=False,
                  loss_weight=1.0))))
