# FASA + IIF (raw, ln(N / n_c)) on Mask R-CNN R50-FPN, LVIS v1, 2x: RFS 1e-3, cosine
# classifier (NormedLinear, temperature 8) and normalised mask predictor (temperature 20).
# IIFLoss scales the logits of the real and of FASA's virtual features alike.
# Research: configs/fasa/fasa_iif_r50_rfs_cos_norm_4x4_2x.py (test NMS 0.5).
_base_ = './fasa_r50_rfs_cos_norm_4x4_2x_lvis_v1.py'
model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=dict(type='NormedLinear', tempearture=8),
    loss_cls=dict(_delete_=True, type='IIFLoss', variant='raw', weights='lvis_v1',
                  num_classes=1203))))
