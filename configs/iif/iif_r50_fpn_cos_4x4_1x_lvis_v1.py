# IIF (raw) R50-FPN with a cosine classifier (IIFNormedLinear, temperature 20), 1x, LVIS v1.
_base_ = './iif_r50_fpn_4x4_1x_lvis_v1.py'
model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=dict(type='IIFNormedLinear', tempearture=20, variant='raw',
                           weights='lvis_v1'))))
