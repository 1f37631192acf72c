"""FASACascadeRoIHead: Cascade (Mask) R-CNN whose stages use FASA bbox heads.

The kit's FASA heads keep the classifier input of their last forward pass themselves (see
:class:`iif.models.fasa.FASAMixin`), so mmdet's CascadeRoIHead drives them unchanged: each
stage runs its head's forward and then its loss on the same RoIs, training statistics and
virtual features stay per stage, and in the validation pass of the FASA workflow every stage
accumulates its own losses. (The research code needed its own cascade RoI head because its FASA
heads return the classifier input from forward; the kit's do not.)

What this class adds is a check at construction, so that a config mistake stops with a
message instead of training a cascade whose stages silently differ from the intended one:
every stage's bbox head must be a FASA head, and all stages must share one ``fasa_cfg`` rule
set (the research's cascade config gives the three stages the same settings).
FASAHook finds every stage's head and drives it like the head of a two-stage detector; each
stage draws its virtual features from its own generator stream.
"""
from __future__ import annotations

from mmdet.models.builder import HEADS
from mmdet.models.roi_heads import CascadeRoIHead

from .fasa import FASAConfigError, FASAMixin


@HEADS.register_module()
class FASACascadeRoIHead(CascadeRoIHead):
    """mmdet's CascadeRoIHead with a FASA bbox head in every stage (arguments as
    CascadeRoIHead's; ``bbox_head`` a list of ``FASAShared2FCBBoxHead`` /
    ``FASAConvFCBBoxHead`` configs, one per stage, or one config for all stages)."""

    def init_bbox_head(self, bbox_roi_extractor, bbox_head):
        super().init_bbox_head(bbox_roi_extractor, bbox_head)
        plain = [f'stage {i} ({type(head).__name__})' for i, head in enumerate(self.bbox_head)
                 if not isinstance(head, FASAMixin)]
        if plain:
            raise FASAConfigError(
                f'FASACascadeRoIHead needs a FASA bbox head in every stage, but '
                f'{", ".join(plain)} is not; use type=\'FASAShared2FCBBoxHead\' for every '
                "stage, or type='CascadeRoIHead' for a cascade without FASA")
        rules = [head.fasa_cfg for head in self.bbox_head]
        differing = sorted(k for k in rules[0] if any(r[k] != rules[0][k] for r in rules[1:]))
        if differing:
            raise FASAConfigError(
                f'FASACascadeRoIHead: the stages\' fasa_cfg differ in {differing}; give every '
                'stage the same fasa_cfg (or use CascadeRoIHead with FASA heads if the '
                'difference is intended)')
