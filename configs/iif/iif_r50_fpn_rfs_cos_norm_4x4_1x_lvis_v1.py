# IIF (raw) Mask R-CNN R50-FPN, 1x, LVIS v1, with every enhancement but FASA: repeat-factor
# sampling (1e-3), cosine classifier (NormedLinear, temperature 8) and normalised mask
# predictor (NormedConv2d, temperature 20).
# Research: kostas1515/iif@747b041
#   instance_segmentation/configs/activations/iif/iif_r50_rfs_cos_norm_4x4_1x.py
# Head init: as the kit's cosine config (configs/iif/iif_r50_fpn_cos_4x4_1x_lvis_v1.py); the
# research cosine configs set no init_cfg of their own.
# Softmax twin: configs/baselines/mask_rcnn_r50_fpn_rfs_cos_norm_softmax_4x4_1x_lvis_v1.py.
_base_ = './iif_r50_fpn_cos_4x4_1x_lvis_v1.py'
model = dict(roi_head=dict(
    bbox_head=dict(cls_predictor_cfg=dict(_delete_=True, type='NormedLinear', tempearture=8)),
    mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))
data = dict(train=dict(oversample_thr=1e-3))
