# Smoke FASA baseline: the FASA LVIS configs' head (softmax, cosine classifier temperature 20,
# normalised mask predictor) on the built-in small dataset, 2 epochs with the validation
# phase, so virtual features (epoch 2) and the adaptive sampling update both run.
# FASA rules and bbox head init as the LVIS configs (the research's).
# oversample_thr stays 0.0 here (repeat-factor sampling would only lengthen the epochs).
_base_ = ['../_base_smoke.py', '../../_base_/models/bbox_head_init_research.py']
model = dict(roi_head=dict(
    bbox_head=dict(
        type='FASAShared2FCBBoxHead',
        instance_counts='data/smoke/annotations/lvis_v1_train.json',
        cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
        init_cfg={{_base_.bbox_head_init_research}},
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))
workflow = [('train', 1), ('val', 1)]
custom_hooks = [dict(type='NumClassCheckHook'), dict(type='EpochSeedHook'),
                dict(type='FASAHook')]
runner = dict(type='EpochBasedRunner', max_epochs=2)
evaluation = dict(interval=2)
