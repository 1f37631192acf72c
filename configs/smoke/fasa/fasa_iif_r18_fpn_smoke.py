# Smoke FASA + IIF (raw; weights from the small dataset's training annotations), cosine
# classifier temperature 8, as configs/fasa/fasa_iif_r50_rfs_cos_norm_4x4_2x_lvis_v1.py.
_base_ = './fasa_r18_fpn_smoke.py'
model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=dict(type='NormedLinear', tempearture=8),
    loss_cls=dict(_delete_=True, type='IIFLoss', variant='raw',
                  weights='data/smoke/annotations/lvis_v1_train.json', num_classes=8))))
