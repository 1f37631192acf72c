# IIF (raw) R50-FPN with a cosine classifier (IIFNormedLinear, temperature 20), 1x, LVIS v1.
# Research: configs/activations/iif/iif_r50_cos_4x4_1x.py (NormedLinear T=20 + IIFLoss raw;
# IIFNormedLinear with the positive raw weights computes the same logits).
# The bbox head is initialised as in the research run (its config sets no init_cfg): shared
# FCs and fc_reg Xavier-normal, cosine fc_cls N(0, 0.01), biases 0
# (../_base_/models/bbox_head_init_research.py), not the plain IIF config's fc_cls constant.
_base_ = ['./iif_r50_fpn_4x4_1x_lvis_v1.py', '../_base_/models/bbox_head_init_research.py']
model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=dict(type='IIFNormedLinear', tempearture=20, variant='raw',
                           weights='lvis_v1'),
    init_cfg={{_base_.bbox_head_init_research}})))
