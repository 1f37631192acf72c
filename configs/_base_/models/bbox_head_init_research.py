# The bbox head initialisation of the research runs, for mmdet 2.28's ConvFCBBoxHead family.
#
# The research (kostas1515/iif: mmdet fork 2.16.0+e68bc71, mmcv 1.3.8) leaves init_cfg unset
# in its FASA and cosine configs, so ConvFCBBoxHead (fork: mmdet/models/roi_heads/bbox_heads/
# convfc_bbox_head.py L99-109, after bbox_head.py L83-94) uses, in this order:
#   Normal(std 0.01) on fc_cls, Normal(std 0.001) on fc_reg, then
#   Xavier(layer='Linear', gain 1, distribution 'normal', bias 0) on the whole head plus the
#   override shared_fcs / cls_fcs / reg_fcs.
# mmcv 1.3.8 applies a 'layer' initialiser to every module whose class or direct base class is
# named Linear, so the Xavier step also re-initialises fc_cls and fc_reg. Then mmcv calls the
# children's own init_weights: a NormedLinear (cosine) fc_cls draws N(0, 0.01) again, bias 0.
# Result (fan_in, fan_out of each layer; std = sqrt(2 / (fan_in + fan_out)), biases 0):
#   shared_fcs.0 (256*7*7 -> 1024) 0.01214, shared_fcs.1 (1024 -> 1024) 0.03125,
#   fc_reg (1024 -> 4*1203) 0.01851, fc_cls Linear (1024 -> 1204) 0.02996,
#   fc_cls NormedLinear / IIFNormedLinear 0.01.
# mmdet 2.28's own default differs (Xavier-uniform on the shared FCs only; fc_reg
# Normal(0.001)); the list below, given as init_cfg, restores the research's. With mmcv 1.7.2
# it gives the same result (tests/test_head_init.py checks the std and bias of every layer).
# Use it with  _base_ = [..., '<path>/_base_/models/bbox_head_init_research.py']  and
#   bbox_head=dict(init_cfg={{_base_.bbox_head_init_research}})
bbox_head_init_research = [
    dict(type='Normal', std=0.01, override=dict(name='fc_cls')),
    dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
    dict(type='Xavier', layer='Linear', gain=1, distribution='normal', bias=0,
         override=[dict(name='shared_fcs'), dict(name='cls_fcs'), dict(name='reg_fcs')]),
]
