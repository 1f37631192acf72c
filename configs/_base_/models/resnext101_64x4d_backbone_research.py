# The ResNeXt-101 64x4d backbone of the kit's X101 configs (IIF and softmax): the research's
# open-mmlab ImageNet weights from a local file, or the named torchvision deviation (see the
# header of configs/iif/iif_x101_64x4d_fpn_4x4_1x_lvis_v1.py). The other backbone settings come
# from the R50 model it replaces.
# Use with  _base_ = [..., '<path>/_base_/models/resnext101_64x4d_backbone_research.py']  and
#   model = dict(backbone={{_base_.resnext101_64x4d_backbone}})
resnext101_64x4d_backbone = dict(
    type='LocalPretrainedResNeXt', depth=101, groups=64, base_width=4,
    checkpoint_hint=' (the open-mmlab ImageNet ResNeXt-101 64x4d that the research used: '
                    'resnext101_64x4d-ee2c6f71.pth)',
    alternatives=('torchvision://resnext101_64x4d.imagenet1k_v1',),
    init_cfg=dict(type='Pretrained', checkpoint=None))
